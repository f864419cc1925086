package db

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi/shared/fault"
)

// txAttempts is how many times InTx runs fn when the database reports a serialization failure
// or a deadlock. Both mean "another transaction got there first; running again will likely
// succeed", and a few quick retries hide them from clients; more would only stretch latency.
const txAttempts = 3

// txBackoff is the base wait before the second attempt; it doubles each attempt and is jittered
// so that the two transactions that collided don't collide again.
const txBackoff = 5 * time.Millisecond

// InTx runs fn in a read-committed transaction on db; see InTxWith.
func InTx(ctx context.Context, db TxBeginner, fn func(tx pgx.Tx) error) error {
	return InTxWith(ctx, db, pgx.TxOptions{}, fn)
}

// InTxWith runs fn in a transaction with opts and commits it if fn returns nil; otherwise it rolls
// back. When fn or the commit fails with a serialization failure (40001) or a deadlock (40P01),
// the whole transaction runs again, up to three times in all, so fn must have no effects outside
// the transaction (do cache invalidation after InTx returns). The error returned, from fn, begin
// or commit, has been through Translate: a store can return it as is.
func InTxWith(ctx context.Context, db TxBeginner, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := range txAttempts {
		if attempt > 0 {
			wait := txBackoff << (attempt - 1)
			wait += rand.N(wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return Translate(fmt.Errorf("db: tx retry: %w", errors.Join(ctx.Err(), err)))
			case <-t.C:
			}
		}
		err = runTx(ctx, db, opts, fn)
		if err == nil || !retryable(err) {
			break
		}
	}
	return Translate(err)
}

func runTx(ctx context.Context, db TxBeginner, opts pgx.TxOptions, fn func(tx pgx.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	defer func() {
		// A panic in fn must not leave the transaction open on a pooled connection either.
		if p := recover(); p != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = tx.Rollback(rctx)
			panic(p)
		}
		if err != nil {
			// The rollback's own error is uninteresting: the connection either rolls back or is
			// broken, in which case pgx closes it and the pool replaces it. Use a context that
			// survives the caller's cancellation, or a cancelled request leaves the transaction
			// open on a pooled connection until pgx notices.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	return nil
}

// retryable reports whether err means the transaction lost a race and may succeed if run again.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return fault.CodeOf(err) == fault.Retry
}
