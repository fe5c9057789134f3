-- Templates, their immutable versions, per-locale contents, and the shared layouts they render into.
-- A version is never updated once inserted: a notification pins template_versions.id at Send, and the
-- worker renders exactly that row, whatever was published since. Versions pin a layout version the
-- same way (layout_id), so editing the layout does not change mail already accepted either.

-- One row per layout version; a new CreateLayout with an existing key adds version n+1.
CREATE TABLE IF NOT EXISTS layouts (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  layout_key VARCHAR(100) NOT NULL,
  version INT NOT NULL,
  name VARCHAR(200) NOT NULL DEFAULT '',
  description VARCHAR(2000) NOT NULL DEFAULT '',
  default_locale VARCHAR(16) NOT NULL,
  -- {"en": {"html": "...", "text": "..."}, "ru": {...}}
  contents LONGTEXT NOT NULL CHECK (JSON_VALID(contents)),
  created_by VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_layouts_key_version (layout_key, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Metadata shared by all versions. current_version_id is what Send pins when no version is asked for.
CREATE TABLE IF NOT EXISTS templates (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  template_key VARCHAR(100) NOT NULL,
  name VARCHAR(200) NOT NULL DEFAULT '',
  description VARCHAR(2000) NOT NULL DEFAULT '',
  current_version_id BIGINT NULL,
  latest_version INT NOT NULL DEFAULT 0,
  archived_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_templates_key (template_key),
  KEY ix_templates_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Everything that decides how a notification looks lives on the version (category, channels,
-- default locale, variable schema, layout pin), so a pinned version is self-contained.
CREATE TABLE IF NOT EXISTS template_versions (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  template_id BIGINT NOT NULL,
  version INT NOT NULL,
  category VARCHAR(32) NOT NULL,
  -- ["email", "websocket"]
  channels VARCHAR(200) NOT NULL CHECK (JSON_VALID(channels)),
  default_locale VARCHAR(16) NOT NULL,
  -- [{"name": "film_title", "type": "string", "required": true, "sample": "Dune", "description": "..."}]
  variables LONGTEXT NOT NULL CHECK (JSON_VALID(variables)),
  layout_id BIGINT NULL,
  note VARCHAR(1000) NOT NULL DEFAULT '',
  created_by VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_template_versions (template_id, version),
  CONSTRAINT fk_template_versions_template FOREIGN KEY (template_id) REFERENCES templates (id),
  CONSTRAINT fk_template_versions_layout FOREIGN KEY (layout_id) REFERENCES layouts (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Mustache sources of one version in one locale, keyed by part name: {"subject": "...", "html": "..."}.
CREATE TABLE IF NOT EXISTS template_contents (
  version_id BIGINT NOT NULL,
  locale VARCHAR(16) NOT NULL,
  parts LONGTEXT NOT NULL CHECK (JSON_VALID(parts)),
  PRIMARY KEY (version_id, locale),
  CONSTRAINT fk_template_contents_version FOREIGN KEY (version_id) REFERENCES template_versions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
