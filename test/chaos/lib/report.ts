import { setTimeout as sleep } from "node:timers/promises";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { ARTIFACTS_DIR, type SmtpSink } from "../../harness/index.js";
import type { LoadPlan, SendReport } from "./load.js";

// What a chaos run is judged by. The SMTP sink is the ground truth for "delivered" (unique Message-IDs),
// MariaDB for what the platform believes; a notification is lost when it was accepted but its mail
// never reached the sink and it is not one of the injected failures.

export interface ChaosResult {
  accepted: number;
  delivered: number;
  lost: number;
  duplicates: number;
  resentAfterUncertain: number;
  failed: number;
  dead: number;
  deadLetters: number;
  poisonLetters: number;
  /** Failed or dead deliveries that were not injected. */
  unexpected: string[];
  /** Injected failures that did not end as injected. */
  missed: string[];
  timeToDrainMs: number;
  sendRetries: number;
  totalMs: number;
  /** Deliveries the api process made itself, without the broker, since its last restart (its /metrics). */
  localDeliveries?: number;
}

async function query<T>(c: mysql.Connection, sql: string, args: unknown[] = []): Promise<T[]> {
  const [rows] = await c.query(sql, args);
  return rows as T[];
}

/** Polls MariaDB until every accepted notification is planned and no delivery is left open. */
export async function waitForDrain(dbUrl: string, accepted: number, timeoutMs: number, log: (s: string) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    let c: mysql.Connection | undefined;
    try {
      c = await mysql.createConnection(dbUrl);
      const [n] = await query<{ open: number; total: number }>(c, "SELECT SUM(status = 1) AS open, COUNT(*) AS total FROM notifications");
      const [d] = await query<{ open: number; total: number }>(c, "SELECT SUM(status IN (1, 2)) AS open, COUNT(*) AS total FROM deliveries");
      const state = `notifications ${n.total} (unplanned ${Number(n.open)}), deliveries ${d.total} (open ${Number(d.open)})`;
      if (state !== last) log(`drain: ${state}`);
      last = state;
      if (Number(n.total) >= accepted && Number(n.open) === 0 && Number(d.total) >= accepted && Number(d.open) === 0) return Date.now();
    } catch (err) {
      log(`drain: ${(err as Error).message}`);
    } finally {
      await c?.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`not drained within ${timeoutMs} ms: ${last}`);
    await sleep(2000);
  }
}

export async function measure(
  dbUrl: string,
  sink: SmtpSink,
  plan: LoadPlan,
  sent: SendReport,
  o: { poison: number; drainedAt: number; lastFaultAt: number; startedAt: number },
): Promise<ChaosResult> {
  const c = await mysql.createConnection(dbUrl);
  try {
    const rows = await query<{ id: string; status: number; recipient: string; last_error: string; idem: string; resent: number }>(
      c,
      `SELECT d.id, d.status, d.recipient, d.last_error, n.idempotency_key AS idem, d.resent_after_uncertain AS resent
       FROM notifications n LEFT JOIN deliveries d ON d.notification_id = n.id`,
    );
    const byKey = new Map(rows.map((r) => [r.idem, r]));
    // A 550 puts the address on the suppression list at once; when a kill lands between that and the
    // ledger's "failed", the retry finds the address suppressed and records it skipped. Either way the
    // permanent rejection was honoured and nothing was sent.
    const rejected = (r: { status: number; last_error?: string }) =>
      r.status === 6 || (r.status === 7 && r.last_error === "suppressed");
    const perm = new Set(plan.permanent.map((a) => `e:${a}`));
    const dead = new Set(plan.dead.map((a) => `e:${a}`));
    const atSink = new Set(sink.uniqueMessageIds());
    let lost = 0;
    const unexpected: string[] = [];
    const missed: string[] = [];
    for (const key of sent.accepted.keys()) {
      const r = byKey.get(key);
      if (!r?.id) {
        lost++;
        continue;
      }
      if (perm.has(r.recipient)) {
        if (!rejected(r)) missed.push(`${r.recipient} ended ${r.status}, expected failed`);
        continue;
      }
      if (dead.has(r.recipient)) {
        if (r.status !== 8) missed.push(`${r.recipient} ended ${r.status}, expected dead`);
        continue;
      }
      if (r.status === 6 || r.status === 8) unexpected.push(`${r.recipient} (${r.id}) ended ${r.status}`);
      if (!atSink.has(`<${r.id}@cinema.example>`)) lost++;
    }
    const [letters] = await query<{ total: number; poison: number }>(
      c,
      "SELECT COUNT(*) AS total, COALESCE(SUM(reason = 'poison'), 0) AS poison FROM dead_letters",
    );
    const duplicates = sink.duplicates().reduce((n, d) => n + d.count - 1, 0);
    return {
      accepted: sent.accepted.size,
      delivered: atSink.size,
      lost,
      duplicates,
      resentAfterUncertain: rows.reduce((n, r) => n + Number(r.resent ?? 0), 0),
      failed: rows.filter(rejected).length,
      dead: rows.filter((r) => r.status === 8).length,
      deadLetters: Number(letters.total),
      poisonLetters: Number(letters.poison),
      unexpected,
      missed,
      timeToDrainMs: Math.max(0, o.drainedAt - o.lastFaultAt),
      sendRetries: sent.retries,
      totalMs: Date.now() - o.startedAt,
    };
  } finally {
    await c.end();
  }
}

export function formatTable(name: string, r: ChaosResult): string {
  const rows: [string, string | number][] = [
    ["accepted", r.accepted],
    ["delivered (unique Message-IDs at the sink)", r.delivered],
    ["lost", r.lost],
    ["duplicates", r.duplicates],
    ["resent_after_uncertain (ledger sum)", r.resentAfterUncertain],
    ["delivered by the api process itself, since its last restart", r.localDeliveries ?? "—"],
    ["failed (permanent, injected)", r.failed],
    ["dead", r.dead],
    ["dead letters (of which poison)", `${r.deadLetters} (${r.poisonLetters})`],
    ["time to drain after the last fault", `${(r.timeToDrainMs / 1000).toFixed(1)} s`],
    ["send calls retried by the producer", r.sendRetries],
    ["whole run", `${(r.totalMs / 1000).toFixed(0)} s`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [`chaos: ${name}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join("\n");
}

export function saveResult(name: string, r: ChaosResult, timeline: string[]): void {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  writeFileSync(join(ARTIFACTS_DIR, `chaos-${name}.json`), JSON.stringify({ name, at: new Date().toISOString(), result: r, timeline }, null, 2));
}
