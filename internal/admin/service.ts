import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { AdminService, AdminUserSchema, ApiKeySchema } from "../../gen/notify/v1/admin_service_pb.js";
import { SCOPES, type ApiKeyInfo, type ApiKeyStore, type Scope } from "../auth/api-keys.js";
import type { Logger } from "../log/logger.js";
import { callerSession, sentByScript } from "./authenticator.js";
import { clearedCookie, sessionCookie } from "./cookie.js";
import type { Dashboard } from "./dashboard.js";
import type { SignInGuard } from "./lockout.js";
import { checkPasswordRules, DUMMY_HASH, verifyPassword } from "./passwords.js";
import { ROLE_SCOPES, roleFromPb, roleToPb } from "./roles.js";
import type { DeliverySearch } from "./search.js";
import type { SessionStore } from "./sessions.js";
import { normalizeEmail, type AdminUserRow, type AdminUserStore } from "./users.js";

export interface AdminServiceDeps {
  users: AdminUserStore;
  sessions: SessionStore;
  guard: SignInGuard;
  apiKeys: ApiKeyStore;
  dashboard: Dashboard;
  search: DeliverySearch;
  /** Cookies get the Secure attribute when the panel is served over https. */
  secureCookies: boolean;
  log: Logger;
}

const invalid = (field: string, msg: string) => new ConnectError(`${field}: ${msg}`, Code.InvalidArgument);
const EMAIL = /^[^\s@]+@[^\s@]+$/;
const KEY_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

function userToPb(u: AdminUserRow) {
  return create(AdminUserSchema, {
    id: u.id,
    email: u.email,
    name: u.name,
    role: roleToPb(u.role),
    disabled: u.disabled,
    createdAt: timestampFromDate(u.createdAt),
    lastSignInAt: u.lastSignInAt ? timestampFromDate(u.lastSignInAt) : undefined,
  });
}

function keyToPb(k: ApiKeyInfo) {
  return create(ApiKeySchema, {
    name: k.name,
    prefix: k.prefix,
    scopes: k.scopes,
    createdAt: timestampFromDate(k.createdAt),
    lastUsedAt: k.lastUsedAt ? timestampFromDate(k.lastUsedAt) : undefined,
    revokedAt: k.revokedAt ? timestampFromDate(k.revokedAt) : undefined,
  });
}

function checkPassword(field: string, pw: string) {
  const problem = checkPasswordRules(pw);
  if (problem) throw invalid(field, problem);
}

const isDuplicate = (err: unknown) => (err as { code?: string }).code === "ER_DUP_ENTRY";

