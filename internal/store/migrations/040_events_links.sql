-- Events from the site, their trigger rules, aggregation, the weekly digest's inputs, confirmation
-- links and run-time settings.

-- Inputs of the weekly digest (film_added...), read by the campaign area. The shape is shared with it.
CREATE TABLE IF NOT EXISTS digest_items (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(64) NOT NULL,
  payload LONGTEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  KEY ix_digest_items_kind (kind, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Event type -> what to send. condition_json is an equality map (see trigger_service.proto);
-- action 1 = send a notification, 2 = store a digest item.
CREATE TABLE IF NOT EXISTS trigger_rules (
  id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  event_type VARCHAR(64) NOT NULL,
  name VARCHAR(200) NOT NULL DEFAULT '',
  action TINYINT NOT NULL DEFAULT 1,
  template_key VARCHAR(100) NOT NULL DEFAULT '',
  channels VARCHAR(200) NOT NULL DEFAULT '',
  category VARCHAR(32) NOT NULL DEFAULT '',
  condition_json TEXT NOT NULL,
  delay_seconds INT UNSIGNED NOT NULL DEFAULT 0,
  aggregate_window_seconds INT UNSIGNED NOT NULL DEFAULT 0,
  enabled TINYINT(1) NOT NULL DEFAULT 1,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_by VARCHAR(100) NOT NULL DEFAULT '',
  KEY ix_trigger_rules_type (event_type, enabled)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Which rule already consumed which event, for the actions that are not deduplicated by the
-- notification idempotency key (aggregation counts, digest items). Pruned after 30 days.
CREATE TABLE IF NOT EXISTS event_receipts (
  rule_id INT UNSIGNED NOT NULL,
  event_id VARCHAR(128) CHARACTER SET ascii NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (rule_id, event_id),
  KEY ix_event_receipts_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One counting window per (rule, user). open_flag is 1 while the window counts and NULL once it
-- closed: NULLs never collide in the unique key, so at most one window per user is open and
-- concurrent events for that user meet on the same row (INSERT ... ON DUPLICATE KEY UPDATE).
CREATE TABLE IF NOT EXISTS event_aggregates (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  rule_id INT UNSIGNED NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  open_flag TINYINT NULL,
  event_count INT NOT NULL,
  data MEDIUMTEXT NOT NULL,
  last_event_id VARCHAR(128) CHARACTER SET ascii NOT NULL,
  window_start DATETIME(3) NOT NULL,
  due_at DATETIME(3) NOT NULL,
  closed_at DATETIME(3) NULL,
  notification_id CHAR(36) CHARACTER SET ascii NULL,
  UNIQUE KEY uq_event_aggregates_open (rule_id, user_id, open_flag),
  KEY ix_event_aggregates_due (open_flag, due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Counters per event type (received, matched no rule, dead-lettered), added to in batches.
CREATE TABLE IF NOT EXISTS event_counts (
  event_type VARCHAR(64) NOT NULL PRIMARY KEY,
  received BIGINT UNSIGNED NOT NULL DEFAULT 0,
  unmatched BIGINT UNSIGNED NOT NULL DEFAULT 0,
  dead BIGINT UNSIGNED NOT NULL DEFAULT 0,
  last_at DATETIME(3) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Short links (/l/{code}). Only the sha256 of the code is stored, so a database leak does not leak
-- working links. confirm_state: pending -> confirming (one request won the claim and is calling the
-- user service) -> confirmed; a failed call puts it back to pending.
CREATE TABLE IF NOT EXISTS links (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  code_hash CHAR(64) CHARACTER SET ascii NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  purpose VARCHAR(32) NOT NULL,
  redirect_url VARCHAR(2048) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  confirm_state VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'pending',
  claim_token CHAR(36) CHARACTER SET ascii NULL,
  claimed_at DATETIME(3) NULL,
  confirmed_at DATETIME(3) NULL,
  visits INT NOT NULL DEFAULT 0,
  first_visit_at DATETIME(3) NULL,
  last_visit_at DATETIME(3) NULL,
  UNIQUE KEY uq_links_code (code_hash),
  KEY ix_links_user (user_id, purpose, expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Run-time settings (SettingsService), any area's: key -> JSON value. Defaults live in code, so a
-- missing row means "the default".
CREATE TABLE IF NOT EXISTS settings (
  `key` VARCHAR(100) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  value LONGTEXT NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  updated_by VARCHAR(100) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
