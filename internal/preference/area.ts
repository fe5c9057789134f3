import { PreferenceService } from "../../gen/notify/v1/preference_service_pb.js";
import type { Area } from "../app/area.js";
import { knownChannels } from "../template/index.js";
import {
  createBounceListener,
  createDefaultsCache,
  createLocaleLookup,
  createPreferenceDecorator,
  createPreferencePolicy,
} from "./pipeline.js";
import { createPreferenceService } from "./service.js";
import { purgeExpiredTokens } from "./tokens.js";
import { createUnsubscribeRoute } from "./unsubscribe.js";

const PURGE_EVERY_MS = 3600_000;

/**
 * Preferences, unsubscribe and suppression: the planner asks the policy, the email worker runs the
 * decorator (suppressed addresses, List-Unsubscribe) and reports hard bounces to the listener, and
 * the API serves PreferenceService and the one-click /u/{token} pages.
 */
export const preferenceArea: Area = {
  name: "preference",
  setup(s) {
    const { db, log: rootLog, cfg } = s.ctx;
    const log = rootLog.child({ area: "preference" });
    const defaults = createDefaultsCache(db);
    s.addPlanPolicy(createPreferencePolicy({ db, defaults }));
    s.addDecorator(createPreferenceDecorator({ db, publicUrl: cfg.publicUrl, localeOf: createLocaleLookup(db) }));
    s.addFailureListener(createBounceListener({ db }));
    s.addService(
      (router) =>
        router.service(
          PreferenceService,
          createPreferenceService({
            db,
            log,
            defaults,
            channels: knownChannels,
            available: (c) => s.ctx.channels.has(c),
            users: s.ctx.users,
          }),
        ),
      {
        "notify.v1.PreferenceService/Get": { scope: "read" },
        "notify.v1.PreferenceService/ListChannels": { scope: "read" },
        // The cinema's site changes a signed-in user's settings with its service key.
        "notify.v1.PreferenceService/Update": { scope: "send" },
        "notify.v1.PreferenceService/ListSuppressions": { scope: "admin" },
        "notify.v1.PreferenceService/AddSuppression": { scope: "admin" },
        "notify.v1.PreferenceService/LiftSuppression": { scope: "admin" },
      },
    );
    s.addHttpRoute(createUnsubscribeRoute({ db, log, channels: knownChannels }));

    if (!s.roles.has("api")) return;
    let timer: NodeJS.Timeout | undefined;
    return {
      started() {
        timer = setInterval(() => {
          purgeExpiredTokens(db).catch((err) => log.warn({ err: (err as Error).message }, "purging expired unsubscribe tokens failed"));
        }, PURGE_EVERY_MS);
        timer.unref();
      },
      async stop() {
        clearInterval(timer);
      },
    };
  },
};
