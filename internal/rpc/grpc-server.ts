import type { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { create, isMessage, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createMethodImplSpec,
  createServiceImplSpec,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { CLOSE_GRACE_MS, type Listener } from "../server/listen.js";
import { grpcMethodDefinition } from "./grpc-definition.js";

/**
 * The gRPC protocol served by @grpc/grpc-js, for the same Connect service implementations and
 * interceptors that connect-node serves on the HTTP listener. Why: connect-node runs a unary gRPC call
 * through its streaming machinery and spends about five times the CPU grpc-js does on the same call
 * (bench:instant's RPC floor); at saturation that was the biggest single cost of a Send.
 */

interface Registered {
  service: DescService;
  spec: MethodImplSpec;
  interceptors: Interceptor[];
}

export interface RecordedRoutes {
  methods: Registered[];
  /** Registers the same implementations on a Connect router (for connect-node). */
  replay(router: ConnectRouter): void;
}

/**
 * Runs a routes function once against a recorder, so one set of service objects serves both
 * servers. Supports what the platform's areas use: `service()` and `rpc()`.
 */
export function recordRoutes(routes: (router: ConnectRouter) => void): RecordedRoutes {
  const calls: ((r: ConnectRouter) => void)[] = [];
  const methods: Registered[] = [];
  const recorder = {
    handlers: [],
    service(service: DescService, impl: object, options?: { interceptors?: Interceptor[] }) {
      calls.push((r) => r.service(service, impl as never, options));
      const spec = createServiceImplSpec(service, impl as never);
      for (const m of Object.values(spec.methods)) methods.push({ service, spec: m, interceptors: options?.interceptors ?? [] });
      return recorder;
    },
    rpc(method: DescMethod, impl: never, options?: { interceptors?: Interceptor[] }) {
      calls.push((r) => r.rpc(method, impl, options));
      methods.push({ service: method.parent, spec: createMethodImplSpec(method, impl), interceptors: options?.interceptors ?? [] });
      return recorder;
    },
  };
  routes(recorder as unknown as ConnectRouter);
  return {
    methods,
    replay(router) {
      for (const c of calls) c(router);
    },
  };
}

export interface GrpcServerOptions {
  /** Server-wide interceptors, outermost first (as connect-node applies them). */
  interceptors?: Interceptor[];
  /** Largest request message accepted. */
  readMaxBytes: number;
  /** How long close() lets calls in flight finish before cancelling them (default 2 s, as the h2c listener). */
  closeGraceMs?: number;
}

export async function listenGrpc(addr: string, routes: RecordedRoutes, o: GrpcServerOptions): Promise<Listener> {
  const server = new grpc.Server({ "grpc.max_receive_message_length": o.readMaxBytes });
  const byService = new Map<DescService, Registered[]>();
  for (const r of routes.methods) {
    const regs = byService.get(r.service) ?? [];
    regs.push(r);
    byService.set(r.service, regs);
  }
  for (const [service, regs] of byService) {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const handlers: Record<string, grpc.UntypedHandleCall> = {};
    for (const r of regs) {
      const m = r.spec.method;
      definition[m.name] = grpcMethodDefinition(service, m);
      handlers[m.name] = handlerFor(service, r.spec, [...(o.interceptors ?? []), ...r.interceptors]) as grpc.UntypedHandleCall;
    }
    server.addService(definition as grpc.ServiceDefinition, handlers);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const host = addr.slice(0, addr.lastIndexOf(":"));
  return {
    address: `${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), o.closeGraceMs ?? CLOSE_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}


/** What every kind of grpc-js server call offers. */
type AnyCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, "cancelled" | "metadata" | "getDeadline" | "sendMetadata"> & NodeJS.EventEmitter;

function handlerFor(service: DescService, spec: MethodImplSpec, interceptors: Interceptor[]) {
  // Interceptors see the method as connect-node shows it; their request and response types are narrow per kind.
  const method = spec.method as never as DescMethod & { methodKind: never };
  const apply = <Req, Res>(final: (req: Req) => Promise<Res>) =>
    interceptors.reduceRight((next, i) => i(next as never) as never, final) as (req: Req) => Promise<Res>;
  switch (spec.kind) {
    case "unary":
      return (call: grpc.ServerUnaryCall<unknown, unknown>, done: grpc.sendUnaryData<unknown>) => {
        const ctx = contextFor(call, service, method);
        const final = async (req: UnaryRequest): Promise<UnaryResponse> => ({
          stream: false,
          service,
          method,
          header: ctx.responseHeader,
          trailer: ctx.responseTrailer,
          message: normalize(method.output, await spec.impl(req.message as never, ctx)),
        });
        let answer: Promise<UnaryResponse>;
        try {
          answer = apply(final)(requestOf(ctx, false, call.request));
        } catch (e) {
          // An interceptor that throws before returning its promise still answers with its error.
          answer = Promise.reject(e);
        }
        answer.then(
          (res) => {
            sendHeader(call, res.header);
            done(null, res.message, trailerOf(res.trailer));
          },
          (e: unknown) => done(statusOf(e)),
        );
      };
    case "server_streaming":
    case "bidi_streaming":
    case "client_streaming":
      return (call: grpc.ServerWritableStream<unknown, unknown> & Partial<grpc.ServerDuplexStream<unknown, unknown>>) => {
        const ctx = contextFor(call, service, method);
        // Iterating a Readable destroys it at the end, and with it this duplex call's writing side.
        const input: AsyncIterable<unknown> =
          spec.kind === "server_streaming" ? once(call.request) : (call as unknown as Readable).iterator({ destroyOnReturn: false });
        const final = async (req: StreamRequest): Promise<StreamResponse> => {
          let output: AsyncIterable<unknown>;
          if (spec.kind === "server_streaming") output = spec.impl((await first(req.message)) as never, ctx) as AsyncIterable<unknown>;
          else if (spec.kind === "bidi_streaming") output = spec.impl(req.message as never, ctx) as AsyncIterable<unknown>;
          else output = once(await spec.impl(req.message as never, ctx));
          return { stream: true, service, method, header: ctx.responseHeader, trailer: ctx.responseTrailer, message: output as never };
        };
        void (async () => {
          try {
            const res = await apply(final)(requestOf(ctx, true, input));
            // Headers go out before the first message, so a handler can still set them while it starts.
            let headerSent = false;
            const header = () => {
              if (!headerSent) sendHeader(call, res.header);
              headerSent = true;
            };
            for await (const m of res.message) {
              header();
              if (call.cancelled) break;
              if (!call.write(normalize(method.output, m as never))) await waitForDrain(call);
            }
            header();
            call.end(trailerOf(res.trailer));
          } catch (e) {
            if (!call.cancelled) call.emit("error", statusOf(e));
          }
        })();
      };
  }
}

/** The request interceptors see; a unary call's signal stays unmade unless one of them reads it. */
function requestOf(ctx: HandlerContext, stream: false, message: unknown): UnaryRequest;
function requestOf(ctx: HandlerContext, stream: true, message: AsyncIterable<unknown>): StreamRequest;
function requestOf(ctx: HandlerContext, stream: boolean, message: unknown): UnaryRequest | StreamRequest {
  return {
    stream,
    service: ctx.service,
    method: ctx.method,
    requestMethod: "POST",
    url: ctx.url,
    get signal() {
      return ctx.signal;
    },
    header: ctx.requestHeader,
    contextValues: ctx.values,
    message,
  } as UnaryRequest | StreamRequest;
}

/**
 * A HandlerContext like connect-node's, with the AbortSignal made only when a handler asks for it:
 * connect-node builds one per call and aborts it with a new DOMException, a measurable part of its cost.
 */
function contextFor(call: AnyCall, service: DescService, method: DescMethod): HandlerContext {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  let controller: AbortController | undefined;
  return {
    service,
    method,
    protocolName: "grpc",
    requestMethod: "POST",
    url: `/${service.typeName}/${method.name}`,
    requestHeader: headersOf(call.metadata),
    values: createContextValues(),
    timeoutMs: () => (Number.isFinite(at) ? at - Date.now() : undefined),
    get signal() {
      if (!controller) {
        const c = (controller = new AbortController());
        // grpc-js cancels the call itself when its deadline passes; the reason says which it was.
        const cancelled = () =>
          c.abort(
            Date.now() >= at
              ? new ConnectError("the deadline was exceeded", Code.DeadlineExceeded)
              : new ConnectError("the call was cancelled", Code.Canceled),
          );
        if (call.cancelled) cancelled();
        else call.once("cancelled", cancelled);
      }
      return controller.signal;
    },
    responseHeader: new Headers(),
    responseTrailer: new Headers(),
  };
}

function headersOf(md: grpc.Metadata): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(md.getMap())) h.append(k, typeof v === "string" ? v : v.toString("base64"));
  return h;
}

function metadataOf(h: Headers | undefined): grpc.Metadata | undefined {
  if (!h) return undefined;
  let md: grpc.Metadata | undefined;
  h.forEach((v, k) => {
    md ??= new grpc.Metadata();
    if (k.endsWith("-bin")) md.add(k, Buffer.from(v, "base64"));
    else md.add(k, v);
  });
  return md;
}

function sendHeader(call: AnyCall, h: Headers) {
  const md = metadataOf(h);
  if (md) call.sendMetadata(md);
}

const trailerOf = (h: Headers) => metadataOf(h);

function statusOf(e: unknown): Partial<grpc.StatusObject> {
  // As connect-node does: a ConnectError reaches the caller as it is, anything else only as "internal".
  const err = e instanceof ConnectError ? e : new ConnectError("internal error", Code.Internal, undefined, undefined, e);
  return { code: err.code as number, details: err.rawMessage, metadata: metadataOf(err.metadata) ?? new grpc.Metadata() };
}

function normalize(schema: DescMessage, m: object) {
  return isMessage(m, schema) ? m : create(schema, m as never);
}

async function* once<T>(v: T): AsyncIterable<T> {
  yield v;
}

async function first<T>(it: AsyncIterable<T>): Promise<T> {
  for await (const v of it) return v;
  throw new ConnectError("protocol error: missing input message", Code.InvalidArgument);
}

function waitForDrain(call: AnyCall): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      resolve();
    };
    call.on("drain", done);
    call.on("cancelled", done);
  });
}
