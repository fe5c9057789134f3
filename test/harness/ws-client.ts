import { SignJWT } from "jose";
import WebSocket from "ws";

/** A JWT like the cinema's site issues: HS256, sub = user id. expiresIn is in seconds (negative = expired). */
export async function signUserToken(secret: string, userId: string, expiresIn = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(secret));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = Record<string, any>;

export interface TestSocket {
  ws: WebSocket;
  /** Every text frame received, parsed, in order. */
  frames: Frame[];
  /** Resolves with the first frame (already received or coming) that matches. */
  next(match: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Frames matching, after waiting until there are at least n. */
  waitCount(match: (f: Frame) => boolean, n: number, timeoutMs?: number): Promise<Frame[]>;
  send(msg: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export interface OpenOptions {
  token?: string;
  /** Put the token in Sec-WebSocket-Protocol as a browser would. */
  tokenAsProtocol?: boolean;
  origin?: string;
  autoPong?: boolean;
}

export async function openSocket(url: string, o: OpenOptions = {}): Promise<TestSocket> {
  const headers: Record<string, string> = {};
  if (o.token && !o.tokenAsProtocol) headers.authorization = `Bearer ${o.token}`;
  const protocols = o.tokenAsProtocol && o.token ? ["notify.v1", `bearer.${o.token}`] : undefined;
  const ws = new WebSocket(url, protocols, { headers, origin: o.origin, autoPong: o.autoPong ?? true });
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  ws.on("message", (data, binary) => {
    if (!binary) {
      const text = data.toString();
      try {
        frames.push(JSON.parse(text) as Frame);
      } catch {
        frames.push({ type: "<unparsable>", text });
      }
    }
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  const waitCount = (match: (f: Frame) => boolean, n: number, timeoutMs = 5000) =>
    new Promise<Frame[]>((resolve, reject) => {
      const check = () => {
        const got = frames.filter(match);
        if (got.length >= n) {
          waiters.delete(check);
          clearTimeout(t);
          resolve(got);
        }
      };
      const t = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`expected ${n} matching frames within ${timeoutMs} ms; got ${JSON.stringify(frames).slice(0, 800)}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    ws,
    frames,
    next: async (match, timeoutMs) => (await waitCount(match, 1, timeoutMs))[0],
    waitCount,
    send: (msg) => ws.send(typeof msg === "string" ? msg : JSON.stringify(msg)),
    closed,
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      ws.close();
      await closed;
    },
  };
}

/** The HTTP status an upgrade is refused with (or 101 when it is accepted). */
export function upgradeStatus(url: string, o: OpenOptions & { headers?: Record<string, string> } = {}): Promise<number> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, origin: o.origin });
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("error", (err) => reject(err));
  });
}
