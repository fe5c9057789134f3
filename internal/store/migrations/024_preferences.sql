-- What each user agreed to receive. A user without rows gets the defaults of preference_defaults.
-- Transactional notifications are never blocked by preferences (the code enforces it), so the seed
-- rows for them only document the fact.

-- Platform defaults per category and channel; channel '*' covers every channel without its own row.
CREATE TABLE IF NOT EXISTS preference_defaults (
  category VARCHAR(32) NOT NULL,
  channel VARCHAR(32) CHARACTER SET ascii NOT NULL,
  enabled TINYINT(1) NOT NULL,
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (category, channel)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO preference_defaults (category, channel, enabled) VALUES
  ('transactional', '*', 1),
  ('service', '*', 1),
  ('marketing', '*', 1);

-- One row per user who changed anything. version is the etag: every change adds one, and an Update
-- that names an older version is refused. Quiet hours are seconds after local midnight in time_zone.
CREATE TABLE IF NOT EXISTS user_preferences (
  user_id VARCHAR(64) NOT NULL PRIMARY KEY,
  all_off TINYINT(1) NOT NULL DEFAULT 0,
  time_zone VARCHAR(64) NOT NULL DEFAULT '',
  locale VARCHAR(16) NOT NULL DEFAULT '',
  quiet_start INT NULL,
  quiet_end INT NULL,
  version INT NOT NULL DEFAULT 0,
  updated_at DATETIME(3) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A user's switches: category '*' is the switch of a whole channel.
CREATE TABLE IF NOT EXISTS user_channel_preferences (
  user_id VARCHAR(64) NOT NULL,
  category VARCHAR(32) NOT NULL,
  channel VARCHAR(32) CHARACTER SET ascii NOT NULL,
  enabled TINYINT(1) NOT NULL,
  PRIMARY KEY (user_id, category, channel)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
