-- A new delivery is stored with no next_attempt_at (due when created), so it writes no entry in
-- the index deliveries_due: one row fewer per delivery. The sweep scans the deliveries created
-- since its last scan (through deliveries_subscription) and gives a next_attempt_at to each still
-- unfinished after a grace, so a lost message or an expired lease is found as before
-- (src/delivery/lifecycle.ts promoteFreshStatements). `sweep_marks` keeps where that scan ended.
-- Deliveries written before this migration all have their next_attempt_at: the mark starts now.
CREATE TABLE `sweep_marks` (
	`name` text PRIMARY KEY NOT NULL,
	`at` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `sweep_marks` (`name`, `at`) VALUES ('fresh', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
