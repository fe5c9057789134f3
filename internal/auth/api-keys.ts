import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Db } from "../store/db.js";

// "manage" writes templates, campaigns and trigger rules (the admin panel's managers); "admin" implies all.
export const SCOPES = ["send", "read", "manage", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyPrincipal {
  kind: "api_key";
  name: string;
  scopes: Set<Scope>;
}

export interface ApiKeyInfo {
  id: number;
  name: string;
  prefix: string;
  scopes: Scope[];
  createdAt: Date;
  lastUsedAt?: Date;
  revokedAt?: Date;
}

/**
 * API keys are 32 random bytes, so a plain SHA-256 is enough to store them (no brute force is
 * feasible); slow hashes are for passwords. The visible prefix lets operators tell keys apart.
 */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function generateKey(): string {
  return `nk_${randomBytes(32).toString("base64url")}`;
}

export interface ApiKeyStore {
  create(name: string, scopes: Scope[], key?: string): Promise<{ key: string; info: ApiKeyInfo }>;
  /** Stores a key given from outside (bootstrap) unless a key with that name exists. */
  ensure(name: string, scopes: Scope[], key: string): Promise<boolean>;
  verify(key: string): Promise<ApiKeyPrincipal | undefined>;
  list(): Promise<ApiKeyInfo[]>;
  revoke(name: string): Promise<boolean>;
}

const CACHE_MS = 10_000;

export function createApiKeyStore(db: Db): ApiKeyStore {
  // A short cache keeps a hot API path from hitting MariaDB on every call; revocation takes effect
  // within CACHE_MS.
  const cache = new Map<string, { p: ApiKeyPrincipal | undefined; until: number }>();
  const toInfo = (r: Record<string, unknown>): ApiKeyInfo => ({
    id: Number(r.id),
    name: String(r.name),
    prefix: String(r.key_prefix),
    scopes: String(r.scopes).split(",").filter(Boolean) as Scope[],
    createdAt: r.created_at as Date,
    lastUsedAt: (r.last_used_at as Date) ?? undefined,
    revokedAt: (r.revoked_at as Date) ?? undefined,
  });
  const insert = async (name: string, scopes: Scope[], key: string) => {
    await db.execute("INSERT INTO api_keys (name, key_prefix, key_hash, scopes) VALUES (?, ?, ?, ?)", [
      name,
      key.slice(0, 8),
      hashKey(key),
      scopes.join(","),
    ]);
  };
  return {
    async create(name, scopes, key = generateKey()) {
      await insert(name, scopes, key);
      const [rows] = (await db.execute("SELECT * FROM api_keys WHERE name = ?", [name])) as unknown as [
        Record<string, unknown>[],
      ];
      return { key, info: toInfo(rows[0]) };
    },
    async ensure(name, scopes, key) {
      const [rows] = (await db.execute("SELECT key_hash FROM api_keys WHERE name = ?", [name])) as unknown as [
        { key_hash: string }[],
      ];
      if (rows.length > 0) {
        if (rows[0].key_hash !== hashKey(key)) {
          await db.execute("UPDATE api_keys SET key_hash = ?, key_prefix = ?, scopes = ?, revoked_at = NULL WHERE name = ?", [
            hashKey(key),
            key.slice(0, 8),
            scopes.join(","),
            name,
          ]);
        }
        return false;
      }
      try {
        await insert(name, scopes, key);
      } catch (err) {
        // Several processes starting at once bootstrap the same key; the first insert wins.
        if ((err as { code?: string }).code === "ER_DUP_ENTRY") return false;
        throw err;
      }
      return true;
    },
    async verify(key) {
      const h = hashKey(key);
      const hit = cache.get(h);
      if (hit && hit.until > Date.now()) return hit.p;
      const [rows] = (await db.execute(
        "SELECT name, scopes, key_hash FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        [h],
      )) as unknown as [{ name: string; scopes: string; key_hash: string }[]];
      const r = rows[0];
      const p =
        r && timingSafeEqual(Buffer.from(r.key_hash), Buffer.from(h))
          ? { kind: "api_key" as const, name: r.name, scopes: new Set(r.scopes.split(",") as Scope[]) }
          : undefined;
      cache.set(h, { p, until: Date.now() + CACHE_MS });
      if (p) void db.execute("UPDATE api_keys SET last_used_at = CURRENT_TIMESTAMP(3) WHERE key_hash = ?", [h]).catch(() => undefined);
      return p;
    },
    async list() {
      const [rows] = (await db.query("SELECT * FROM api_keys ORDER BY name")) as unknown as [Record<string, unknown>[]];
      return rows.map(toInfo);
    },
    async revoke(name) {
      const [r] = (await db.execute(
        "UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP(3) WHERE name = ? AND revoked_at IS NULL",
        [name],
      )) as unknown as [{ affectedRows: number }];
      cache.clear();
      return r.affectedRows > 0;
    },
  };
}
