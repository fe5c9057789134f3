-- Addresses mail must not go to. scope '*' blocks every category (hard bounces, complaints);
-- a category blocks only that one (a bare address that unsubscribed from marketing).
CREATE TABLE IF NOT EXISTS suppressions (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  address VARCHAR(254) NOT NULL,
  scope VARCHAR(32) NOT NULL DEFAULT '*',
  reason VARCHAR(32) NOT NULL,
  detail VARCHAR(1000) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_suppressions_address (address, scope)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
