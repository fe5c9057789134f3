-- What the reconciler needs to find work the broker may have lost (a broker that restarted without
-- flushing, a relay killed between publish and delete) without fighting the retry schedule.

-- When the broker is due to bring a released delivery back (now + the back-off): a pending row is only
-- overdue once this time has passed by NOTIFY_RECONCILE_AFTER. republishes counts the reconciler's
-- copies (their msgIDs are <id>:reconcile:<n>) and spaces further copies out.
ALTER TABLE deliveries
  ADD COLUMN IF NOT EXISTS retry_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS republishes INT NOT NULL DEFAULT 0;

ALTER TABLE notifications
  ADD COLUMN IF NOT EXISTS republishes INT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS republished_at DATETIME(3) NULL;

-- "Is this accepted notification still waiting in the outbox?" is asked by msg_id.
CREATE INDEX IF NOT EXISTS ix_outbox_msg ON outbox (msg_id);
