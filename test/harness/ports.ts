import { createServer, type Server } from "node:net";

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(port, "127.0.0.1", () => resolve(srv));
  });
}

// Below Linux's ephemeral range (32768-60999 by default): a port handed out there can be taken as the
// local port of any outgoing connection between the check and the child's bind (a bench once lost a
// notifyd start to EADDRINUSE that way); here only another process binding explicitly can collide.
const LOW = 20_000;
const HIGH = 32_000;

async function listenFree(): Promise<Server> {
  for (let i = 0; i < 50; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    try {
      return await listen(port);
    } catch {
      // taken: try another
    }
  }
  return listen(0);
}

/**
 * Ports free on 127.0.0.1 right now, chosen outside the kernel's ephemeral range. All are held open
 * until every one is chosen, so one call never returns the same port twice. Another process can still
 * bind a port before the caller does; the private-server starters retry with new ports when that happens.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenFree());
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === "string") throw new Error("unexpected server address");
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}
