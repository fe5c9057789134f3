import type { Socket } from "node:net";
import { Readable } from "node:stream";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { parseConnectionUrl } from "nodemailer/lib/shared";

export interface SmtpPoolOptions {
  /** smtp://[user:pass@]host:port or smtps://...; query options as nodemailer reads them. */
  url: string;
  /** Connections at most; sends beyond them wait for a free one. */
  size: number;
  /** Our name in EHLO. */
  name: string;
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export interface Envelope {
  from: string;
  to: string[];
}

export interface SmtpPool {
  /**
   * Sends one message; rejects with nodemailer's SMTP error (responseCode, code, command). `ready` runs
   * once a connection is in hand, before anything is written: if it throws, the send is abandoned with
   * that error and the connection goes back to the pool.
   */
  send(envelope: Envelope, message: string | Buffer | Readable, ready?: () => void): Promise<{ response: string }>;
  close(): void;
}

interface Conn {
  c: SMTPConnection;
  used: number;
  dead: boolean;
}

type SendInfo = { response?: string };

/**
 * A pool of SMTP connections that sends ready-made messages. nodemailer's transport composes, then
 * streams each message through several transforms; with messages built by the composer, the
 * connection alone is all that is needed. Connections are opened on demand and dropped on any
 * connection-level error; a message refused by the server leaves its connection usable (RSET).
 */
export function createSmtpPool(o: SmtpPoolOptions): SmtpPool {
  const base = {
    ...(parseConnectionUrl(o.url) as Record<string, unknown>),
    name: o.name,
    connectionTimeout: o.connectionTimeoutMs ?? 10_000,
    greetingTimeout: o.connectionTimeoutMs ?? 10_000,
    socketTimeout: o.socketTimeoutMs ?? 60_000,
  } as ConstructorParameters<typeof SMTPConnection>[0] & { auth?: { user: string; pass: string } };
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  const waiters: ((c: Conn | Error) => void)[] = [];
  let opening = 0;
  let closed = false;

  const open = () =>
    new Promise<Conn>((resolve, reject) => {
      const c = new SMTPConnection(base);
      const conn: Conn = { c, used: 0, dead: false };
      // A server that closes an idle connection: forget it, so no send picks it up.
      const drop = () => {
        conn.dead = true;
        all.delete(conn);
        const i = idle.indexOf(conn);
        if (i >= 0) idle.splice(i, 1);
      };
      c.once("end", drop);
      c.on("error", drop);
      c.connect((err) => {
        if (err) {
          drop();
          c.close();
          return reject(err);
        }
        const ready = () => {
          all.add(conn);
          resolve(conn);
        };
        if (!base.auth) return ready();
        c.login(base.auth, (e) => {
          if (e) {
            drop();
            c.close();
            return reject(e);
          }
          ready();
        });
      });
    });

  const acquire = async (): Promise<Conn> => {
    for (;;) {
      const c = idle.pop();
      if (!c) break;
      if (!c.dead) return c;
    }
    if (all.size + opening < o.size) {
      opening++;
      try {
        return await open();
      } finally {
        opening--;
      }
    }
    const got = await new Promise<Conn | Error>((r) => waiters.push(r));
    if (got instanceof Error) throw got;
    return got;
  };

  const release = (conn: Conn) => {
    if (conn.dead || closed) return;
    const w = waiters.shift();
    if (w) w(conn);
    else idle.push(conn);
  };

  const discard = (conn: Conn) => {
    conn.dead = true;
    all.delete(conn);
    conn.c.close();
    // A waiter may now open a connection of its own.
    const w = waiters.shift();
    if (w) acquire().then(w, w);
  };

  const sendOn = (conn: Conn, envelope: Envelope, message: Readable) =>
    new Promise<{ response: string }>((resolve, reject) => {
      conn.c.send(envelope, message, (err, info) => {
        conn.used++;
        if (err) return reject(err);
        resolve({ response: (info as SendInfo)?.response ?? "" });
      });
    });

  return {
    async send(envelope, message, ready) {
      if (closed) throw Object.assign(new Error("SMTP pool closed"), { code: "ECONNECTION" });
      for (let tries = 0; ; tries++) {
        const conn = await acquire();
        try {
          ready?.();
        } catch (err) {
          release(conn);
          throw err;
        }
        // A stream tells afterwards whether any byte of the message was handed to the connection.
        const stream = message instanceof Readable ? message : oneWrite(conn.c, message);
        try {
          const r = await sendOn(conn, envelope, stream);
          release(conn);
          return r;
        } catch (err) {
          const e = err as { code?: string; responseCode?: number };
          if ((e.code === "EENVELOPE" || e.code === "EMESSAGE") && e.responseCode !== 421 && !conn.dead) {
            conn.c.reset((resetErr) => (resetErr ? discard(conn) : release(conn)));
          } else {
            discard(conn);
            // A reused connection the server had closed before we wrote the message: nothing left
            // us, so it may go out over a fresh connection at once.
            if (conn.used > 1 && !stream.readableDidRead && tries === 0 && !(message instanceof Readable)) continue;
          }
          throw err;
        }
      }
    },
    close() {
      closed = true;
      for (const w of waiters.splice(0)) w(Object.assign(new Error("SMTP pool closed"), { code: "ECONNECTION" }));
      for (const conn of all) {
        conn.dead = true;
        conn.c.quit();
      }
      all.clear();
      idle.length = 0;
    },
  };
}

/**
 * A ready-made message as a stream that reaches the socket in one write. The connection escapes the
 * message's dots and then ends it with "\r\n.\r\n" as a second write: on loopback each write is a
 * system call that also runs the receiver's TCP path (about 3% of a worker's CPU per message in a
 * profile). The socket is corked from the moment the message is read until the turn after it ended,
 * once the terminator is queued behind it. nodemailer keeps its socket in `_socket`; without one (a
 * future version) the message simply goes out in two writes as before.
 */
function oneWrite(c: SMTPConnection, message: string | Buffer): Readable {
  const socket = (c as unknown as { _socket?: Socket })._socket;
  let corked = false;
  const uncork = () => {
    if (!corked) return;
    corked = false;
    socket?.uncork();
  };
  const stream = new Readable({
    read() {
      if (socket && typeof socket.cork === "function" && !corked) {
        socket.cork();
        corked = true;
      }
      this.push(message);
      this.push(null);
    },
  });
  // "close" follows "end" (and a destroy without a read); the terminator is queued by then.
  stream.once("close", () => setImmediate(uncork));
  return stream;
}
