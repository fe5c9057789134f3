import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as S } from "../../gen/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { createConnectClient } from "./connect-client.js";
import { createGrpcClient } from "./grpc-client.js";
import { listenGrpc, recordRoutes } from "./grpc-server.js";
import type { Listener } from "../server/listen.js";

// The adapter is exercised through real gRPC clients of both libraries over a real socket.
const caller = createContextKey<string>("nobody");
const seen: { interceptor: string[]; aborted: string[] } = { interceptor: [], aborted: [] };

// Not async: it throws before it returns a promise, which the adapter must still answer.
const strict: Interceptor = (next) => (req) => {
  if (req.header.get("x-refuse-now")) throw new ConnectError("refused at once", Code.FailedPrecondition);
  return next(req);
};

const auth: Interceptor = (next) => async (req) => {
  seen.interceptor.push(`${req.method.name}:${req.stream}`);
  const key = req.header.get("authorization");
  if (key === "Bearer refuse") throw new ConnectError("refused by the interceptor", Code.PermissionDenied);
  if (key) req.contextValues.set(caller, key.slice("Bearer ".length));
  return next(req);
};

let listener: Listener;
let addr: string;

beforeAll(async () => {
  const routes = recordRoutes((router) => {
    router.service(Health, {
      async check(req, ctx) {
        switch (req.service) {
          case "who":
            ctx.responseHeader.set("x-served-by", "grpc-js");
            ctx.responseTrailer.set("x-caller", ctx.values.get(caller));
            // An init object, not a message: the adapter makes the message.
            return { status: S.SERVING };
          case "not-found":
            throw new ConnectError("no such service 'not-found'", Code.NotFound, { "x-reason": "unknown" });
          case "bug":
            throw new Error("SELECT secret FROM keys failed");
          case "slow":
            await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
            seen.aborted.push(String((ctx.signal.reason as ConnectError).code));
            return { status: S.NOT_SERVING };
          default:
            return create(Health.method.check.output, { status: S.UNKNOWN });
        }
      },
      async *watch(req) {
        for (const status of [S.SERVING, S.NOT_SERVING, S.SERVING]) yield { status };
        if (req.service === "fail") throw new ConnectError("the watched service went away", Code.Unavailable);
      },
    });
    // v1 reflection stands in for any bidi method: it answers each request, then ends with the input.
    router.service(v1.ServerReflection, {
      async *serverReflectionInfo(requests) {
        let n = 0;
        for await (const r of requests) {
          n++;
          yield { originalRequest: r, messageResponse: { case: "errorResponse", value: { errorCode: n, errorMessage: r.host } } };
        }
      },
    });
  });
  listener = await listenGrpc("127.0.0.1:0", routes, { interceptors: [strict, auth], readMaxBytes: 64 * 1024 });
  addr = listener.address;
});

afterAll(async () => {
  await listener?.close();
});

