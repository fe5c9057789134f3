import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { principalKey, type CustomAuthenticator, type Principal } from "../auth/interceptor.js";
import { readCookie, SESSION_COOKIE } from "./cookie.js";
import { ROLE_SCOPES } from "./roles.js";
import type { Session, SessionStore } from "./sessions.js";

/**
 * True when the request carries a header that a cross-site HTML form cannot send: Connect's protocol
 * version header, or a Connect-streaming or gRPC-Web content type. Browsers only add such headers from scripts of the
 * same origin (anything else needs a CORS preflight that this server never grants), so a cookie that
 * arrives with one was not sent by a forged form. SameSite=Strict already stops cross-site sends;
 * this is the second lock on the door.
 */
export function sentByScript(h: Headers): boolean {
  return h.has("connect-protocol-version") || /^application\/(grpc-web|connect\+)/i.test(h.get("content-type") ?? "");
}

/** The "admin-session" authenticator: the session cookie -> a principal with its role's scopes. */
export function createSessionAuthenticator(sessions: SessionStore): CustomAuthenticator {
  return async (header) => {
    const token = readCookie(header.get("cookie"), SESSION_COOKIE);
    if (!token) throw new ConnectError("not signed in (no API key and no admin session)", Code.Unauthenticated);
    if (!sentByScript(header)) {
      throw new ConnectError("session calls need the Connect-Protocol-Version header", Code.PermissionDenied);
    }
    const s = await sessions.resolve(token);
    if (!s) throw new ConnectError("the session has ended; sign in again", Code.Unauthenticated);
    return sessionPrincipal(s);
  };
}

export function sessionPrincipal(s: Session): Principal {
  return {
    kind: "custom",
    id: s.user.id,
    name: s.user.email,
    attrs: { role: s.user.role, session: s.tokenHash, expires: s.expiresAt.toISOString() },
    scopes: new Set(ROLE_SCOPES[s.user.role]),
  };
}

/** The caller's session, for handlers whose rule is { custom: "admin-session" }. */
export function callerSession(ctx: HandlerContext): { userId: string; tokenHash: string; expiresAt: Date } {
  const p = ctx.values.get(principalKey);
  if (!p || p.kind !== "custom" || !p.attrs.session) throw new ConnectError("not signed in", Code.Unauthenticated);
  return { userId: p.id, tokenHash: p.attrs.session, expiresAt: new Date(p.attrs.expires) };
}
