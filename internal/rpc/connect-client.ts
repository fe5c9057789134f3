import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";

export interface ConnectClientOptions {
  /** Base URL, e.g. http://127.0.0.1:50051 */
  baseUrl: string;
  /** "grpc" (HTTP/2) or "connect" (JSON or binary, over HTTP/1.1 or HTTP/2). Default "grpc". */
  protocol?: "grpc" | "connect";
  /**
   * The Connect protocol's HTTP version; default "1.1" (any HTTP port, proxies, curl). "2" speaks h2c
   * to the gRPC port: a unary call there costs connect-node well under half of what a gRPC call does
   * (no envelopes, no trailers), which is the cheap path for a high-volume sender.
   */
  httpVersion?: "1.1" | "2";
  /** API key sent as a bearer token. */
  apiKey?: string;
  /** Use JSON instead of binary (Connect protocol only). */
  json?: boolean;
}

/** A Connect client for any service of the platform, with the API key attached to every call. */
export function createConnectClient<S extends DescService>(service: S, opts: ConnectClientOptions): Client<S> {
  const interceptors: Interceptor[] = [];
  if (opts.apiKey) {
    const value = `Bearer ${opts.apiKey}`;
    interceptors.push((next) => (req) => {
      req.header.set("authorization", value);
      return next(req);
    });
  }
  const transport =
    opts.protocol === "connect"
      ? createConnectTransport({ baseUrl: opts.baseUrl, httpVersion: opts.httpVersion ?? "1.1", useBinaryFormat: !opts.json, interceptors })
      : createGrpcTransport({ baseUrl: opts.baseUrl, interceptors });
  return createClient(service, transport);
}
