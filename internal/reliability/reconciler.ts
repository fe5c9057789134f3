import type { Topology } from "../bus/topology.js";
import type { Logger } from "../log/logger.js";
import { DeliveryState, NotificationState, type DeliverMessage, type RequestMessage } from "../notification/model.js";
import type { PoolConnection } from "mysql2/promise";
import type { Db } from "../store/db.js";

export interface ReconcilerDeps {
  db: Db;
  topology: Topology;
  log: Logger;
  /** Work untouched for this long is presumed lost by the broker (NOTIFY_RECONCILE_AFTER). */
  afterMs: number;
  /** How often to look (NOTIFY_RECONCILE_EVERY). */
  everyMs: number;
  batch?: number;
  /** Wakes the relay so the copies leave at once. */
  kickRelay?: () => void;
}

export interface ReconcileResult {
  /** False when another instance held the lock. */
  ran: boolean;
  deliveries: number;
  notifications: number;
}

// A row copied n times waits after * 2^n before the next copy, so a long outage (a paused consumer
// whose messages are all still in the stream) does not fill the outbox with copies every period.
const spacing = (alias: string) => `POW(2, LEAST(${alias}.republishes, 6))`;

/**
 * MariaDB is the record; the broker only moves work. nats-server 2.9 flushes lazily, so after a crash
 * the stream may have lost messages that MariaDB knows about. The reconciler re-publishes, through
 * the outbox and with fresh msgIDs (<id>:reconcile:<n>; the old id may still sit in the dedup window):
 *  - deliveries `pending` whose retry is overdue by `afterMs` (or never published),
 *  - deliveries `sending` whose lease expired `afterMs` ago (the claim counts the resend as uncertain),
 *  - notifications still `accepted` after `afterMs` with no outbox row left (and no dead letter).
 * Copies are harmless: the ledger lets one send through. One instance works at a time (GET_LOCK).
 */
export function createReconciler(d: ReconcilerDeps) {
  const batch = d.batch ?? 500;
  const t = d.topology;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  const deliveries = async (c: PoolConnection): Promise<number> => {
    const [rows] = (await c.query(
      `SELECT d.id, d.notification_id, d.user_id, d.recipient, d.channel, d.republishes, n.template_version_id, n.locale, n.category
       FROM deliveries d JOIN notifications n ON n.id = d.notification_id
       WHERE ((d.status = ${DeliveryState.Pending}) OR (d.status = ${DeliveryState.Sending} AND d.lease_until < CURRENT_TIMESTAMP(3)))
         AND d.updated_at < CURRENT_TIMESTAMP(3) - INTERVAL ? * 1000 MICROSECOND
         AND COALESCE(d.retry_at, d.updated_at) < CURRENT_TIMESTAMP(3) - INTERVAL ? * ${spacing("d")} * 1000 MICROSECOND
         AND (d.not_before IS NULL OR d.not_before <= CURRENT_TIMESTAMP(3))
       ORDER BY d.updated_at LIMIT ?`,
      [d.afterMs, d.afterMs, batch],
    )) as unknown as [
      {
        id: string;
        notification_id: string;
        user_id: string;
        recipient: string;
        channel: string;
        republishes: number;
        template_version_id: number;
        locale: string;
        category: string;
      }[],
    ];
    if (rows.length === 0) return 0;
    await c.beginTransaction();
    try {
      await c.query("INSERT INTO outbox (topic, msg_id, payload, available_at) VALUES ?", [
        rows.map((r) => {
          const body: DeliverMessage = {
            d: r.id,
            n: r.notification_id,
            ch: r.channel,
            u: r.user_id || undefined,
            a: r.recipient.startsWith("e:") ? r.recipient.slice(2) : undefined,
            v: Number(r.template_version_id),
            l: r.locale,
            c: r.category,
          };
          return [t.subjects.deliver(r.channel), `${r.id}:reconcile:${Number(r.republishes) + 1}`, Buffer.from(JSON.stringify(body)), new Date()];
        }),
      ]);
      await c.query("UPDATE deliveries SET republishes = republishes + 1, retry_at = CURRENT_TIMESTAMP(3) WHERE id IN (?)", [rows.map((r) => r.id)]);
      await c.commit();
    } catch (err) {
      await c.rollback().catch(() => undefined);
      throw err;
    }
    return rows.length;
  };

  const notifications = async (c: PoolConnection): Promise<number> => {
    const [rows] = (await c.query(
      `SELECT n.id, n.republishes FROM notifications n
       WHERE n.status = ${NotificationState.Accepted}
         AND n.created_at < CURRENT_TIMESTAMP(3) - INTERVAL ? * 1000 MICROSECOND
         AND COALESCE(n.republished_at, n.created_at) < CURRENT_TIMESTAMP(3) - INTERVAL ? * ${spacing("n")} * 1000 MICROSECOND
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.msg_id = n.id)
         AND NOT EXISTS (SELECT 1 FROM dead_letters dl WHERE dl.notification_id = n.id AND dl.source = 'planner' AND dl.replays = 0)
       ORDER BY n.created_at LIMIT ?`,
      [d.afterMs, d.afterMs, batch],
    )) as unknown as [{ id: string; republishes: number }[]];
    if (rows.length === 0) return 0;
    await c.beginTransaction();
    try {
      await c.query("INSERT INTO outbox (topic, msg_id, payload, available_at) VALUES ?", [
        rows.map((r) => [
          t.subjects.requests,
          `${r.id}:reconcile:${Number(r.republishes) + 1}`,
          Buffer.from(JSON.stringify({ notificationId: r.id } satisfies RequestMessage)),
          new Date(),
        ]),
      ]);
      await c.query("UPDATE notifications SET republishes = republishes + 1, republished_at = CURRENT_TIMESTAMP(3) WHERE id IN (?)", [
        rows.map((r) => r.id),
      ]);
      await c.commit();
    } catch (err) {
      await c.rollback().catch(() => undefined);
      throw err;
    }
    return rows.length;
  };

  async function runOnce(): Promise<ReconcileResult> {
    const c = await d.db.getConnection();
    try {
      // The lock is the server's, so its name carries the database: test runs sharing a server
      // do not wait for each other.
      const [[lock]] = (await c.query("SELECT GET_LOCK(CONCAT('notify_reconcile:', DATABASE()), 0) AS ok")) as unknown as [{ ok: number }[]];
      if (Number(lock?.ok) !== 1) return { ran: false, deliveries: 0, notifications: 0 };
      try {
        let dn = 0;
        let nn = 0;
        for (let i = 0; i < 20; i++) {
          const k = await deliveries(c);
          dn += k;
          if (k < batch) break;
        }
        for (let i = 0; i < 20; i++) {
          const k = await notifications(c);
          nn += k;
          if (k < batch) break;
        }
        if (dn + nn > 0) {
          d.kickRelay?.();
          d.log.warn({ deliveries: dn, notifications: nn }, "reconciler re-published work the broker may have lost");
        }
        return { ran: true, deliveries: dn, notifications: nn };
      } finally {
        await c.query("SELECT RELEASE_LOCK(CONCAT('notify_reconcile:', DATABASE()))").catch(() => undefined);
      }
    } finally {
      c.release();
    }
  }

  return {
    runOnce,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (running || stopped) return;
        running = runOnce()
          .catch((err) => d.log.warn({ err: (err as Error).message }, "reconcile pass failed; next period tries again"))
          .finally(() => {
            running = undefined;
          });
      }, d.everyMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}

export type Reconciler = ReturnType<typeof createReconciler>;
