CREATE TABLE `listen_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `listen_sessions_account` ON `listen_sessions` (`account_id`);--> statement-breakpoint
ALTER TABLE `subscriptions` ADD `listen_session_id` text;--> statement-breakpoint
CREATE INDEX `subscriptions_listen` ON `subscriptions` (`listen_session_id`) WHERE "subscriptions"."listen_session_id" IS NOT NULL;