export function createAdminService(d: AdminServiceDeps): ServiceImpl<typeof AdminService> {
  const sessionInfo = async (userId: string, expiresAt: Date) => {
    const user = await d.users.byId(userId);
    if (!user || user.disabled) throw new ConnectError("the session has ended; sign in again", Code.Unauthenticated);
    return { user: userToPb(user), scopes: ROLE_SCOPES[user.role], expiresAt: timestampFromDate(expiresAt) };
  };
  /** The last enabled admin must stay, or nobody could manage users and keys any more. */
  const keepsAnAdmin = async (u: AdminUserRow, role: string, disabled: boolean) => {
    if (u.role !== "admin" || u.disabled || (role === "admin" && !disabled)) return;
    if ((await d.users.countActiveAdmins()) <= 1) {
      throw new ConnectError("the last enabled admin cannot be demoted or disabled", Code.FailedPrecondition);
    }
  };

  return {
    async signIn(req, ctx) {
      // A forged cross-site form cannot set this header, so nobody is signed in behind their back.
      if (!sentByScript(ctx.requestHeader)) throw new ConnectError("SignIn needs the Connect-Protocol-Version header", Code.PermissionDenied);
      const email = normalizeEmail(req.email);
      if (!email || email.length > 254) throw invalid("email", "required");
      const attempt = await d.guard.begin(email);
      if (attempt.lockedUntil) {
        const mins = Math.max(1, Math.ceil((attempt.lockedUntil.getTime() - Date.now()) / 60_000));
        d.log.warn({ event: "admin_sign_in_locked" }, "sign-in refused: too many failed attempts");
        throw new ConnectError(`too many failed sign-ins for this email; try again in ${mins} min`, Code.ResourceExhausted);
      }
      const user = await d.users.byEmail(email);
      // The hash is checked even for unknown emails, so the answer time does not tell which exist.
      const ok = await verifyPassword(req.password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !ok || user.disabled) throw new ConnectError("wrong email or password", Code.Unauthenticated);
      await d.guard.succeeded(attempt.attemptId);
      await d.users.markSignedIn(user.id);
      const s = await d.sessions.start(user.id, ctx.requestHeader.get("user-agent") ?? "");
      ctx.responseHeader.append(
        "set-cookie",
        sessionCookie(s.token, { secure: d.secureCookies, maxAgeS: (s.expiresAt.getTime() - Date.now()) / 1000 }),
      );
      d.log.info({ event: "admin_sign_in", user: user.id, role: user.role }, "admin signed in");
      return sessionInfo(user.id, s.expiresAt);
    },

    async signOut(_req, ctx) {
      const s = callerSession(ctx);
      await d.sessions.end(s.tokenHash);
      ctx.responseHeader.append("set-cookie", clearedCookie(d.secureCookies));
      return {};
    },

    async getSession(_req, ctx) {
      const s = callerSession(ctx);
      return sessionInfo(s.userId, s.expiresAt);
    },

    async changePassword(req, ctx) {
      const s = callerSession(ctx);
      const user = await d.users.byId(s.userId);
      if (!user || !(await verifyPassword(req.currentPassword, user.passwordHash))) {
        throw invalid("current_password", "does not match");
      }
      checkPassword("new_password", req.newPassword);
      await d.users.update(user.id, { password: req.newPassword });
      await d.sessions.endAllFor(user.id, s.tokenHash);
      return {};
    },

    async listAdminUsers() {
      return { users: (await d.users.list()).map(userToPb) };
    },

    async createAdminUser(req) {
      const email = normalizeEmail(req.email);
      if (!EMAIL.test(email) || email.length > 254) throw invalid("email", "not a valid email address");
      const role = roleFromPb(req.role);
      if (!role) throw invalid("role", "required (viewer, manager or admin)");
      if (req.name.length > 200) throw invalid("name", "at most 200 characters");
      checkPassword("password", req.password);
      try {
        const user = await d.users.create({ email, name: req.name.trim(), role, password: req.password });
        return { user: userToPb(user) };
      } catch (err) {
        if (isDuplicate(err)) throw new ConnectError(`an admin user with email ${email} exists`, Code.AlreadyExists);
        throw err;
      }
    },

    async updateAdminUser(req) {
      const u = await d.users.byId(req.id);
      if (!u) throw new ConnectError(`admin user ${req.id} not found`, Code.NotFound);
      const role = req.role ? roleFromPb(req.role) : undefined;
      if (req.role && !role) throw invalid("role", "unknown role");
      if (req.name !== undefined && req.name.length > 200) throw invalid("name", "at most 200 characters");
      if (req.password !== undefined) checkPassword("password", req.password);
      await keepsAnAdmin(u, role ?? u.role, req.disabled ?? u.disabled);
      const after = await d.users.update(u.id, { name: req.name?.trim(), role, disabled: req.disabled, password: req.password });
      if ((role && role !== u.role) || req.disabled === true || req.password !== undefined) await d.sessions.endAllFor(u.id);
      return { user: userToPb(after!) };
    },

    async listApiKeys() {
      return { keys: (await d.apiKeys.list()).map(keyToPb) };
    },

    async createApiKey(req) {
      if (!KEY_NAME.test(req.name)) throw invalid("name", "1..100 of A-Z a-z 0-9 _ . -");
      if (req.scopes.length === 0) throw invalid("scopes", "at least one scope");
      const bad = req.scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (bad.length) throw invalid("scopes", `unknown scope(s) ${bad.join(",")}; known: ${SCOPES.join(",")}`);
      try {
        const { key, info } = await d.apiKeys.create(req.name, [...new Set(req.scopes)] as Scope[]);
        return { key, apiKey: keyToPb(info) };
      } catch (err) {
        if (isDuplicate(err)) throw new ConnectError(`an API key named ${req.name} exists`, Code.AlreadyExists);
        throw err;
      }
    },

    async revokeApiKey(req) {
      return { revoked: await d.apiKeys.revoke(req.name) };
    },

    async getDashboard(req) {
      const hours = req.hours === 0 ? 24 : req.hours;
      if (hours > 168) throw invalid("hours", "at most 168");
      return d.dashboard.get(hours);
    },

    async searchDeliveries(req) {
      const size = req.pageSize === 0 ? 50 : req.pageSize;
      if (size > 200) throw invalid("page_size", "at most 200");
      const q = req.query.trim();
      if (!q) throw invalid("query", "required");
      return d.search(q, size, req.pageToken);
    },
  };
}
