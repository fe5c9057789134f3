import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { NatsConnection, Subscription } from "nats";
import { WebSocketServer, type WebSocket } from "ws";
import type { Topology } from "../bus/topology.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { PROTOCOL, UserAuthError, upgradeToken, type UserClaims, type UserVerifier } from "./auth.js";
import { Connection } from "./connection.js";
import { createHeartbeat } from "./heartbeat.js";
import { listItems, unreadCount } from "./inbox-store.js";
import type { MuteStore } from "./mutes.js";
import { frames, type ClientMessage } from "./protocol.js";
import type { Receipts } from "./receipts.js";

export const WS_PATH = "/ws";
export const MAX_PAYLOAD = 64 * 1024;

export interface GatewayDeps {
  db: Db;
  nc: NatsConnection;
  topology: Topology;
  log: Logger;
  ws: Config["ws"];
  verifier: UserVerifier;
  receipts: Receipts;
  mutes: MuteStore;
}

export interface GatewayStats {
  connections: number;
  users: number;
  /** Live NATS subscriptions (one per connected user). */
  subscriptions: number;
}

export interface Gateway {
  /** The HTTP listener's upgrade handler. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  stats(): GatewayStats;
  /** Closes every connection with 1001 (clients reconnect elsewhere) and drops the subscriptions. */
  stop(): Promise<void>;
}

/** A connected user on this instance: their connections (tabs, devices) share one NATS subscription. */
interface UserEntry {
  conns: Set<Connection>;
  sub: Subscription;
  /** Resolves once the server has the subscription, so nothing published after it can be missed. */
  ready: Promise<void>;
}

/**
 * The websocket gateway. Each instance subscribes to the subjects of the users connected to it, so any
 * number of instances behind a load balancer work: the websocket channel publishes on the user's
 * subject and whichever instances hold that user's connections forward the frame.
 */
