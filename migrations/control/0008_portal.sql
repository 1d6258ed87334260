-- Portal sessions: dashboard sessions opened by a one-time link, with no API key behind them.
-- dashboard_sessions is rebuilt in place with a kind and the account (key_id becomes optional),
-- its rows kept as key sessions; portal_links holds the links, by the SHA-256 of their token.
CREATE TABLE `dashboard_sessions_new` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`account_id` text NOT NULL,
	`key_id` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`key_id`) REFERENCES `api_keys`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "dashboard_sessions_kind" CHECK((`kind` = 'key' AND `key_id` IS NOT NULL) OR (`kind` = 'portal' AND `key_id` IS NULL))
);
--> statement-breakpoint
INSERT INTO `dashboard_sessions_new` (`id`, `kind`, `account_id`, `key_id`, `created_at`, `expires_at`)
	SELECT s.`id`, 'key', k.`account_id`, s.`key_id`, s.`created_at`, s.`expires_at`
	FROM `dashboard_sessions` s JOIN `api_keys` k ON k.`id` = s.`key_id`;
--> statement-breakpoint
DROP TABLE `dashboard_sessions`;
--> statement-breakpoint
ALTER TABLE `dashboard_sessions_new` RENAME TO `dashboard_sessions`;
--> statement-breakpoint
CREATE INDEX `dashboard_sessions_key` ON `dashboard_sessions` (`key_id`);
--> statement-breakpoint
CREATE INDEX `dashboard_sessions_account` ON `dashboard_sessions` (`account_id`,`kind`);
--> statement-breakpoint
CREATE TABLE `portal_links` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`session_id` text,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `portal_links_account` ON `portal_links` (`account_id`);
