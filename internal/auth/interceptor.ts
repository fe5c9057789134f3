import { Code, ConnectError, createContextKey, type Interceptor, type HandlerContext } from "@connectrpc/connect";
import type { ApiKeyPrincipal, ApiKeyStore, Scope } from "./api-keys.js";

/** What a method requires: an API key with a scope, a signed-in user of the site, or nothing. */
export type Requirement = { scope: Scope } | { public: true } | { custom: string };

/** Decides the requirement per `${service typeName}/${method name}`. */
export type Policy = (service: string, method: string) => Requirement;

/** A custom principal with scopes (an admin session) passes scope rules like an API key with them. */
export type Principal =
  | ApiKeyPrincipal
  | { kind: "custom"; id: string; name: string; attrs: Record<string, string>; scopes?: Set<Scope> };

/**
 * The authenticator tried for calls that carry a cookie and no API key: the admin panel's session.
 * The browser calls the same services as the platform's callers; the session's role maps to scopes.
 */
export const SESSION_AUTHENTICATOR = "admin-session";

export const principalKey = createContextKey<Principal | undefined>(undefined, { description: "authenticated caller" });

/** Other authenticators (admin sessions, the cinema's user JWT) plug in by requirement name. */
export type CustomAuthenticator = (header: Headers, service: string, method: string) => Promise<Principal>;

export function createAuthInterceptor(
  keys: ApiKeyStore,
  policy: Policy,
  custom: Record<string, CustomAuthenticator> = {},
): Interceptor {
  return (next) => async (req) => {
    const need = policy(req.service.typeName, req.method.name);
    if ("public" in need) return next(req);
    if ("custom" in need) {
      const auth = custom[need.custom];
      if (!auth) throw new ConnectError(`no authenticator for ${need.custom}`, Code.Internal);
      req.contextValues.set(principalKey, await auth(req.header, req.service.typeName, req.method.name));
      return next(req);
    }
    const header = req.header.get("authorization") ?? "";
    const session = custom[SESSION_AUTHENTICATOR];
    if (!header && session && req.header.has("cookie")) {
      const p = await session(req.header, req.service.typeName, req.method.name);
      if (!p.scopes?.has(need.scope) && !p.scopes?.has("admin")) {
        const role = p.kind === "custom" && p.attrs.role ? ` (role ${p.attrs.role})` : "";
        throw new ConnectError(`'${p.name}'${role} lacks the '${need.scope}' scope`, Code.PermissionDenied);
      }
      req.contextValues.set(principalKey, p);
      return next(req);
    }
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) throw new ConnectError("missing API key: send 'authorization: Bearer <key>'", Code.Unauthenticated);
    const p = await keys.verify(m[1]);
    if (!p) throw new ConnectError("invalid or revoked API key", Code.Unauthenticated);
    if (!p.scopes.has(need.scope) && !p.scopes.has("admin")) {
      throw new ConnectError(`API key '${p.name}' lacks the '${need.scope}' scope`, Code.PermissionDenied);
    }
    req.contextValues.set(principalKey, p);
    return next(req);
  };
}

/** The caller's name for audit columns (notifications.source, created_by). */
export function callerName(ctx: HandlerContext): string {
  const p = ctx.values.get(principalKey);
  if (!p) return "anonymous";
  return p.name;
}
