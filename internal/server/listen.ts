import http from "node:http";
import http2 from "node:http2";
import type { Duplex } from "node:stream";

/** How long open connections may finish their requests once a listener closes. */
export const CLOSE_GRACE_MS = 2000;

export interface Listener {
  /** The bound address, host:port (port resolved when 0 was asked). */
  address: string;
  port: number;
  close(): Promise<void>;
}

function splitAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** gRPC, Connect and gRPC-Web over cleartext HTTP/2 (h2c), for internal services and operators. */
export async function listenH2c(addr: string, handler: Handler): Promise<Listener> {
  const server = http2.createServer({}, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  return bind(server, addr, async () => {
    for (const s of sessions) s.close();
    // Clients that ignore GOAWAY must not hold shutdown hostage.
    setTimeout(() => {
      for (const s of sessions) s.destroy();
    }, CLOSE_GRACE_MS).unref();
  });
}

/** HTTP/1.1 for browsers, curl, links, websocket upgrades, metrics and probes. */
export async function listenHttp(
  addr: string,
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void,
): Promise<Listener & { server: http.Server }> {
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  if (onUpgrade) server.on("upgrade", onUpgrade);
  else server.on("upgrade", (_req, socket) => socket.destroy());
  const l = await bind(server, addr, async () => {
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
  });
  return { ...l, server };
}

function bind(
  server: http.Server | http2.Http2Server,
  addr: string,
  beforeClose: () => Promise<void>,
): Promise<Listener> {
  const { host, port } = splitAddr(addr);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const a = server.address();
      const p = typeof a === "object" && a ? a.port : port;
      resolve({
        address: `${host}:${p}`,
        port: p,
        close: async () => {
          await beforeClose();
          await new Promise<void>((r) => server.close(() => r()));
        },
      });
    });
  });
}
