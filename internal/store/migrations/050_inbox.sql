-- In-app inbox and mutes (websocket gateway, InboxService).
-- One inbox row per websocket delivery: the channel writes it before publishing, so a user who is
-- offline finds it on the next connect. delivery_id ties it to the ledger (acks and reads update the
-- delivery's status); seq orders the inbox and pages it.
CREATE TABLE IF NOT EXISTS inbox (
  seq BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  delivery_id CHAR(36) CHARACTER SET ascii NOT NULL,
  notification_id CHAR(36) CHARACTER SET ascii NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  category VARCHAR(32) NOT NULL,
  sender_id VARCHAR(64) NOT NULL DEFAULT '',
  template_key VARCHAR(100) NOT NULL DEFAULT '',
  title VARCHAR(1000) NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  delivered_at DATETIME(3) NULL,
  read_at DATETIME(3) NULL,
  UNIQUE KEY uq_inbox_delivery (delivery_id),
  KEY ix_inbox_user (user_id, seq),
  -- Unread counts and the unread backlog on connect: WHERE user_id = ? AND read_at IS NULL.
  KEY ix_inbox_unread (user_id, read_at, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- What a user no longer wants to hear about: kind 'sender' (another user, e.g. whose likes annoy) or
-- 'category' ('marketing', 'service'). The planner skips matching deliveries on every channel.
CREATE TABLE IF NOT EXISTS mutes (
  user_id VARCHAR(64) NOT NULL,
  kind VARCHAR(16) CHARACTER SET ascii NOT NULL,
  value VARCHAR(64) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (user_id, kind, value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
