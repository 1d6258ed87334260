-- The bridge to two migration folders (migrations/README.md). Until now one folder, recorded in
-- d1_migrations, also created the control database's own tables: dashboard_sessions and
-- sign_in_attempts (0003_dashboard_sessions.sql), portal_links (0008_portal.sql). Those files
-- now live in migrations/control, recorded in d1_migrations_control, applied after this folder. A database that already has a
-- table is marked as having applied the control migration that created it, so upgrading in place
-- never runs one twice; a new database has none of them, and the control folder creates them.
-- The table is wrangler's own migrations table, created as `d1 migrations apply` would.
CREATE TABLE IF NOT EXISTS d1_migrations_control(
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		name       TEXT UNIQUE,
		applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);
--> statement-breakpoint
INSERT OR IGNORE INTO d1_migrations_control (name)
	SELECT '0003_dashboard_sessions.sql' FROM sqlite_master WHERE type = 'table' AND name = 'sign_in_attempts';
--> statement-breakpoint
INSERT OR IGNORE INTO d1_migrations_control (name)
	SELECT '0008_portal.sql' FROM sqlite_master WHERE type = 'table' AND name = 'portal_links';
