import * as grpc from "@grpc/grpc-js";
import { create, type DescService, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { grpcMethodDefinition } from "./grpc-definition.js";

export interface GrpcClientOptions {
  /** Extra metadata on every call, e.g. { authorization: "Bearer ..." }. */
  metadata?: Record<string, string>;
  /** Default deadline per call in milliseconds. */
  timeoutMs?: number;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

export type GrpcClient<S extends DescService> = Client<S> & { close(): void };

/**
 * Builds a @grpc/grpc-js client for a protobuf-es service descriptor, typed exactly like a Connect
 * client (promises for unary calls, async iterables for server streams) so callers can switch
 * transports without changing code. Errors surface as ConnectError with the gRPC status code.
 */
export function createGrpcClient<S extends DescService>(
  service: S,
  address: string,
  opts: GrpcClientOptions = {},
): GrpcClient<S> {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methods) definition[m.name] = grpcMethodDefinition(service, m);
  const Ctor = grpc.makeGenericClientConstructor(definition as grpc.ServiceDefinition, service.typeName);
  const raw = new Ctor(address, opts.credentials ?? grpc.credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    ...opts.channelOptions,
  }) as unknown as Record<string, (...a: unknown[]) => unknown> & grpc.Client;

  const out: Record<string, unknown> = { close: () => raw.close() };
  for (const m of service.methods) {
    out[m.localName] = bindMethod(raw, m, opts);
  }
  return out as GrpcClient<S>;
}

interface CallOpts {
  timeoutMs?: number;
  headers?: Record<string, string> | Headers;
  signal?: AbortSignal;
}

function bindMethod(raw: Record<string, (...a: unknown[]) => unknown>, m: DescMethod, opts: GrpcClientOptions) {
  const fn = raw[m.name].bind(raw);
  const metaFor = (call?: CallOpts) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
    if (call?.headers) {
      const entries = call.headers instanceof Headers ? [...call.headers.entries()] : Object.entries(call.headers);
      for (const [k, v] of entries) md.set(k, v);
    }
    return md;
  };
  const deadlineFor = (call?: CallOpts) => {
    const t = call?.timeoutMs ?? opts.timeoutMs;
    return t ? { deadline: Date.now() + t } : {};
  };
  if (m.methodKind === "unary") {
    return (req: unknown, call?: CallOpts) =>
      new Promise((resolve, reject) => {
        const msg = create(m.input, req as never);
        // A caller may pass one long-lived signal to many calls: each call's listener goes when it ends.
        const cancel = () => c.cancel();
        const c = fn(msg, metaFor(call), deadlineFor(call), (err: grpc.ServiceError | null, res: unknown) => {
          call?.signal?.removeEventListener("abort", cancel);
          if (err) reject(toConnectError(err));
          else resolve(res);
        }) as grpc.ClientUnaryCall;
        call?.signal?.addEventListener("abort", cancel, { once: true });
      });
  }
  if (m.methodKind === "server_streaming") {
    return (req: unknown, call?: CallOpts) => {
      const stream = fn(create(m.input, req as never), metaFor(call), deadlineFor(call)) as grpc.ClientReadableStream<unknown>;
      const cancel = () => stream.cancel();
      call?.signal?.addEventListener("abort", cancel, { once: true });
      return (async function* () {
        try {
          for await (const item of stream) yield item;
        } catch (err) {
          throw toConnectError(err as grpc.ServiceError);
        } finally {
          call?.signal?.removeEventListener("abort", cancel);
        }
      })();
    };
  }
  return () => {
    throw new ConnectError(`${m.methodKind} calls are not supported by this helper`, Code.Unimplemented);
  };
}

/** grpc-js and Connect share the numeric status codes, so the mapping is the identity. */
export function toConnectError(err: grpc.ServiceError): ConnectError {
  if (err instanceof ConnectError) return err;
  const code = typeof err.code === "number" && err.code > 0 && err.code <= 16 ? (err.code as unknown as Code) : Code.Unknown;
  return new ConnectError(err.details || err.message, code);
}