export function createGateway(d: GatewayDeps): Gateway {
  const log = d.log.child({ area: "gateway" });
  const users = new Map<string, UserEntry>();
  let connections = 0;
  let stopping = false;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_PAYLOAD,
    // Compression costs ~300 KiB of zlib state per connection; notifications are small.
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
  });
  const limits = { maxMsgsPerSec: d.ws.maxMsgsPerSec, maxBufferedBytes: d.ws.maxBufferedBytes };
  const origins = new Set(d.ws.origins.map((o) => o.toLowerCase()));

  // Heartbeat: a peer that did not answer the previous ping is gone (a closed laptop, a dropped
  // mobile link) and is cut off; an expired token ends its connection too. Each connection is seen
  // once per NOTIFY_WS_HEARTBEAT, a slice of them at a time.
  const heartbeat = createHeartbeat<Connection>({
    periodMs: d.ws.heartbeatMs,
    visit(c) {
      if (!c.alive) {
        c.ws.terminate();
      } else if (c.expiresAt && c.expiresAt < Date.now()) {
        c.close(1008, "token expired");
      } else {
        c.alive = false;
        c.ws.ping();
      }
    },
  });

  const hooks = {
    command: (c: Connection, m: ClientMessage) => void runCommand(c, m),
    closed: (c: Connection) => unregister(c),
  };

  function register(c: Connection): UserEntry {
    let e = users.get(c.userId);
    if (!e) {
      const conns = new Set<Connection>();
      const sub = d.nc.subscribe(d.topology.subjects.wsUser(c.userId), {
        callback: (_err, m) => {
          const frame = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
          for (const x of conns) x.push(frame);
        },
      });
      e = { conns, sub, ready: d.nc.flush() };
      users.set(c.userId, e);
    }
    e.conns.add(c);
    heartbeat.add(c);
    connections++;
    return e;
  }

  // Runs on the close event: the user's registration, and with the last connection their
  // subscription, go at once, so the registry is back to its size before the connection.
  function unregister(c: Connection) {
    const e = users.get(c.userId);
    if (!e || !e.conns.delete(c)) return;
    heartbeat.delete(c);
    connections--;
    if (e.conns.size === 0) {
      users.delete(c.userId);
      e.sub.unsubscribe();
    }
  }

  async function onConnection(ws: WebSocket, claims: UserClaims) {
    const c = new Connection(ws, claims.userId, claims.expiresAt, limits, hooks, log);
    const entry = register(c);
    try {
      await entry.ready;
      const [count, backlog] = await Promise.all([
        unreadCount(d.db, c.userId),
        d.ws.backlog > 0 ? listItems(d.db, c.userId, { limit: d.ws.backlog, unreadOnly: true }) : Promise.resolve([]),
      ]);
      if (c.closing) return;
      c.send(frames.hello(c.userId, count, d.ws.heartbeatMs, d.ws.maxMsgsPerSec));
      for (const it of backlog) c.send(frames.notification(it));
      c.goLive(new Set(backlog.map((it) => it.id)));
    } catch (err) {
      log.warn({ userId: c.userId, err: (err as Error).message }, "websocket setup failed");
      c.send(frames.error("unavailable", "the inbox is unavailable; reconnect later"));
      c.close(1011, "inbox unavailable");
    }
  }

  async function runCommand(c: Connection, m: ClientMessage) {
    try {
      switch (m.type) {
        case "ping":
          c.send(frames.pong(m.ref));
          return;
        case "ack": {
          const changed = await d.receipts.record(c.userId, m.ids, "delivered");
          if (m.ref !== undefined) c.send(frames.ok("ack", m.ref, { changed: changed.length }));
          return;
        }
        case "read": {
          const n = m.all ? await d.receipts.markAllRead(c.userId) : (await d.receipts.record(c.userId, m.ids, "read")).length;
          if (m.ref !== undefined) c.send(frames.ok("read", m.ref, { changed: n }));
          return;
        }
        case "mute":
        case "unmute": {
          const changed = m.type === "mute" ? await d.mutes.mute(c.userId, m.mute) : await d.mutes.unmute(c.userId, m.mute);
          if (m.ref !== undefined) c.send(frames.ok(m.type, m.ref, { [m.mute.kind]: m.mute.value, changed }));
          return;
        }
      }
    } catch (err) {
      log.warn({ userId: c.userId, type: m.type, err: (err as Error).message }, "websocket command failed");
      c.send(frames.error("internal", `${m.type} failed; try again`, m.ref));
    }
  }

  function reject(socket: Duplex, status: number, message: string) {
    const body = JSON.stringify({ error: message });
    const extra = status === 401 ? 'WWW-Authenticate: Bearer realm="notify"\r\n' : "";
    socket.once("finish", () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
    );
  }

  function originAllowed(origin: string | undefined): boolean {
    // Apps and servers send no Origin; browsers always do, and only the listed sites may connect.
    if (origin === undefined) return true;
    return origins.has("*") || origins.has(origin.toLowerCase());
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on("error", () => socket.destroy());
    const path = (req.url ?? "/").split("?")[0];
    if (path !== WS_PATH) return reject(socket, 404, "not found");
    if (stopping) return reject(socket, 503, "shutting down");
    if (!originAllowed(req.headers.origin)) return reject(socket, 403, "origin not allowed");
    let claims: UserClaims;
    try {
      claims = await d.verifier.verify(upgradeToken(req) ?? "");
    } catch (err) {
      const e = err instanceof UserAuthError ? err : new UserAuthError("invalid token");
      return reject(socket, e.status, e.message);
    }
    if ((users.get(claims.userId)?.conns.size ?? 0) >= d.ws.maxConnsPerUser) {
      return reject(socket, 429, `at most ${d.ws.maxConnsPerUser} connections per user`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => void onConnection(ws, claims));
  }

  return {
    handleUpgrade: (req, socket, head) => void handleUpgrade(req, socket, head),
    stats: () => ({ connections, users: users.size, subscriptions: [...users.values()].filter((e) => !e.sub.isClosed()).length }),
    async stop() {
      stopping = true;
      heartbeat.stop();
      const all = [...users.values()].flatMap((e) => [...e.conns]);
      for (const c of all) c.close(1001, "server going away");
      const deadline = Date.now() + 1000;
      while (connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of all) c.ws.terminate();
      for (const e of users.values()) e.sub.unsubscribe();
      users.clear();
      d.receipts.stop();
    },
  };
}
