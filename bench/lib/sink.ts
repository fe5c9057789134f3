import { SMTPServer } from "smtp-server";

export interface CountingSink {
  port: number;
  url: string;
  count(): number;
  /** Bytes of message data received in all. */
  bytes(): number;
  /** Arrival time (ms, performance.now based epoch) per Subject. */
  arrivals: Map<string, number>;
  duplicates(): number;
  /** The whole source of the first messages received, as many as `keep` asked for. */
  kept(): Buffer[];
  waitFor(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The cheapest honest SMTP peer: it speaks real SMTP but only scans the header block for the
 * Subject and Message-ID instead of parsing MIME, so the sink costs as little CPU as possible and
 * the figures measure the sender.
 */
export async function startCountingSink(opts: { keep?: number } = {}): Promise<CountingSink> {
  const kept: Buffer[] = [];
  let n = 0;
  let bytes = 0;
  let dups = 0;
  const seen = new Set<string>();
  const arrivals = new Map<string, number>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    disableReverseLookup: true,
    authOptional: true,
    hideSTARTTLS: true,
    logger: false,
    size: 10 * 1024 * 1024,
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const whole = Buffer.concat(chunks);
        bytes += whole.length;
        if (kept.length < (opts.keep ?? 0)) kept.push(whole);
        const head = whole.toString("latin1", 0, 4096);
        const headerEnd = head.indexOf("\r\n\r\n");
        const h = headerEnd > 0 ? head.slice(0, headerEnd) : head;
        const id = /^Message-ID:\s*(\S+)/im.exec(h)?.[1] ?? "";
        const subject = /^Subject:\s*(.*)$/im.exec(h)?.[1]?.trim() ?? "";
        if (id && seen.has(id)) dups++;
        else if (id) seen.add(id);
        arrivals.set(subject, performance.now());
        n++;
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (n >= waiters[i].n) {
            waiters[i].resolve();
            waiters.splice(i, 1);
          }
        }
        cb();
      });
    },
  });
  // Without TCP_NODELAY, small SMTP replies meet the peer's delayed ACK: ~40 ms per message.
  server.server.on("connection", (socket: import("node:net").Socket) => socket.setNoDelay(true));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    count: () => n,
    bytes: () => bytes,
    arrivals,
    duplicates: () => dups,
    kept: () => kept,
    waitFor: (target, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        if (n >= target) return resolve();
        const t = setTimeout(() => reject(new Error(`sink got ${n} of ${target} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n: target,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
