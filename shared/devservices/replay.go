package devservices

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WaitReplay waits until the replica at replicaURL has replayed all WAL the primary at primaryURL
// had written when WaitReplay was called, so that a test can read its own writes on the replica.
// It polls; it returns ctx's error if ctx ends first, and an error if replicaURL is not a standby.
//
// The primary's position is pg_current_wal_insert_lsn(), not pg_current_wal_lsn(): with
// synchronous_commit off a committed transaction's WAL may still sit in the WAL buffers, past the
// write position, and waiting for the write position alone could return before that commit
// reaches the replica.
func WaitReplay(ctx context.Context, primaryURL, replicaURL string) error {
	primary, err := connectSimple(ctx, primaryURL)
	if err != nil {
		return fmt.Errorf("wait replay: primary: %w", err)
	}
	var target string
	err = primary.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&target)
	primary.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("wait replay: primary position: %w", err)
	}
	replica, err := connectSimple(ctx, replicaURL)
	if err != nil {
		return fmt.Errorf("wait replay: replica: %w", err)
	}
	defer replica.Close(context.WithoutCancel(ctx))
	for {
		var done *bool
		err := replica.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", target).Scan(&done)
		if err != nil {
			return fmt.Errorf("wait replay: replica position: %w", err)
		}
		if done == nil {
			return errors.New("wait replay: the replica URL points to a server that is not in recovery")
		}
		if *done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait replay: replica has not reached %s: %w", target, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// connectSimple connects with the simple query protocol, which needs no prepared statements and
// so also works through a transaction-mode pooler, should a caller pass pooler URLs.
func connectSimple(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}
