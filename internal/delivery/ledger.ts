import type { Db } from "../store/db.js";
import { DeliveryState, FINAL_STATES } from "../notification/model.js";

export type ClaimResult =
  | { kind: "claimed"; uncertain: boolean; attempts: number }
  | { kind: "done"; status: number }
  | { kind: "busy"; retryInMs: number }
  | { kind: "held"; retryInMs: number }
  | { kind: "missing" };

/**
 * The ledger operations a worker needs. A claim moves a row pending -> sending with a lease; a row
 * found in `sending` with an expired lease was held by a worker that died, possibly after the channel
 * accepted the message, so its re-send is counted as resent_after_uncertain. History rows are written
 * before the state change, so whoever sees a new state also sees its history.
 */
export function createLedger(db: Db, leaseMs: number) {
  const event = (id: string, status: number, detail: string) =>
    db.execute("INSERT INTO delivery_events (delivery_id, at, status, detail) VALUES (?, CURRENT_TIMESTAMP(3), ?, ?)", [
      id,
      status,
      detail.slice(0, 1000),
    ]);

  return {
    async claim(id: string): Promise<ClaimResult> {
      const [rows] = (await db.execute(
        `SELECT status, attempts,
                TIMESTAMPDIFF(MICROSECOND, CURRENT_TIMESTAMP(3), lease_until) DIV 1000 AS lease_left,
                TIMESTAMPDIFF(MICROSECOND, CURRENT_TIMESTAMP(3), not_before) DIV 1000 AS hold_left
         FROM deliveries WHERE id = ?`,
        [id],
      )) as unknown as [{ status: number; attempts: number; lease_left: number | null; hold_left: number | null }[]];
      const row = rows[0];
      if (!row) return { kind: "missing" };
      if (FINAL_STATES.includes(row.status)) return { kind: "done", status: row.status };
      if (row.hold_left != null && Number(row.hold_left) > 0) return { kind: "held", retryInMs: Number(row.hold_left) };
      const expiredLease = row.status === DeliveryState.Sending && Number(row.lease_left ?? 0) < 0;
      if (row.status !== DeliveryState.Pending && !expiredLease) {
        return { kind: "busy", retryInMs: Math.max(1000, Number(row.lease_left ?? 0) + 500) };
      }
      // The WHERE repeats the check so two workers racing for the row cannot both win.
      const [r] = (await db.execute(
        `UPDATE deliveries SET
           resent_after_uncertain = resent_after_uncertain + ?,
           status = ${DeliveryState.Sending},
           attempts = attempts + 1,
           lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? * 1000 MICROSECOND,
           updated_at = CURRENT_TIMESTAMP(3)
         WHERE id = ? AND status = ? AND attempts = ?`,
        [expiredLease ? 1 : 0, leaseMs, id, row.status, row.attempts],
      )) as unknown as [{ affectedRows: number }];
      if (r.affectedRows !== 1) return { kind: "busy", retryInMs: 1000 };
      return { kind: "claimed", uncertain: expiredLease, attempts: row.attempts + 1 };
    },
    async sent(id: string, messageId: string, detail: string) {
      await event(id, DeliveryState.Sent, detail);
      await db.execute(
        `UPDATE deliveries SET status = ${DeliveryState.Sent}, message_id = ?, lease_until = NULL, last_error = '',
           sent_at = CURRENT_TIMESTAMP(3), updated_at = CURRENT_TIMESTAMP(3) WHERE id = ?`,
        [messageId, id],
      );
    },
    /**
     * Gives the row back after a temporary failure; the broker redelivers it after the back-off.
     * retry_at tells the reconciler when the broker is due to bring it back. `uncertain`: the peer
     * may have taken the message anyway, so the next send is counted as a possible duplicate.
     */
    async release(id: string, error: string, opts: { retryInMs?: number; uncertain?: boolean } = {}) {
      await event(id, DeliveryState.Pending, `retry: ${error}`);
      await db.execute(
        `UPDATE deliveries SET status = ${DeliveryState.Pending}, lease_until = NULL, last_error = ?,
           retry_at = CURRENT_TIMESTAMP(3) + INTERVAL ? * 1000 MICROSECOND,
           resent_after_uncertain = resent_after_uncertain + ?, updated_at = CURRENT_TIMESTAMP(3)
         WHERE id = ? AND status = ${DeliveryState.Sending}`,
        [error.slice(0, 1000), opts.retryInMs ?? 0, opts.uncertain ? 1 : 0, id],
      );
    },
    async finish(id: string, status: number, error: string) {
      await event(id, status, error);
      await db.execute(
        `UPDATE deliveries SET status = ?, lease_until = NULL, last_error = ?, updated_at = CURRENT_TIMESTAMP(3)
         WHERE id = ? AND status NOT IN (${DeliveryState.Sent}, ${DeliveryState.Delivered}, ${DeliveryState.Read})`,
        [status, error.slice(0, 1000), id],
      );
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
