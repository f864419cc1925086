-- +goose Up
-- The cache's fence (shared/cache, Epochs): one row whose epoch every cache key carries. An
-- invalidation that fails in Redis after its write committed advances it, which retires every
-- entry cached before, wherever Redis is and whatever it still holds. Its values are microseconds
-- since 1970, so a database created again never hands out an epoch that entries of an earlier
-- one, still in a Redis that kept its data, were written under.
CREATE TABLE cache_epoch (
    singleton boolean PRIMARY KEY DEFAULT true, -- the row is the one WHERE singleton
    epoch     bigint  NOT NULL
);
INSERT INTO cache_epoch (epoch) VALUES ((extract(epoch FROM clock_timestamp()) * 1000000)::bigint);

-- +goose Down
DROP TABLE cache_epoch;
