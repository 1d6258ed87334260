-- The data shard each account lives on (src/db/shards.ts): 0, the database this is, for every
-- account so far. Set when the account is created, from then on the same.
ALTER TABLE `accounts` ADD `shard` integer DEFAULT 0 NOT NULL;
