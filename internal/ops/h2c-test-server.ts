import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

export interface H2cTestServer {
  port: number;
  /** "http://127.0.0.1:PORT" for Connect transports and buf curl. */
  url: string;
  /** "127.0.0.1:PORT" for grpc-js. */
  address: string;
  close(): Promise<void>;
}

/**
 * An h2c (cleartext HTTP/2) server on a random loopback port for tests of the ops services and notifyctl.
 * close() destroys open sessions, so a test never hangs on a client that kept its connection.
 */
export async function startH2cTestServer(routes: (router: ConnectRouter) => void): Promise<H2cTestServer> {
  const server = http2.createServer(connectNodeAdapter({ routes }));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.destroy();
        server.close(() => resolve());
      }),
  };
}
