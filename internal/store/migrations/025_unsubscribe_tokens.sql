-- One-click unsubscribe tokens (/u/{token}). The token itself (128 random bits) is only ever in the
-- mail; the table keeps its SHA-256, so a database leak does not let anyone unsubscribe others.
-- A token belongs to one delivery and is scoped to a user (or a bare address) and a category.
CREATE TABLE IF NOT EXISTS unsubscribe_tokens (
  token_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  user_id VARCHAR(64) NOT NULL DEFAULT '',
  address VARCHAR(254) NOT NULL DEFAULT '',
  category VARCHAR(32) NOT NULL,
  locale VARCHAR(16) NOT NULL DEFAULT '',
  delivery_id CHAR(36) CHARACTER SET ascii NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at DATETIME(3) NOT NULL,
  used_at DATETIME(3) NULL,
  KEY ix_unsubscribe_tokens_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
