import type { Policy, Requirement } from "../auth/interceptor.js";

/**
 * Who may call what. Methods not listed need the `admin` scope, so a new RPC is closed until it is
 * given a rule here.
 */
const RULES: Record<string, Requirement> = {
  "notify.v1.NotificationService/Send": { scope: "send" },
  "notify.v1.NotificationService/SendBatch": { scope: "send" },
  "notify.v1.NotificationService/Get": { scope: "read" },
  "notify.v1.NotificationService/ListByUser": { scope: "read" },
  "notify.v1.TemplateService/Get": { scope: "read" },
  "notify.v1.TemplateService/List": { scope: "read" },
  "notify.v1.TemplateService/Preview": { scope: "read" },
  "notify.v1.TemplateService/Diff": { scope: "read" },
  "notify.v1.TemplateService/GetLayout": { scope: "read" },
  "notify.v1.TemplateService/ListLayouts": { scope: "read" },
  "notify.v1.TemplateService/ListVersions": { scope: "read" },
  "notify.v1.TemplateService/ListBuiltinVariables": { scope: "read" },
  // Managers in the admin panel write templates; admin users, API keys and settings stay "admin".
  "notify.v1.TemplateService/Create": { scope: "manage" },
  "notify.v1.TemplateService/Update": { scope: "manage" },
  "notify.v1.TemplateService/Publish": { scope: "manage" },
  "notify.v1.TemplateService/Archive": { scope: "manage" },
  "notify.v1.TemplateService/CreateLayout": { scope: "manage" },
  // Operators' tools discover the API without credentials, as grpcurl and buf curl expect.
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo": { public: true },
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": { public: true },
  "grpc.health.v1.Health/Check": { public: true },
  "grpc.health.v1.Health/Watch": { public: true },
  "grpc.health.v1.Health/List": { public: true },
};

/** The core rules plus the rules areas declare for their own services. */
export function createPolicy(areaRules: Record<string, Requirement> = {}): Policy {
  const rules = { ...RULES, ...areaRules };
  return (service, method) => rules[`${service}/${method}`] ?? { scope: "admin" };
}