describe("listenGrpc serves Connect implementations over grpc-js", () => {
  it("runs the interceptor, passes context values, and sends response headers and trailers", async () => {
    const c = createConnectClient(Health, { baseUrl: `http://${addr}`, apiKey: "alice" });
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await c.check({ service: "who" }, { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) });
    expect(res.status).toBe(S.SERVING);
    expect(header?.get("x-served-by")).toBe("grpc-js");
    expect(trailer?.get("x-caller")).toBe("alice");
    expect(seen.interceptor).toContain("Check:false");
  });

  it("answers a grpc-js stub too", async () => {
    const stub = createGrpcClient(Health, addr, { metadata: { authorization: "Bearer bob" } });
    try {
      expect((await stub.check({ service: "" })).status).toBe(S.UNKNOWN);
    } finally {
      stub.close();
    }
  });

  it("returns a ConnectError's code, message and metadata; anything else only as internal", async () => {
    const c = createConnectClient(Health, { baseUrl: `http://${addr}` });
    const nf = ConnectError.from(await c.check({ service: "not-found" }).catch((e) => e));
    expect(nf.code).toBe(Code.NotFound);
    expect(nf.rawMessage).toBe("no such service 'not-found'");
    expect(nf.metadata.get("x-reason")).toBe("unknown");
    const bug = ConnectError.from(await c.check({ service: "bug" }).catch((e) => e));
    expect(bug.code).toBe(Code.Internal);
    expect(bug.rawMessage).toBe("internal error");
    const refused = ConnectError.from(await createConnectClient(Health, { baseUrl: `http://${addr}`, apiKey: "refuse" }).check({}).catch((e) => e));
    expect(refused.code).toBe(Code.PermissionDenied);
    const atOnce = ConnectError.from(await c.check({}, { headers: { "x-refuse-now": "1" } }).catch((e) => e));
    expect(atOnce.code).toBe(Code.FailedPrecondition);
    expect(atOnce.rawMessage).toBe("refused at once");
  });

  it("aborts the handler's signal when the caller's deadline passes", async () => {
    const c = createConnectClient(Health, { baseUrl: `http://${addr}` });
    const err = ConnectError.from(await c.check({ service: "slow" }, { timeoutMs: 150 }).catch((e) => e));
    expect(err.code).toBe(Code.DeadlineExceeded);
    await expect.poll(() => seen.aborted.length).toBe(1);
    expect(seen.aborted[0]).toBe(String(Code.DeadlineExceeded));
  });

  it("streams a server-streaming method and ends it with the handler's error", async () => {
    const c = createConnectClient(Health, { baseUrl: `http://${addr}` });
    const ok: S[] = [];
    for await (const r of c.watch({ service: "" })) ok.push(r.status);
    expect(ok).toEqual([S.SERVING, S.NOT_SERVING, S.SERVING]);
    const got: S[] = [];
    const err = await (async () => {
      for await (const r of c.watch({ service: "fail" })) got.push(r.status);
    })().catch((e) => ConnectError.from(e));
    expect(got).toHaveLength(3);
    expect(err?.code).toBe(Code.Unavailable);
    expect(seen.interceptor).toContain("Watch:true");
  });

  it("streams both ways and ends when the caller half-closes", async () => {
    const c = createConnectClient(v1.ServerReflection, { baseUrl: `http://${addr}` });
    async function* requests() {
      for (const host of ["a", "b", "c"]) yield create(v1.ServerReflectionRequestSchema, { host });
    }
    const answers: string[] = [];
    for await (const r of c.serverReflectionInfo(requests(), { timeoutMs: 5000 })) {
      if (r.messageResponse.case === "errorResponse") answers.push(`${r.messageResponse.value.errorCode}${r.messageResponse.value.errorMessage}`);
    }
    expect(answers).toEqual(["1a", "2b", "3c"]);
  });

  it("refuses a request above the read limit", async () => {
    const c = createConnectClient(Health, { baseUrl: `http://${addr}` });
    const err = ConnectError.from(await c.check({ service: "x".repeat(100 * 1024) }).catch((e) => e));
    expect(err.code).toBe(Code.ResourceExhausted);
  });

  it("answers an unregistered method as unimplemented", async () => {
    const routes = recordRoutes((router) => router.service(Health, {}));
    const l = await listenGrpc("127.0.0.1:0", routes, { readMaxBytes: 1024 });
    try {
      const err = ConnectError.from(await createConnectClient(Health, { baseUrl: `http://${l.address}` }).check({}).catch((e) => e));
      expect(err.code).toBe(Code.Unimplemented);
    } finally {
      await l.close();
    }
  });

  it("replays the same implementations on a Connect router", () => {
    const impl = { check: () => ({ status: S.SERVING }) };
    const routes = recordRoutes((router) => router.service(Health, impl));
    const registered: unknown[] = [];
    routes.replay({ service: (_s: unknown, i: unknown) => registered.push(i) } as never);
    expect(registered).toEqual([impl]);
    // Every method of the service, the missing ones answering unimplemented.
    expect(routes.methods.map((m) => m.spec.method.name).sort()).toEqual(Health.methods.map((m) => m.name).sort());
  });
});
