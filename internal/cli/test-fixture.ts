import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  DeliverySchema,
  DeliveryStatus,
  NotificationService,
  NotificationStatus,
  type SendRequest,
} from "../../gen/notify/v1/notification_service_pb.js";
import { TemplateService, VariableType } from "../../gen/notify/v1/template_service_pb.js";
import { newId } from "../ids/ids.js";
import { createHealth, type Health } from "../ops/health.js";
import { startH2cTestServer, type H2cTestServer } from "../ops/h2c-test-server.js";
import { createReflectionRoutes } from "../ops/reflection.js";
import { createPlatformRegistry } from "../ops/registry.js";

export const TEST_API_KEY = "test-key";

export interface FakePlatform {
  server: H2cTestServer;
  health: Health;
  sent: Map<string, SendRequest>;
  close(): Promise<void>;
}

/**
 * An h2c server with reflection, health and trivial in-memory NotificationService and TemplateService,
 * enough to exercise notifyctl end to end without a database.
 */
export async function startFakePlatform(): Promise<FakePlatform> {
  const health = createHealth();
  const sent = new Map<string, SendRequest>();
  const reflection = createReflectionRoutes(createPlatformRegistry());
  const requireKey = (ctx: HandlerContext) => {
    if (ctx.requestHeader.get("authorization") !== `Bearer ${TEST_API_KEY}`) {
      throw new ConnectError("missing API key", Code.Unauthenticated);
    }
  };
  const delivery = (id: string, req: SendRequest) =>
    create(DeliverySchema, {
      id: `d-${id}`,
      notificationId: id,
      userId: req.recipients[0]?.target.case === "userId" ? req.recipients[0].target.value : "",
      channel: req.channels[0] ?? "email",
      status: DeliveryStatus.SENT,
      attempts: 1,
      template: req.template,
      createdAt: timestampNow(),
      updatedAt: timestampNow(),
      events: [{ at: timestampNow(), status: DeliveryStatus.SENT, detail: "250 ok" }],
    });

  const server = await startH2cTestServer((router) => {
    reflection(router);
    health.routes(router);
    router.service(NotificationService, {
      send(req, ctx) {
        requireKey(ctx);
        if (!req.template) throw new ConnectError("template is required", Code.InvalidArgument);
        const id = newId();
        sent.set(id, req);
        return { notificationId: id, duplicate: false, acceptedAt: timestampNow() };
      },
      get(req, ctx) {
        requireKey(ctx);
        const n = sent.get(req.notificationId);
        if (!n) throw new ConnectError(`notification ${req.notificationId} not found`, Code.NotFound);
        return {
          notification: {
            id: req.notificationId,
            idempotencyKey: n.idempotencyKey,
            template: n.template,
            templateVersion: 3,
            status: NotificationStatus.PLANNED,
            recipientCount: n.recipients.length,
            createdAt: timestampNow(),
            source: "ops",
          },
          deliveries: [delivery(req.notificationId, n)],
        };
      },
      listByUser(req, ctx) {
        requireKey(ctx);
        const deliveries = [...sent.entries()]
          .filter(([, r]) => r.recipients.some((x) => x.target.case === "userId" && x.target.value === req.userId))
          .map(([id, r]) => delivery(id, r));
        return { deliveries, nextPageToken: deliveries.length > 0 ? "next-1" : "" };
      },
    });
    router.service(TemplateService, {
      list() {
        return {
          templates: [
            { key: "welcome", name: "Welcome", category: "transactional", channels: ["email"], currentVersion: 2 },
            { key: "weekly_digest", name: "New films this week", category: "marketing", channels: ["email", "websocket"], currentVersion: 5 },
          ],
        };
      },
      get(req) {
        if (req.key !== "welcome") throw new ConnectError(`template ${req.key} not found`, Code.NotFound);
        return {
          template: { key: "welcome", name: "Welcome", category: "transactional", channels: ["email"], currentVersion: 2, defaultLocale: "en" },
          version: {
            version: req.version || 2,
            createdBy: "admin",
            variables: [{ name: "name", type: VariableType.STRING, required: true, description: "user's first name" }],
            contents: [{ locale: "en", parts: { subject: "Hello {{name}}" } }],
          },
        };
      },
      preview(req) {
        const name = String((req.data as JsonObject | undefined)?.name ?? "sample");
        return { parts: { subject: `Hello ${name}` }, problems: req.data ? [] : ["using sample data"], locale: "en", version: 2 };
      },
    });
  });
  return {
    server,
    health,
    sent,
    async close() {
      health.close();
      await server.close();
    },
  };
}
