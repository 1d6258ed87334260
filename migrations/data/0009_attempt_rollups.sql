-- Attempts rolled up per subscription and UTC hour (src/delivery/rollup.ts): counts by outcome,
-- deliveries whose series ended failed, and attempt durations as a histogram (column ms_<floor>
-- counts durations from <floor> ms to the next column's floor; src/core/duration-histogram.ts).
-- Keyed by account first, so an account's rows are one range; no other index.
CREATE TABLE `attempt_rollups` (
	`account_id` text NOT NULL,
	`subscription_id` text NOT NULL,
	`hour` integer NOT NULL,
	`attempts` integer NOT NULL,
	`succeeded` integer NOT NULL,
	`http_status` integer NOT NULL,
	`timeout` integer NOT NULL,
	`network` integer NOT NULL,
	`deliveries_failed` integer NOT NULL,
	`max_ms` integer NOT NULL,
	`ms_0` integer DEFAULT 0 NOT NULL,
	`ms_1` integer DEFAULT 0 NOT NULL,
	`ms_2` integer DEFAULT 0 NOT NULL,
	`ms_3` integer DEFAULT 0 NOT NULL,
	`ms_4` integer DEFAULT 0 NOT NULL,
	`ms_6` integer DEFAULT 0 NOT NULL,
	`ms_8` integer DEFAULT 0 NOT NULL,
	`ms_12` integer DEFAULT 0 NOT NULL,
	`ms_16` integer DEFAULT 0 NOT NULL,
	`ms_24` integer DEFAULT 0 NOT NULL,
	`ms_32` integer DEFAULT 0 NOT NULL,
	`ms_48` integer DEFAULT 0 NOT NULL,
	`ms_64` integer DEFAULT 0 NOT NULL,
	`ms_96` integer DEFAULT 0 NOT NULL,
	`ms_128` integer DEFAULT 0 NOT NULL,
	`ms_192` integer DEFAULT 0 NOT NULL,
	`ms_256` integer DEFAULT 0 NOT NULL,
	`ms_384` integer DEFAULT 0 NOT NULL,
	`ms_512` integer DEFAULT 0 NOT NULL,
	`ms_768` integer DEFAULT 0 NOT NULL,
	`ms_1024` integer DEFAULT 0 NOT NULL,
	`ms_1536` integer DEFAULT 0 NOT NULL,
	`ms_2048` integer DEFAULT 0 NOT NULL,
	`ms_3072` integer DEFAULT 0 NOT NULL,
	`ms_4096` integer DEFAULT 0 NOT NULL,
	`ms_6144` integer DEFAULT 0 NOT NULL,
	`ms_8192` integer DEFAULT 0 NOT NULL,
	`ms_12288` integer DEFAULT 0 NOT NULL,
	`ms_16384` integer DEFAULT 0 NOT NULL,
	`ms_24576` integer DEFAULT 0 NOT NULL,
	`ms_32768` integer DEFAULT 0 NOT NULL,
	`ms_49152` integer DEFAULT 0 NOT NULL,
	`ms_65536` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`account_id`, `subscription_id`, `hour`)
) WITHOUT ROWID;
--> statement-breakpoint
-- The log of the last 8 days (the rollups' retention), rolled up once so the stats match it from the start:
-- earlier attempts from `attempts`, each delivery's latest from its `last_attempt` (a JSON array:
-- id, number, started_at, duration_ms, outcome, ...).
INSERT INTO `attempt_rollups` (`account_id`, `subscription_id`, `hour`, `attempts`, `succeeded`, `http_status`, `timeout`,
	`network`, `deliveries_failed`, `max_ms`, `ms_0`, `ms_1`, `ms_2`, `ms_3`, `ms_4`, `ms_6`, `ms_8`, `ms_12`, `ms_16`, `ms_24`, `ms_32`, `ms_48`, `ms_64`, `ms_96`, `ms_128`, `ms_192`, `ms_256`, `ms_384`, `ms_512`, `ms_768`, `ms_1024`, `ms_1536`, `ms_2048`, `ms_3072`, `ms_4096`, `ms_6144`, `ms_8192`, `ms_12288`, `ms_16384`, `ms_24576`, `ms_32768`, `ms_49152`, `ms_65536`)
SELECT d.`account_id`, d.`subscription_id`, a.started_at - a.started_at % 3600000, count(*), sum(a.outcome = 'success'),
	sum(a.outcome = 'http_status'), sum(a.outcome = 'timeout'), sum(a.outcome = 'network'), sum(a.ended_failed), max(a.duration_ms),
	sum(a.duration_ms >= 0 AND a.duration_ms < 1),
	sum(a.duration_ms >= 1 AND a.duration_ms < 2),
	sum(a.duration_ms >= 2 AND a.duration_ms < 3),
	sum(a.duration_ms >= 3 AND a.duration_ms < 4),
	sum(a.duration_ms >= 4 AND a.duration_ms < 6),
	sum(a.duration_ms >= 6 AND a.duration_ms < 8),
	sum(a.duration_ms >= 8 AND a.duration_ms < 12),
	sum(a.duration_ms >= 12 AND a.duration_ms < 16),
	sum(a.duration_ms >= 16 AND a.duration_ms < 24),
	sum(a.duration_ms >= 24 AND a.duration_ms < 32),
	sum(a.duration_ms >= 32 AND a.duration_ms < 48),
	sum(a.duration_ms >= 48 AND a.duration_ms < 64),
	sum(a.duration_ms >= 64 AND a.duration_ms < 96),
	sum(a.duration_ms >= 96 AND a.duration_ms < 128),
	sum(a.duration_ms >= 128 AND a.duration_ms < 192),
	sum(a.duration_ms >= 192 AND a.duration_ms < 256),
	sum(a.duration_ms >= 256 AND a.duration_ms < 384),
	sum(a.duration_ms >= 384 AND a.duration_ms < 512),
	sum(a.duration_ms >= 512 AND a.duration_ms < 768),
	sum(a.duration_ms >= 768 AND a.duration_ms < 1024),
	sum(a.duration_ms >= 1024 AND a.duration_ms < 1536),
	sum(a.duration_ms >= 1536 AND a.duration_ms < 2048),
	sum(a.duration_ms >= 2048 AND a.duration_ms < 3072),
	sum(a.duration_ms >= 3072 AND a.duration_ms < 4096),
	sum(a.duration_ms >= 4096 AND a.duration_ms < 6144),
	sum(a.duration_ms >= 6144 AND a.duration_ms < 8192),
	sum(a.duration_ms >= 8192 AND a.duration_ms < 12288),
	sum(a.duration_ms >= 12288 AND a.duration_ms < 16384),
	sum(a.duration_ms >= 16384 AND a.duration_ms < 24576),
	sum(a.duration_ms >= 24576 AND a.duration_ms < 32768),
	sum(a.duration_ms >= 32768 AND a.duration_ms < 49152),
	sum(a.duration_ms >= 49152 AND a.duration_ms < 65536),
	sum(a.duration_ms >= 65536)
FROM (
	SELECT `delivery_id`, `started_at`, `duration_ms`, `outcome`, 0 AS ended_failed FROM `attempts`
	UNION ALL
	SELECT `id`, `last_attempt` ->> 2, `last_attempt` ->> 3, `last_attempt` ->> 4, `status` = 'failed' FROM `deliveries`
	WHERE `last_attempt` IS NOT NULL
) AS a JOIN `deliveries` d ON d.`id` = a.`delivery_id`
WHERE a.started_at >= (CAST(strftime('%s', 'now') AS INTEGER) - 8 * 86400) * 1000
GROUP BY 1, 2, 3;
