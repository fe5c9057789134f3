import type { JsonValue } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "nats";
import { invalid } from "../notification/validate.js";
import { withTx, type Db } from "../store/db.js";
import type { Logger } from "../log/logger.js";

/** One run-time setting: its key, default and validation. Areas declare theirs (see registry.ts). */
export interface SettingDef {
  key: string;
  description: string;
  default: JsonValue;
  /**
   * Checks a new value and returns it normalised, or throws an Error whose message says what is
   * wrong. `next(key)` reads any setting as it will be after the update (cross-setting checks).
   */
  validate(value: JsonValue, next: (key: string) => JsonValue): JsonValue;
}

export interface SettingView {
  key: string;
  value: JsonValue;
  defaultValue: JsonValue;
  description: string;
  isDefault: boolean;
  updatedAt?: Date;
  updatedBy: string;
}

export interface Settings {
  /** The current value (the default when unset). Cached for a few seconds; changes invalidate every node's cache. */
  get(key: string): Promise<JsonValue>;
  list(keys?: string[]): Promise<SettingView[]>;
  /** Validates every value first and writes all or nothing. null restores the default. */
  update(values: Record<string, JsonValue | null>, actor: string): Promise<SettingView[]>;
  invalidate(): void;
  close(): void;
}

export interface SettingsDeps {
  db: Db;
  defs: SettingDef[];
  log: Logger;
  ttlMs?: number;
  /** When given, updates are announced on `subject` so other nodes drop their cache at once. */
  nc?: NatsConnection;
  subject?: string;
}

interface Row {
  value: JsonValue;
  updatedAt: Date;
  updatedBy: string;
}

/**
 * Settings over the `settings` table (key -> JSON). The table is tiny, so the whole of it is cached
 * and reloaded after ttlMs; an update also tells every node over core NATS to reload at once.
 */
export function createSettings(d: SettingsDeps): Settings {
  const defs = new Map(d.defs.map((x) => [x.key, x]));
  const ttlMs = d.ttlMs ?? 5000;
  let cache: { rows: Map<string, Row>; until: number } | undefined;
  let loading: Promise<Map<string, Row>> | undefined;
  let sub: Subscription | undefined;
  if (d.nc && d.subject) {
    sub = d.nc.subscribe(d.subject);
    void (async () => {
      for await (const _ of sub!) cache = undefined;
    })().catch(() => undefined);
  }

  const load = async (): Promise<Map<string, Row>> => {
    if (cache && cache.until > Date.now()) return cache.rows;
    loading ??= (async () => {
      try {
        const [rows] = (await d.db.query("SELECT `key`, value, updated_at, updated_by FROM settings")) as unknown as [
          { key: string; value: string; updated_at: Date; updated_by: string }[],
        ];
        const out = new Map<string, Row>();
        for (const r of rows) {
          try {
            out.set(r.key, { value: JSON.parse(r.value) as JsonValue, updatedAt: r.updated_at, updatedBy: r.updated_by });
          } catch {
            d.log.warn({ key: r.key }, "setting holds invalid JSON; using its default");
          }
        }
        cache = { rows: out, until: Date.now() + ttlMs };
        return out;
      } finally {
        loading = undefined;
      }
    })();
    return loading;
  };

  const view = (def: SettingDef, row: Row | undefined): SettingView => ({
    key: def.key,
    value: row ? row.value : def.default,
    defaultValue: def.default,
    description: def.description,
    isDefault: !row,
    updatedAt: row?.updatedAt,
    updatedBy: row?.updatedBy ?? "",
  });

  const list = async (keys?: string[]) => {
    const rows = await load();
    const wanted = keys && keys.length ? keys : [...defs.keys()];
    return wanted
      .map((k, i) => {
        const def = defs.get(k);
        if (!def) throw invalid(`keys[${i}]`, `unknown setting "${k}"; known: ${[...defs.keys()].sort().join(", ")}`);
        return view(def, rows.get(k));
      })
      .sort((a, b) => a.key.localeCompare(b.key));
  };

  return {
    async get(key) {
      const def = defs.get(key);
      if (!def) throw new Error(`unknown setting ${key}`);
      const row = (await load()).get(key);
      return row ? row.value : def.default;
    },
    list,
    async update(values, actor) {
      const rows = await load();
      const entries = Object.entries(values);
      if (entries.length === 0) throw invalid("values", "at least one setting is required");
      for (const [k] of entries) {
        if (!defs.has(k)) throw invalid(`values.${k}`, `unknown setting; known: ${[...defs.keys()].sort().join(", ")}`);
      }
      const next = (k: string): JsonValue => {
        if (Object.hasOwn(values, k)) return values[k] ?? defs.get(k)!.default;
        return rows.get(k)?.value ?? defs.get(k)?.default ?? null;
      };
      const normal: [string, JsonValue | null][] = entries.map(([k, v]) => {
        if (v === null) return [k, null];
        try {
          return [k, defs.get(k)!.validate(v, next)];
        } catch (err) {
          throw invalid(`values.${k}`, (err as Error).message);
        }
      });
      const now = new Date();
      await withTx(d.db, async (c) => {
        for (const [k, v] of normal) {
          if (v === null) await c.query("DELETE FROM settings WHERE `key` = ?", [k]);
          else {
            await c.query(
              "INSERT INTO settings (`key`, value, updated_at, updated_by) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at), updated_by = VALUES(updated_by)",
              [k, JSON.stringify(v), now, actor.slice(0, 100)],
            );
          }
        }
      });
      cache = undefined;
      if (d.nc && d.subject) d.nc.publish(d.subject);
      d.log.info({ keys: normal.map(([k]) => k), actor }, "settings updated");
      return list();
    },
    invalidate() {
      cache = undefined;
    },
    close() {
      sub?.unsubscribe();
    },
  };
}
