-- Core ledger of the instant path: what was asked (notifications), what still has to reach the broker
-- (outbox), and what became of each recipient on each channel (deliveries + delivery_events).

CREATE TABLE IF NOT EXISTS api_keys (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  key_prefix CHAR(8) NOT NULL,
  key_hash CHAR(64) NOT NULL,
  scopes VARCHAR(200) NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_used_at DATETIME(3) NULL,
  revoked_at DATETIME(3) NULL,
  UNIQUE KEY uq_api_keys_hash (key_hash),
  UNIQUE KEY uq_api_keys_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS notifications (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  source VARCHAR(100) NOT NULL,
  idempotency_key VARCHAR(128) NOT NULL,
  payload_hash CHAR(64) CHARACTER SET ascii NOT NULL,
  template_key VARCHAR(100) NOT NULL,
  template_version INT NOT NULL,
  template_version_id BIGINT NOT NULL,
  category VARCHAR(32) NOT NULL,
  channels VARCHAR(200) NOT NULL,
  locale VARCHAR(16) NOT NULL DEFAULT '',
  sender_id VARCHAR(64) NOT NULL DEFAULT '',
  campaign_id BIGINT NULL,
  data MEDIUMTEXT NOT NULL,
  recipients MEDIUMTEXT NOT NULL,
  recipient_count INT NOT NULL,
  status TINYINT NOT NULL,
  send_after DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL,
  planned_at DATETIME(3) NULL,
  UNIQUE KEY uq_notifications_idem (source, idempotency_key),
  KEY ix_notifications_status (status, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Transactional outbox: written in the same transaction as the rows it announces, deleted once the
-- broker acknowledged the publish. msg_id is the broker's dedup id.
CREATE TABLE IF NOT EXISTS outbox (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  topic VARCHAR(200) CHARACTER SET ascii NOT NULL,
  msg_id VARCHAR(100) CHARACTER SET ascii NOT NULL,
  payload MEDIUMBLOB NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  available_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_outbox_available (available_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The delivery ledger. recipient is 'u:<user id>' or 'e:<address>', so a notification names each
-- recipient once per channel however often a message is redelivered.
CREATE TABLE IF NOT EXISTS deliveries (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  notification_id CHAR(36) CHARACTER SET ascii NOT NULL,
  recipient VARCHAR(330) NOT NULL,
  user_id VARCHAR(64) NOT NULL DEFAULT '',
  channel VARCHAR(32) CHARACTER SET ascii NOT NULL,
  status TINYINT NOT NULL,
  attempts INT NOT NULL DEFAULT 0,
  lease_until DATETIME(3) NULL,
  not_before DATETIME(3) NULL,
  last_error VARCHAR(1000) NOT NULL DEFAULT '',
  message_id VARCHAR(255) NOT NULL DEFAULT '',
  resent_after_uncertain INT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  sent_at DATETIME(3) NULL,
  UNIQUE KEY uq_deliveries_target (notification_id, recipient, channel),
  KEY ix_deliveries_user (user_id, created_at),
  KEY ix_deliveries_status (status, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS delivery_events (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  delivery_id CHAR(36) CHARACTER SET ascii NOT NULL,
  at DATETIME(3) NOT NULL,
  status TINYINT NOT NULL,
  detail VARCHAR(1000) NOT NULL DEFAULT '',
  KEY ix_delivery_events_delivery (delivery_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
