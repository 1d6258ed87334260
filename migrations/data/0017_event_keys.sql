-- Event ids are stored as the 16 bytes of their UUID (a blob) instead of the 40-character text
-- `evt_` + UUID: in the event's row, its events_account entry and every delivery's event_id,
-- 24 bytes fewer each (src/db/event-keys.ts converts at the edges). A row whose id is not a
-- well-formed event id keeps it as it is. Each row is rewritten once.
UPDATE `events` SET `id` = coalesce(unhex(replace(substr(`id`, 5), '-', '')), `id`)
	WHERE substr(`id`, 1, 4) = 'evt_' AND length(`id`) = 40;
--> statement-breakpoint
UPDATE `deliveries` SET `event_id` = coalesce(unhex(replace(substr(`event_id`, 5), '-', '')), `event_id`)
	WHERE substr(`event_id`, 1, 4) = 'evt_' AND length(`event_id`) = 40;
