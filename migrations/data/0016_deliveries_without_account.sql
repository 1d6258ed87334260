-- A delivery's account is its subscription's (a subscription never changes account; a deleted
-- one stays in deleted_subscriptions while it has deliveries): the column only repeated it,
-- 41 bytes of every delivery's row. Readers find the account through the subscription
-- (src/delivery/lifecycle.ts deliveryOfAccountSql, deliveryAccountSql). SQLite rewrites the
-- table's rows once, keeping everything else.
ALTER TABLE `deliveries` DROP COLUMN `account_id`;
