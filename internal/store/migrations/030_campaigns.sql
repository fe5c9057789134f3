-- Campaigns: one template sent to an audience now, at a time or on a cron schedule, at a set rate.
-- status: 1 draft 2 scheduled 3 paused 4 completed 5 cancelled (= notify.v1.CampaignStatus).
-- audience_kind: 1 all 2 segment 3 user_ids. schedule_kind: 1 now 2 at 3 cron. misfire: 1 fire_once 2 skip.
-- next_occurrence_at is when a scheduler must next look at the campaign; planned_through is the
-- watermark up to which occurrences were turned into runs (so a restart neither loses nor repeats one).
CREATE TABLE IF NOT EXISTS campaigns (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  status TINYINT NOT NULL,
  generator VARCHAR(32) NOT NULL DEFAULT '',
  template_key VARCHAR(100) NOT NULL,
  template_version INT NOT NULL DEFAULT 0,
  channels VARCHAR(200) NOT NULL DEFAULT '',
  category VARCHAR(32) NOT NULL DEFAULT '',
  locale VARCHAR(16) NOT NULL DEFAULT '',
  data MEDIUMTEXT NOT NULL,
  audience_kind TINYINT NOT NULL,
  segment TEXT NOT NULL,
  audience_ids INT NOT NULL DEFAULT 0,
  schedule_kind TINYINT NOT NULL,
  schedule_at DATETIME(3) NULL,
  cron VARCHAR(120) NOT NULL DEFAULT '',
  time_zone VARCHAR(64) NOT NULL DEFAULT 'UTC',
  local_time TINYINT NOT NULL DEFAULT 0,
  end_at DATETIME(3) NULL,
  misfire TINYINT NOT NULL DEFAULT 1,
  rate INT NOT NULL,
  next_occurrence_at DATETIME(3) NULL,
  planned_through DATETIME(3) NULL,
  created_by VARCHAR(100) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_campaigns_due (status, next_occurrence_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Uploaded id lists; the primary key is what makes a repeated id count once.
CREATE TABLE IF NOT EXISTS campaign_audience_ids (
  campaign_id BIGINT NOT NULL,
  user_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
  PRIMARY KEY (campaign_id, user_id)
) ENGINE=InnoDB;

-- One row per occurrence (per time-zone group for local-time campaigns: zones whose local time falls
-- on the same instant share it). UNIQUE(campaign_id, occurrence_at) is what keeps two schedulers, or
-- a scheduler restarted after downtime, from running an occurrence twice. cursor is the fan-out's
-- checkpoint; owner + lease_until fence a fan-out that lost its lease.
-- status: 1 pending 2 running 3 completed 4 cancelled 5 skipped 6 failed (= notify.v1.RunStatus).
CREATE TABLE IF NOT EXISTS campaign_runs (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  campaign_id BIGINT NOT NULL,
  occurrence_at DATETIME(3) NOT NULL,
  time_zones TEXT NOT NULL,
  catch_all TINYINT NOT NULL DEFAULT 0,
  local_date CHAR(10) CHARACTER SET ascii NOT NULL DEFAULT '',
  status TINYINT NOT NULL,
  notification_id CHAR(36) CHARACTER SET ascii NULL,
  cursor_state TEXT NOT NULL,
  audience_total BIGINT NOT NULL DEFAULT 0,
  planned BIGINT NOT NULL DEFAULT 0,
  published BIGINT NOT NULL DEFAULT 0,
  owner VARCHAR(100) NOT NULL DEFAULT '',
  lease_until DATETIME(3) NULL,
  error VARCHAR(1000) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  started_at DATETIME(3) NULL,
  finished_at DATETIME(3) NULL,
  UNIQUE KEY uq_campaign_runs_occurrence (campaign_id, occurrence_at),
  KEY ix_campaign_runs_due (status, occurrence_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Material for digests. The event router (events area) inserts one row per film_added event; the
-- "new films this week" generator reads the last seven days of them.
CREATE TABLE IF NOT EXISTS digest_items (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind VARCHAR(32) CHARACTER SET ascii NOT NULL,
  payload MEDIUMTEXT NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY ix_digest_items_kind (kind, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Campaign progress counts one notification's deliveries by status about once a second; with this
-- index that is an index-only range scan instead of a primary-key lookup per delivery.
CREATE INDEX IF NOT EXISTS ix_deliveries_notification_status ON deliveries (notification_id, status);
