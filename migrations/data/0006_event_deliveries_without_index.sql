-- An event's deliveries are found through its account's subscriptions (deliveries_subscription,
-- at the event's created_at, which its deliveries share), not through an index of their own:
-- one index entry fewer written, and about 90 bytes fewer stored, per delivery. A deleted
-- subscription's deliveries stay in the log until retention, so its id is kept here, by a
-- trigger that no way of deleting a subscription can miss; the purge drops it with its last delivery.
DROP INDEX `deliveries_event`;
--> statement-breakpoint
CREATE TABLE `deleted_subscriptions` (
	`account_id` text NOT NULL,
	`id` text NOT NULL,
	`deleted_at` integer NOT NULL,
	PRIMARY KEY(`account_id`, `id`)
) WITHOUT ROWID;
--> statement-breakpoint
INSERT INTO `deleted_subscriptions` (`account_id`, `id`, `deleted_at`)
	SELECT `account_id`, `subscription_id`, max(`updated_at`) FROM `deliveries`
	WHERE `subscription_id` NOT IN (SELECT `id` FROM `subscriptions`)
	GROUP BY `account_id`, `subscription_id`;
--> statement-breakpoint
CREATE TRIGGER `subscriptions_deleted` AFTER DELETE ON `subscriptions` BEGIN
	INSERT OR REPLACE INTO `deleted_subscriptions` (`account_id`, `id`, `deleted_at`)
	VALUES (old.`account_id`, old.`id`, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
END;
