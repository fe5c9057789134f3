import { createHash, randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Db } from "../store/db.js";
import type { Logger } from "../log/logger.js";
import { newId } from "../ids/ids.js";
import type { UsersClient } from "../users/client.js";
import type { Settings } from "../settings/settings.js";
import { checkRedirect, parseAllowlist } from "./redirect.js";
import { CONFIRM_REDIRECT_URL, REDIRECT_ALLOWLIST } from "./settings.js";

export const PURPOSE_CONFIRM_EMAIL = "confirm_email";
/** 16 random bytes in base64url: exactly 22 characters of [A-Za-z0-9_-]. */
const CODE = /^[A-Za-z0-9_-]{22}$/;

export interface LinksDeps {
  db: Db;
  users: Pick<UsersClient, "confirmEmail">;
  settings: Pick<Settings, "get">;
  /** NOTIFY_PUBLIC_URL without a trailing slash. */
  publicUrl: string;
  /** Fallback redirect when neither the link's nor the configured target passes the allow-list. */
  homeUrl: string;
  ttlMs: number;
  /** The clock; tests move it to expire links. */
  now: () => Date;
  log: Logger;
  /** A request that lost the confirmation claim waits this long for the winner. */
  waitMs?: number;
  /** A claim older than this is taken to belong to a request that died mid-way. */
  claimStaleMs?: number;
}

export interface IssuedLink {
  id: number;
  url: string;
  expiresAt: Date;
}

export type Visit =
  | { kind: "redirect"; url: string; confirmedNow: boolean }
  | { kind: "not_found" }
  /** The user service could not be reached; nothing was consumed, the link still works. */
  | { kind: "unavailable" };

interface LinkRow {
  id: number;
  user_id: string;
  purpose: string;
  redirect_url: string;
  expires_at: Date;
  confirm_state: string;
}

export const hashCode = (code: string) => createHash("sha256").update(code).digest("hex");

/**
 * Short confirmation links: a random code (only its hash is stored), the user, an expiry, and the
 * redirect target chosen at creation. A visit confirms the email once, however many requests race:
 * one request wins an atomic claim in MariaDB and calls ConfirmEmail, the others wait for its outcome.
 */
