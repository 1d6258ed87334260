-- Moving an account to another data shard (src/delivery/account-move.ts). On the control
-- database `moving_to` is the shard a running move goes to (a second move is refused while it is
-- set); on a shard's copy of the account row it says the account is frozen there: its emits and
-- writes wait, and its deliveries are not claimed.
ALTER TABLE `accounts` ADD `moving_to` integer;
