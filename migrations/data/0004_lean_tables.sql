-- The log's tables keyed by their primary key itself (WITHOUT ROWID): a rowid table with a
-- text key keeps a second B-tree for that key, one more row written (and billed) per insert.
-- Rebuilt in place, data kept; columns, constraints and indexes as before.
CREATE TABLE `events_lean` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`type` text NOT NULL,
	`subject` text,
	`data` text NOT NULL,
	`timestamp` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `events_lean` SELECT `id`, `account_id`, `type`, `subject`, `data`, `timestamp`, `created_at` FROM `events`;
--> statement-breakpoint
DROP TABLE `events`;
--> statement-breakpoint
ALTER TABLE `events_lean` RENAME TO `events`;
--> statement-breakpoint
CREATE INDEX `events_account` ON `events` (`account_id`,`created_at`);
--> statement-breakpoint
CREATE TABLE `deliveries_lean` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`account_id` text NOT NULL,
	`status` text NOT NULL,
	`attempts_count` integer DEFAULT 0 NOT NULL,
	`series_base` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`lease_until` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `deliveries_lean` SELECT `id`, `event_id`, `subscription_id`, `account_id`, `status`, `attempts_count`,
	`series_base`, `next_attempt_at`, `lease_until`, `created_at`, `updated_at` FROM `deliveries`;
--> statement-breakpoint
DROP TABLE `deliveries`;
--> statement-breakpoint
ALTER TABLE `deliveries_lean` RENAME TO `deliveries`;
--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `deliveries` (`next_attempt_at`) WHERE "deliveries"."next_attempt_at" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX `deliveries_subscription` ON `deliveries` (`subscription_id`,`created_at`);
--> statement-breakpoint
CREATE INDEX `deliveries_event` ON `deliveries` (`event_id`);
--> statement-breakpoint
CREATE TABLE `attempts_lean` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`number` integer NOT NULL,
	`started_at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`outcome` text NOT NULL,
	`status_code` integer,
	`error` text,
	`response_headers` text,
	`response_body` text
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `attempts_lean` SELECT `id`, `delivery_id`, `number`, `started_at`, `duration_ms`, `outcome`, `status_code`,
	`error`, `response_headers`, `response_body` FROM `attempts`;
--> statement-breakpoint
DROP TABLE `attempts`;
--> statement-breakpoint
ALTER TABLE `attempts_lean` RENAME TO `attempts`;
--> statement-breakpoint
CREATE INDEX `attempts_delivery` ON `attempts` (`delivery_id`,`number`);
--> statement-breakpoint
CREATE TABLE `idempotency_keys_lean` (
	`account_id` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`response` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `key`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `idempotency_keys_lean` SELECT `account_id`, `key`, `request_hash`, `response`, `created_at` FROM `idempotency_keys`;
--> statement-breakpoint
DROP TABLE `idempotency_keys`;
--> statement-breakpoint
ALTER TABLE `idempotency_keys_lean` RENAME TO `idempotency_keys`;
