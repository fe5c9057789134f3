// Protocol-level health checks used by ensure-services.sh. A TCP connect is not enough: MariaDB may
// accept connections while still refusing logins, and NATS may be up without JetStream.
//   node scripts/check-services.mjs db   mysql://root@127.0.0.1:3306/notify
//   node scripts/check-services.mjs nats nats://127.0.0.1:4222
// Exit codes: 0 healthy, 1 unreachable or failing, 2 NATS reachable but JetStream unavailable.
import mysql from "mysql2/promise";
import { connect } from "nats";

const [kind, url] = process.argv.slice(2);

async function checkDb(dbUrl) {
  const u = new URL(dbUrl);
  // No database in the options: the platform's database may not exist yet (notifyd creates it).
  const conn = await mysql.createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username || "root"),
    password: decodeURIComponent(u.password),
    connectTimeout: 2000,
  });
  try {
    const [rows] = await conn.query("SELECT VERSION() AS v");
    return `MariaDB ${rows[0].v}`;
  } finally {
    await conn.end();
  }
}

async function checkNats(natsUrl) {
  const nc = await connect({ servers: natsUrl, timeout: 2000, reconnect: false });
  try {
    let info;
    try {
      const jsm = await nc.jetstreamManager({ timeout: 2000 });
      info = await jsm.getAccountInfo();
    } catch (err) {
      const e = new Error(`JetStream unavailable: ${err instanceof Error ? err.message : String(err)}`);
      e.exitCode = 2;
      throw e;
    }
    return `nats-server ${nc.info?.version ?? "?"} (JetStream: ${info.streams} streams)`;
  } finally {
    await nc.close();
  }
}

try {
  if (kind === "db") console.log(await checkDb(url));
  else if (kind === "nats") console.log(await checkNats(url));
  else {
    console.error("usage: check-services.mjs db|nats URL");
    process.exit(64);
  }
  process.exit(0);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(err?.exitCode ?? 1);
}
