import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { SendRequestSchema } from "../../gen/notify/v1/notification_service_pb.js";
import {
  EventTypeStatsSchema,
  TriggerAction,
  TriggerRuleSchema,
  type TriggerRule,
  type TriggerService,
} from "../../gen/notify/v1/trigger_service_pb.js";
import { callerName, type Requirement } from "../auth/interceptor.js";
import type { Acceptor } from "../notification/accept.js";
import { invalid, normalizeSend } from "../notification/validate.js";
import type { Db } from "../store/db.js";
import type { TemplateCatalog } from "../template/index.js";
import type { UsersClient } from "../users/client.js";
import { isTransientUsersError } from "../users/client.js";
import type { Links } from "../links/links.js";
import type { Condition } from "./condition.js";
import { EVENTS_SOURCE } from "./router.js";
import { Action, validateRule, type Rule, type RuleInput, type RuleStore } from "./rules.js";
import { readEventCounts, type EventStats } from "./stats.js";

export const TRIGGER_RULES: Record<string, Requirement> = {
  "notify.v1.TriggerService/List": { scope: "read" },
  "notify.v1.TriggerService/Get": { scope: "read" },
  "notify.v1.TriggerService/Stats": { scope: "read" },
  // The site's own services ask for a fresh link when a user clicks "send it again".
  "notify.v1.TriggerService/ResendConfirmation": { scope: "send" },
  // Managers in the admin panel edit trigger rules ("admin" implies "manage").
  "notify.v1.TriggerService/Create": { scope: "manage" },
  "notify.v1.TriggerService/Update": { scope: "manage" },
  "notify.v1.TriggerService/Delete": { scope: "manage" },
  "notify.v1.TriggerService/SetEnabled": { scope: "manage" },
};

const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
export const WELCOME_TEMPLATE = "welcome";

export interface TriggerServiceDeps {
  db: Db;
  rules: RuleStore;
  templates: Pick<TemplateCatalog, "resolveForSend">;
  accept: Acceptor;
  links: Pick<Links, "issue" | "expireFor" | "expire">;
  users: Pick<UsersClient, "getUsers">;
  /** This process's counters, flushed before Stats answers; absent when the router runs elsewhere. */
  stats?: EventStats;
}

const toMessage = (r: Rule): TriggerRule =>
  create(TriggerRuleSchema, {
    id: r.id,
    eventType: r.eventType,
    name: r.name,
    action: r.action === Action.Digest ? TriggerAction.DIGEST : TriggerAction.SEND,
    template: r.template,
    channels: r.channels,
    category: r.category,
    condition: r.condition as JsonObject,
    delaySeconds: r.delaySeconds,
    aggregateWindowSeconds: r.aggregateWindowSeconds,
    enabled: r.enabled,
    createdAt: timestampFromDate(r.createdAt),
    updatedAt: timestampFromDate(r.updatedAt),
    updatedBy: r.updatedBy,
  });

const fromMessage = (m: TriggerRule | undefined): RuleInput => {
  if (!m) throw invalid("rule", "required");
  return {
    eventType: m.eventType,
    name: m.name,
    action: m.action === TriggerAction.DIGEST ? Action.Digest : Action.Send,
    template: m.template,
    channels: m.channels,
    category: m.category,
    condition: (m.condition ?? {}) as Condition,
    delaySeconds: m.delaySeconds,
    aggregateWindowSeconds: m.aggregateWindowSeconds,
    enabled: m.enabled,
  };
};

const needId = (id: number, field = "id") => {
  if (!id) throw invalid(field, "required");
  return id;
};

/** Thin handlers: rules CRUD, counters, and resending the confirmation link. */
export function createTriggerService(d: TriggerServiceDeps): ServiceImpl<typeof TriggerService> {
  return {
    async list(req) {
      return { rules: (await d.rules.list(req.eventType)).map(toMessage) };
    },
    async get(req) {
      return { rule: toMessage(await d.rules.mustGet(needId(req.id))) };
    },
    async create(req, ctx) {
      const input = await validateRule(fromMessage(req.rule), d.templates);
      return { rule: toMessage(await d.rules.create(input, callerName(ctx))) };
    },
    async update(req, ctx) {
      const id = needId(req.rule?.id ?? 0, "rule.id");
      const input = await validateRule(fromMessage(req.rule), d.templates);
      return { rule: toMessage(await d.rules.update(id, input, callerName(ctx))) };
    },
    async delete(req) {
      return { deleted: await d.rules.remove(needId(req.id)) };
    },
    async setEnabled(req, ctx) {
      return { rule: toMessage(await d.rules.setEnabled(needId(req.id), req.enabled, callerName(ctx))) };
    },
    async stats() {
      await d.stats?.flush();
      const rows = await readEventCounts(d.db);
      return {
        types: rows.map((r) =>
          create(EventTypeStatsSchema, {
            eventType: r.eventType,
            received: BigInt(r.received),
            unmatched: BigInt(r.unmatched),
            dead: BigInt(r.dead),
            lastAt: r.lastAt ? timestampFromDate(r.lastAt) : undefined,
          }),
        ),
      };
    },
    async resendConfirmation(req, ctx) {
      if (!USER_ID.test(req.userId)) throw invalid("user_id", "must be 1..64 characters of [A-Za-z0-9_.:@-]");
      let user;
      try {
        user = (await d.users.getUsers([req.userId])).get(req.userId);
      } catch (err) {
        if (isTransientUsersError(err)) throw new ConnectError("the user service is unavailable; try again", Code.Unavailable);
        throw err;
      }
      if (!user) throw new ConnectError(`user_id: user "${req.userId}" not found`, Code.NotFound);
      if (user.emailConfirmed) throw new ConnectError(`user_id: the email of "${req.userId}" is already confirmed`, Code.FailedPrecondition);
      const link = await d.links.issue(req.userId);
      try {
        const send = create(SendRequestSchema, {
          idempotencyKey: `resend-link-${link.id}`,
          template: WELCOME_TEMPLATE,
          recipients: [{ target: { case: "userId", value: req.userId } }],
          channels: ["email"],
          data: { confirm_url: link.url, requested_by: callerName(ctx) },
        });
        const [a] = await d.accept(EVENTS_SOURCE, [normalizeSend(send)], [""]);
        // Only once the new link is on its way do the old ones stop working.
        const expired = await d.links.expireFor(req.userId, undefined, link.id);
        return { notificationId: a.notificationId, expiresAt: timestampFromDate(link.expiresAt), expiredLinks: expired };
      } catch (err) {
        await d.links.expire(link.id).catch(() => undefined);
        throw err;
      }
    },
  };
}
