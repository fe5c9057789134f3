-- Messages that ran out of attempts or could not be decoded, kept for inspection and replay
-- (OpsService.ListDeadLetters / ReplayDeadLetters / PurgeDeadLetters). A copy also goes to the
-- NOTIFY_DLQ stream; this table is what operators query.
CREATE TABLE IF NOT EXISTS dead_letters (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  -- The channel whose worker gave up, or 'planner'.
  source VARCHAR(64) NOT NULL,
  -- max_deliveries | poison
  reason VARCHAR(32) NOT NULL,
  error VARCHAR(1000) NOT NULL DEFAULT '',
  delivery_id CHAR(36) CHARACTER SET ascii NULL,
  notification_id CHAR(36) CHARACTER SET ascii NULL,
  stream VARCHAR(64) CHARACTER SET ascii NOT NULL,
  stream_seq BIGINT NOT NULL,
  subject VARCHAR(200) CHARACTER SET ascii NOT NULL,
  -- When the broker stored the original message; with stream and seq it identifies the message even
  -- after a broker that lost data reuses sequence numbers.
  published_at DATETIME(3) NOT NULL,
  payload MEDIUMBLOB NOT NULL,
  -- How often the broker delivered it.
  deliveries INT NOT NULL DEFAULT 0,
  -- The last attempt may have reached the peer (its worker died mid-send): a replay counts as a
  -- possible duplicate.
  uncertain TINYINT NOT NULL DEFAULT 0,
  dlq_seq BIGINT NULL,
  replays INT NOT NULL DEFAULT 0,
  replayed_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY uq_dead_letters_msg (stream, stream_seq, published_at),
  KEY ix_dead_letters_created (created_at),
  KEY ix_dead_letters_source (source, created_at),
  KEY ix_dead_letters_delivery (delivery_id),
  KEY ix_dead_letters_notification (notification_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
