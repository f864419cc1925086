package db

import (
	"context"
	"fmt"
)

// CacheEpochs is the cache's fence in PostgreSQL (cache.Epochs): the one row of table
// cache_epoch (migration 00007). Use the primary's pool: an epoch read from a replica could be
// older than an advance that has already been acknowledged.
type CacheEpochs struct {
	Pool *Pool
}

const loadEpochSQL = `SELECT epoch FROM cache_epoch WHERE singleton`

// Load returns the current epoch.
func (e CacheEpochs) Load(ctx context.Context) (int64, error) {
	var v int64
	if err := e.Pool.QueryRow(ctx, loadEpochSQL).Scan(&v); err != nil {
		return 0, fmt.Errorf("load cache epoch: %w", err)
	}
	return v, nil
}

// advanceEpochSQL moves the epoch to the current time in microseconds, or one past the last if
// the clock is behind it, so epochs only grow.
const advanceEpochSQL = `UPDATE cache_epoch
SET epoch = GREATEST(epoch + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
WHERE singleton
RETURNING epoch`

// Advance moves the epoch past every earlier one and returns the new one.
func (e CacheEpochs) Advance(ctx context.Context) (int64, error) {
	var v int64
	if err := e.Pool.QueryRow(ctx, advanceEpochSQL).Scan(&v); err != nil {
		return 0, fmt.Errorf("advance cache epoch: %w", err)
	}
	return v, nil
}
