package db

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what a store needs to run SQL. *Pool, *pgxpool.Pool and pgx.Tx all satisfy it, so a
// store method works the same inside and outside a transaction. Begin on a pgx.Tx starts a
// savepoint.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	Begin(ctx context.Context) (pgx.Tx, error)
}

// TxBeginner starts transactions with options; *Pool and *pgxpool.Pool satisfy it.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

var (
	_ DBTX       = (*Pool)(nil)
	_ DBTX       = (*pgxpool.Pool)(nil)
	_ DBTX       = (pgx.Tx)(nil)
	_ TxBeginner = (*Pool)(nil)
)
