import net from "node:net";
import tls from "node:tls";

/**
 * Asks an SMTP relay whether it would take mail now, without sending any: greeting, EHLO,
 * MAIL FROM:<>, RSET, QUIT. A relay that is down refuses the connection, times out or answers 4xx
 * (421 "service not available"); a 5xx to MAIL FROM (authentication or TLS required) still means it
 * is up. A plain connect (nodemailer's verify) would pass while the relay answers 421 to every mail.
 */
export async function probeSmtp(url: string, timeoutMs = 5000, helo = "probe.invalid"): Promise<void> {
  const u = new URL(url);
  const secure = u.protocol === "smtps:";
  const port = Number(u.port || (secure ? 465 : 25));
  const socket: net.Socket = secure
    ? tls.connect({ host: u.hostname, port, servername: u.hostname })
    : net.connect({ host: u.hostname, port });
  socket.setTimeout(timeoutMs);
  let buf = "";
  let pending: { resolve: (r: { code: number; text: string }) => void; reject: (e: Error) => void } | undefined;
  let failure: Error | undefined;
  const fail = (e: Error) => {
    failure ??= e;
    pending?.reject(e);
    pending = undefined;
  };
  socket.on("data", (chunk: Buffer) => {
    buf += chunk.toString("latin1");
    // A reply is complete at a line whose code is followed by a space (not a dash).
    const m = /(?:^|\r?\n)(\d{3}) [^\r\n]*\r?\n$/.exec(buf);
    if (m && pending) {
      const r = { code: Number(m[1]), text: buf.trim().slice(0, 200) };
      buf = "";
      const p = pending;
      pending = undefined;
      p.resolve(r);
    }
  });
  socket.on("timeout", () => {
    fail(new Error(`smtp probe: no answer within ${timeoutMs} ms`));
    socket.destroy();
  });
  socket.on("error", (e) => fail(new Error(`smtp probe: ${e.message}`)));
  socket.on("close", () => fail(new Error("smtp probe: connection closed")));
  const reply = () =>
    new Promise<{ code: number; text: string }>((resolve, reject) => {
      if (failure) return reject(failure);
      pending = { resolve, reject };
    });
  const command = (line: string) => {
    socket.write(`${line}\r\n`);
    return reply();
  };
  try {
    const greeting = await reply();
    if (greeting.code >= 400) throw new Error(`smtp probe: greeting ${greeting.text}`);
    let hello = await command(`EHLO ${helo}`);
    if (hello.code >= 500) hello = await command(`HELO ${helo}`);
    if (hello.code >= 400) throw new Error(`smtp probe: EHLO ${hello.text}`);
    const mail = await command("MAIL FROM:<>");
    if (mail.code >= 400 && mail.code < 500) throw new Error(`smtp probe: MAIL FROM ${mail.text}`);
    await command("RSET").catch(() => undefined);
    socket.write("QUIT\r\n");
  } finally {
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}
