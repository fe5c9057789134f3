-- Admin panel: people who sign in to the browser admin (roles admin / manager / viewer), their sessions,
-- and sign-in attempts (for the lockout after repeated failures).

CREATE TABLE IF NOT EXISTS admin_users (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  email VARCHAR(254) NOT NULL,
  name VARCHAR(200) NOT NULL DEFAULT '',
  role VARCHAR(16) CHARACTER SET ascii NOT NULL,
  -- scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>
  password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
  disabled TINYINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  last_sign_in_at DATETIME(3) NULL,
  UNIQUE KEY uq_admin_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Only a hash of the cookie's token is stored, so a database dump does not hand out sessions.
CREATE TABLE IF NOT EXISTS admin_sessions (
  token_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  user_id CHAR(36) CHARACTER SET ascii NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at DATETIME(3) NOT NULL,
  user_agent VARCHAR(255) NOT NULL DEFAULT '',
  KEY ix_admin_sessions_user (user_id),
  KEY ix_admin_sessions_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS admin_sign_in_attempts (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(254) NOT NULL,
  at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  ok TINYINT NOT NULL,
  KEY ix_admin_sign_in_attempts_email (email, at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The admin's notification search finds mail sent to a bare address by its recipient.
ALTER TABLE deliveries ADD INDEX IF NOT EXISTS ix_deliveries_recipient (recipient, created_at);
