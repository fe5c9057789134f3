import mysql from "mysql2/promise";
import { percentile } from "./stats.js";

/** MariaDB's statement counters (server-wide: nothing else runs during a bench). */
export async function dbStatements(dbUrl: string): Promise<Record<string, number>> {
  const c = await mysql.createConnection({ uri: dbUrl });
  try {
    const [rows] = (await c.query(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_select', 'Com_insert', 'Com_update', 'Com_delete', 'Com_commit')",
    )) as unknown as [{ Variable_name: string; Value: string }[]];
    return Object.fromEntries(rows.map((r) => [r.Variable_name.replace(/^Com_/, "").toLowerCase(), Number(r.Value)]));
  } finally {
    await c.end();
  }
}

/** Statements per unit of work between two dbStatements readings. */
export function perUnit(before: Record<string, number>, after: Record<string, number>, units: number): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, (v - (before[k] ?? 0)) / units]));
}

export const formatCounts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ");

/**
 * Where the latency at a fixed rate goes, from the ledger's own clocks (ms resolution): accepted ->
 * deliveries written (planning), and deliveries written -> `sent` recorded (claim, render, send,
 * record), for the notifications whose data.subject is LIKE `subject`.
 */
export async function stageLatencies(dbUrl: string, subject: string) {
  const c = await mysql.createConnection({ uri: dbUrl });
  try {
    const [rows] = (await c.query(
      `SELECT TIMESTAMPDIFF(MICROSECOND, n.created_at, d.created_at) / 1000 AS plan,
              TIMESTAMPDIFF(MICROSECOND, d.created_at, d.sent_at) / 1000 AS deliver
         FROM notifications n JOIN deliveries d ON d.notification_id = n.id
        WHERE JSON_VALUE(n.data, '$.subject') LIKE ? AND d.sent_at IS NOT NULL`,
      [subject],
    )) as unknown as [{ plan: string; deliver: string }[]];
    const of = (k: "plan" | "deliver") => rows.map((r) => Number(r[k])).sort((a, b) => a - b);
    const plan = of("plan");
    const deliver = of("deliver");
    return {
      acceptToPlanned: { p50: percentile(plan, 50), p99: percentile(plan, 99) },
      plannedToSent: { p50: percentile(deliver, 50), p99: percentile(deliver, 99) },
    };
  } finally {
    await c.end();
  }
}

export const formatStages = (st: Awaited<ReturnType<typeof stageLatencies>>) =>
  `accepted -> deliveries written p50 ${st.acceptToPlanned.p50.toFixed(1)}, p99 ${st.acceptToPlanned.p99.toFixed(1)}; ` +
  `deliveries written -> sent recorded p50 ${st.plannedToSent.p50.toFixed(1)}, p99 ${st.plannedToSent.p99.toFixed(1)}`;
