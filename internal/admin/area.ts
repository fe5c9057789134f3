import { AdminService } from "../../gen/notify/v1/admin_service_pb.js";
import type { Area } from "../app/area.js";
import { SESSION_AUTHENTICATOR, type Requirement } from "../auth/interceptor.js";
import { createSessionAuthenticator } from "./authenticator.js";
import { createDashboard } from "./dashboard.js";
import { createSignInGuard } from "./lockout.js";
import { createDeliverySearch } from "./search.js";
import { createAdminService } from "./service.js";
import { createSessionStore } from "./sessions.js";
import { createStaticRoute, findAdminDist } from "./static.js";
import { createAdminUserStore } from "./users.js";

const S = "notify.v1.AdminService";
const session: Requirement = { custom: SESSION_AUTHENTICATOR };

/** Who may call AdminService. Users and keys are admin-only; the dashboard and search need read. */
export const ADMIN_RULES: Record<string, Requirement> = {
  [`${S}/SignIn`]: { public: true },
  [`${S}/SignOut`]: session,
  [`${S}/GetSession`]: session,
  [`${S}/ChangePassword`]: session,
  [`${S}/ListAdminUsers`]: { scope: "admin" },
  [`${S}/CreateAdminUser`]: { scope: "admin" },
  [`${S}/UpdateAdminUser`]: { scope: "admin" },
  [`${S}/ListApiKeys`]: { scope: "admin" },
  [`${S}/CreateApiKey`]: { scope: "admin" },
  [`${S}/RevokeApiKey`]: { scope: "admin" },
  [`${S}/GetDashboard`]: { scope: "read" },
  [`${S}/SearchDeliveries`]: { scope: "read" },
};

/**
 * The browser admin panel: AdminService, the "admin-session" authenticator (session cookie -> role
 * scopes, so the panel calls every other service directly) and the built panel at /admin/.
 */
export const adminArea: Area = {
  name: "admin",
  setup(s) {
    if (!s.roles.has("api")) return;
    const { ctx } = s;
    const users = createAdminUserStore(ctx.db);
    const sessions = createSessionStore(ctx.db, users, ctx.cfg.admin.sessionTtlMs);
    s.addAuthenticator(SESSION_AUTHENTICATOR, createSessionAuthenticator(sessions));
    const service = createAdminService({
      users,
      sessions,
      guard: createSignInGuard(ctx.db),
      apiKeys: ctx.apiKeys,
      dashboard: createDashboard({ db: ctx.db, jsm: ctx.bus.jsm, topology: ctx.topology, channels: () => [...ctx.channels.keys()] }),
      search: createDeliverySearch(ctx.db),
      secureCookies: ctx.cfg.publicUrl.startsWith("https:"),
      log: ctx.log.child({ area: "admin" }),
    });
    s.addService((router) => router.service(AdminService, service), ADMIN_RULES);
    s.addHttpRoute(createStaticRoute(ctx.cfg.admin.staticDir ?? findAdminDist()));
  },
};