export function createLinks(d: LinksDeps) {
  const waitMs = d.waitMs ?? 8000;
  const claimStaleMs = d.claimStaleMs ?? 30_000;

  const allowlist = async () => parseAllowlist(await d.settings.get(REDIRECT_ALLOWLIST));

  /** The configured target if the allow-list takes it, else the home page. */
  const currentTarget = async () => {
    const r = checkRedirect(await d.settings.get(CONFIRM_REDIRECT_URL), await allowlist());
    return r.ok ? r.url : d.homeUrl;
  };

  /** The stored target is checked again at use: a later allow-list change applies to old links too. */
  const targetAtUse = async (stored: string) => {
    const r = checkRedirect(stored, await allowlist());
    if (r.ok) return r.url;
    d.log.warn({ reason: r.reason }, "link redirect no longer allowed; using the configured target");
    return currentTarget();
  };

  const countVisit = (id: number, at: Date) =>
    d.db.query(
      "UPDATE links SET visits = visits + 1, first_visit_at = COALESCE(first_visit_at, ?), last_visit_at = ? WHERE id = ?",
      [at, at, id],
    );

  const readState = async (id: number) => {
    const [rows] = (await d.db.query("SELECT confirm_state FROM links WHERE id = ?", [id])) as unknown as [{ confirm_state: string }[]];
    return rows[0]?.confirm_state;
  };

  async function issue(userId: string, purpose = PURPOSE_CONFIRM_EMAIL): Promise<IssuedLink> {
    const code = randomBytes(16).toString("base64url");
    const now = d.now();
    const expiresAt = new Date(now.getTime() + d.ttlMs);
    const [r] = (await d.db.query(
      "INSERT INTO links (code_hash, user_id, purpose, redirect_url, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      [hashCode(code), userId, purpose, await currentTarget(), now, expiresAt],
    )) as unknown as [{ insertId: number }];
    return { id: Number(r.insertId), url: `${d.publicUrl}/l/${code}`, expiresAt };
  }

  /** Makes a user's live links of a purpose stop working (all of them, or all but `keepId`). */
  async function expireFor(userId: string, purpose = PURPOSE_CONFIRM_EMAIL, keepId = 0): Promise<number> {
    const now = d.now();
    const [r] = (await d.db.query(
      "UPDATE links SET expires_at = ? WHERE user_id = ? AND purpose = ? AND expires_at > ? AND id <> ?",
      [now, userId, purpose, now, keepId],
    )) as unknown as [{ affectedRows: number }];
    return r.affectedRows;
  }

  async function expire(id: number): Promise<void> {
    await d.db.query("UPDATE links SET expires_at = LEAST(expires_at, ?) WHERE id = ?", [d.now(), id]);
  }

  async function visit(code: string): Promise<Visit> {
    if (!CODE.test(code)) return { kind: "not_found" };
    const [rows] = (await d.db.query(
      "SELECT id, user_id, purpose, redirect_url, expires_at, confirm_state FROM links WHERE code_hash = ?",
      [hashCode(code)],
    )) as unknown as [LinkRow[]];
    const link = rows[0];
    const now = d.now();
    if (!link || link.expires_at.getTime() <= now.getTime()) return { kind: "not_found" };
    const target = await targetAtUse(link.redirect_url);

    if (link.purpose !== PURPOSE_CONFIRM_EMAIL || link.confirm_state === "confirmed") {
      await countVisit(link.id, now);
      return { kind: "redirect", url: target, confirmedNow: false };
    }

    const token = newId();
    const [claim] = (await d.db.query(
      `UPDATE links SET confirm_state = 'confirming', claim_token = ?, claimed_at = ?
        WHERE id = ? AND expires_at > ?
          AND (confirm_state = 'pending' OR (confirm_state = 'confirming' AND claimed_at < ?))`,
      [token, now, link.id, now, new Date(now.getTime() - claimStaleMs)],
    )) as unknown as [{ affectedRows: number }];

    if (claim.affectedRows === 1) {
      try {
        await d.users.confirmEmail(link.user_id);
      } catch (err) {
        // Give the claim back so the next click tries again; the link is not consumed.
        await d.db.query("UPDATE links SET confirm_state = 'pending', claim_token = NULL, claimed_at = NULL WHERE id = ? AND claim_token = ?", [
          link.id,
          token,
        ]);
        if (err instanceof ConnectError && err.code === Code.NotFound) {
          d.log.warn({ linkId: link.id }, "confirmation link for a user the directory does not know");
          return { kind: "not_found" };
        }
        d.log.warn({ linkId: link.id, err: (err as Error).message }, "ConfirmEmail failed; the link stays valid");
        return { kind: "unavailable" };
      }
      await d.db.query(
        `UPDATE links SET confirm_state = 'confirmed', confirmed_at = ?, claim_token = NULL, visits = visits + 1,
           first_visit_at = COALESCE(first_visit_at, ?), last_visit_at = ? WHERE id = ?`,
        [now, now, now, link.id],
      );
      d.log.info({ linkId: link.id }, "email confirmed through link");
      return { kind: "redirect", url: target, confirmedNow: true };
    }

    // Another request holds the claim: wait for its outcome instead of calling the user service too.
    const deadline = Date.now() + waitMs;
    for (;;) {
      const state = await readState(link.id);
      if (state === "confirmed") {
        await countVisit(link.id, d.now());
        return { kind: "redirect", url: target, confirmedNow: false };
      }
      if (state !== "confirming" || Date.now() > deadline) return { kind: "unavailable" };
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  return { issue, expireFor, expire, visit };
}

export type Links = ReturnType<typeof createLinks>;
