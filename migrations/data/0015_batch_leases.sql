-- A consumer batch claims its deliveries with one row here instead of an UPDATE of each
-- delivery: one row written per batch, not one per delivery. `held` lists, per delivery,
-- [id, lease end, attempts_count when claimed]; a delivery is in flight while a lease holds it
-- at its current attempts_count (src/delivery/lifecycle.ts heldSql). A slot is reused by the
-- consumer batches of one isolate, one at a time; the sweep drops slots idle for an hour.
CREATE TABLE `leases` (
	`slot` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL,
	`until` integer NOT NULL,
	`held` text NOT NULL
) WITHOUT ROWID;
