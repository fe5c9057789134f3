import type { RawData, WebSocket } from "ws";
import type { Logger } from "../log/logger.js";
import { frameItemId, frames, parseClientMessage, type ClientMessage } from "./protocol.js";

export interface ConnectionLimits {
  maxMsgsPerSec: number;
  /** Bytes the socket may hold unsent before the reader counts as too slow. */
  maxBufferedBytes: number;
}

export interface ConnectionHooks {
  command(c: Connection, msg: ClientMessage): void;
  closed(c: Connection): void;
}

/** Live frames that arrive while the unread backlog is being sent wait here (bounded: the inbox has them). */
const MAX_QUEUED = 256;
/** Windows in a row over the rate limit before the connection is closed. */
const MAX_STRIKES = 3;
const SLOW_CLOSE_GRACE_MS = 2000;

/**
 * One client connection. A class (not closures) because a gateway holds thousands of these: the
 * methods live once on the prototype, and the per-connection state is a handful of fields.
 */
export class Connection {
  /** Answered the last heartbeat ping. */
  alive = true;
  closing = false;
  private live = false;
  private queue: Buffer[] | undefined = [];
  private windowStart = 0;
  private windowCount = 0;
  private strikes = 0;
  private warned = false;

  constructor(
    readonly ws: WebSocket,
    readonly userId: string,
    /** Token expiry (ms since the epoch): the connection is closed then. */
    readonly expiresAt: number,
    private readonly limits: ConnectionLimits,
    private readonly hooks: ConnectionHooks,
    private readonly log: Logger,
  ) {
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("pong", () => {
      this.alive = true;
    });
    ws.on("close", () => {
      this.closing = true;
      this.queue = undefined;
      hooks.closed(this);
    });
    // ws reports protocol violations (oversized or malformed frames) here and closes by itself (1009, 1002).
    ws.on("error", (err) => log.debug({ userId, err: err.message }, "websocket error"));
  }

  /** A live frame from NATS (a notification or an unread update). */
  push(frame: Buffer): void {
    if (this.closing) return;
    if (!this.live) {
      if (this.queue && this.queue.length < MAX_QUEUED) this.queue.push(frame);
      return;
    }
    this.write(frame);
  }

  /** Starts live delivery after the backlog; queued frames for items already sent are dropped. */
  goLive(sent: ReadonlySet<string>): void {
    const q = this.queue ?? [];
    this.queue = undefined;
    this.live = true;
    for (const f of q) {
      const id = frameItemId(f.toString("utf8"));
      if (id && sent.has(id)) continue;
      this.write(f);
    }
  }

  send(frame: string): void {
    if (!this.closing) this.write(frame);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.ws.close(code, reason);
  }

  private write(frame: string | Buffer): void {
    if (this.ws.readyState !== 1) return;
    // A client that does not read would make the gateway buffer without end; past the bound it is cut off.
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.log.info({ userId: this.userId, buffered: this.ws.bufferedAmount }, "closing a slow websocket reader");
      this.close(1013, "slow reader: send buffer full");
      const ws = this.ws;
      setTimeout(() => ws.terminate(), SLOW_CLOSE_GRACE_MS).unref();
      return;
    }
    this.ws.send(frame, { binary: false });
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    if (!this.admit()) return;
    if (isBinary) {
      this.send(frames.warning("binary_frame", "binary frames are not supported; send JSON text"));
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString("utf8") : Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data).toString("utf8");
    const r = parseClientMessage(text);
    if (!r.ok) {
      this.send(frames.warning(r.code, r.reason, r.ref));
      return;
    }
    this.hooks.command(this, r.msg);
  }

  /** Fixed one-second windows: over the limit -> warning and the excess dropped; it goes on -> 1008. */
  private admit(): boolean {
    const now = Date.now();
    const limit = this.limits.maxMsgsPerSec;
    if (now - this.windowStart >= 1000) {
      const quiet = this.windowCount <= limit || now - this.windowStart >= 2000;
      if (quiet) this.strikes = 0;
      this.windowStart = now;
      this.windowCount = 0;
      this.warned = false;
    }
    this.windowCount++;
    if (this.windowCount <= limit) return true;
    if (!this.warned) {
      this.warned = true;
      this.strikes++;
      this.send(frames.warning("rate_limited", `more than ${limit} messages per second; the excess is dropped`));
    }
    if (this.windowCount > 2 * limit || this.strikes >= MAX_STRIKES) {
      this.log.info({ userId: this.userId }, "closing a flooding websocket client");
      this.close(1008, "too many messages");
    }
    return false;
  }
}
