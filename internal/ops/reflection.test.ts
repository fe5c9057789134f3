import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { createHealth } from "./health.js";
import { startH2cTestServer, type H2cTestServer } from "./h2c-test-server.js";
import { createReflectionIndex, createReflectionRoutes } from "./reflection.js";
import { createPlatformRegistry } from "./registry.js";

const run = promisify(execFile);
const BUF = new URL("../../node_modules/.bin/buf", import.meta.url).pathname;

describe("server reflection", () => {
  let server: H2cTestServer;
  const health = createHealth();

  beforeAll(async () => {
    // No handlers for the notify services: reflection needs only their descriptors.
    const reflection = createReflectionRoutes(createPlatformRegistry());
    server = await startH2cTestServer((router) => {
      reflection(router);
      health.routes(router);
    });
  });
  afterAll(async () => {
    health.close();
    await server?.close();
  });

  const bufCurl = async (...args: string[]) =>
    (await run(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 30_000 })).stdout;

  it("lists services and methods to buf curl (reflection v1)", async () => {
    const services = (await bufCurl("--reflect", "--list-services", server.url)).trim().split("\n");
    expect(services).toEqual(
      expect.arrayContaining([
        "notify.v1.NotificationService",
        "notify.v1.TemplateService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "notify.v1.CampaignService",
        "notify.v1.OpsService",
        "notify.v1.SettingsService",
        "notify.v1.TriggerService",
        "notify.v1.PreferenceService",
        "notify.v1.InboxService",
      ]),
    );
    expect(services).not.toContain("cinema.users.v1.UserDirectory");
    // Every service of every registered file, nothing else: a new proto file in registry.ts shows up here.
    const registered = [...createPlatformRegistry()].filter((d) => d.kind === "service").map((d) => d.typeName);
    expect([...services].sort()).toEqual(registered.sort());

    const methods = (await bufCurl("--reflect", "--list-methods", server.url)).trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining([
        "notify.v1.NotificationService/Send",
        "notify.v1.NotificationService/ListByUser",
        "notify.v1.TemplateService/Preview",
        "grpc.health.v1.Health/Watch",
      ]),
    );
  });

  it("gives buf curl descriptors it can call with (no --schema)", async () => {
    const out = await bufCurl("-d", '{"service":""}', `${server.url}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
  });

  it("answers v1alpha over grpc-js with the file and its transitive imports", async () => {
    const answers = await reflectV1alpha(server.address, [
      { case: "listServices", value: "*" },
      { case: "fileContainingSymbol", value: "notify.v1.NotificationService.Send" },
      { case: "fileContainingExtension", value: create(v1alpha.ExtensionRequestSchema, { containingType: "notify.v1.SendRequest", extensionNumber: 100 }) },
      { case: "fileContainingSymbol", value: "notify.v1.NoSuchThing" },
    ]);
    expect(answers).toHaveLength(4);

    const [list, file, ext, missing] = answers.map((a) => a.messageResponse);
    expect(list.case).toBe("listServicesResponse");
    if (list.case === "listServicesResponse") {
      expect(list.value.service.map((s) => s.name)).toContain("notify.v1.NotificationService");
    }

    expect(file.case).toBe("fileDescriptorResponse");
    if (file.case !== "fileDescriptorResponse") return;
    const protos = file.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(protos[0].name).toBe("notify/v1/notification_service.proto");
    expect(protos.map((p) => p.name)).toEqual(
      expect.arrayContaining(["google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]),
    );
    // What a client does with the answer: build a registry and find the method's types.
    const set = create(FileDescriptorSetSchema, { file: [...protos].reverse() });
    const reg = createFileRegistry(set);
    expect(reg.getService("notify.v1.NotificationService")?.methods.map((m) => m.name)).toContain("Send");
    expect(reg.getMessage("notify.v1.SendRequest")?.field.data.message?.typeName).toBe("google.protobuf.Struct");

    expect(ext.case).toBe("errorResponse");
    if (ext.case === "errorResponse") expect(ext.value.errorCode).toBe(Code.NotFound);
    expect(missing.case).toBe("errorResponse");
    if (missing.case === "errorResponse") expect(missing.value.errorMessage).toContain("notify.v1.NoSuchThing");
  });
});

describe("reflection index", () => {
  const index = createReflectionIndex(createPlatformRegistry());
  const fileOf = (symbol: string) => {
    const a = index.answer({ case: "fileContainingSymbol", value: symbol });
    if (a.case !== "fileDescriptorResponse") return a.case;
    return fromBinary(FileDescriptorProtoSchema, a.value.fileDescriptorProto[0]).name;
  };

  it("finds files by service, method, message, nested and enum value names", () => {
    expect(fileOf("notify.v1.TemplateService")).toBe("notify/v1/template_service.proto");
    expect(fileOf("notify.v1.TemplateService.Preview")).toBe("notify/v1/template_service.proto");
    expect(fileOf(".notify.v1.Delivery")).toBe("notify/v1/notification_service.proto");
    expect(fileOf("notify.v1.DELIVERY_STATUS_SENT")).toBe("notify/v1/notification_service.proto");
    expect(fileOf("notify.v1.Recipient.user_id")).toBe("notify/v1/notification_service.proto");
    expect(fileOf("grpc.health.v1.HealthCheckResponse.ServingStatus")).toBe("health/v1/health.proto");
    expect(fileOf("grpc.reflection.v1.ServerReflection")).toBe("grpc/reflection/v1/reflection.proto");
    expect(fileOf("google.protobuf.Timestamp")).toBe("google/protobuf/timestamp.proto");
    expect(fileOf("notify.v1.Nope")).toBe("errorResponse");
  });

  it("serves imported well-known files by name and refuses unknown names", () => {
    const a = index.answer({ case: "fileByFilename", value: "google/protobuf/struct.proto" });
    expect(a.case).toBe("fileDescriptorResponse");
    const b = index.answer({ case: "fileByFilename", value: "nope.proto" });
    expect(b).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
    const c = index.answer({ case: "allExtensionNumbersOfType", value: "notify.v1.SendRequest" });
    expect(c).toEqual({ case: "allExtensionNumbersResponse", value: { baseTypeName: "notify.v1.SendRequest", extensionNumber: [] } });
    expect(index.answer({ case: undefined }).case).toBe("errorResponse");
  });
});

/** A bidi call on grpc.reflection.v1alpha with grpc-js, the way older tools (grpcurl, grpc_cli) ask. */
async function reflectV1alpha(
  address: string,
  requests: v1alpha.ServerReflectionRequest["messageRequest"][],
): Promise<v1alpha.ServerReflectionResponse[]> {
  const path = `/${v1alpha.ServerReflection.typeName}/ServerReflectionInfo`;
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    const call = client.makeBidiStreamRequest(
      path,
      (m: v1alpha.ServerReflectionRequest) => Buffer.from(toBinary(v1alpha.ServerReflectionRequestSchema, m)),
      (b: Buffer) => fromBinary(v1alpha.ServerReflectionResponseSchema, b),
    );
    const out: v1alpha.ServerReflectionResponse[] = [];
    const done = (async () => {
      for await (const res of call) out.push(res as v1alpha.ServerReflectionResponse);
    })();
    for (const messageRequest of requests) {
      call.write(create(v1alpha.ServerReflectionRequestSchema, { host: "", messageRequest }));
    }
    call.end();
    await done;
    return out;
  } finally {
    client.close();
  }
}
