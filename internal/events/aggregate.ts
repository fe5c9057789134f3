import type { JsonObject } from "@bufbuild/protobuf";
import type { Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import { encodeJson } from "../bus/publish.js";
import type { Topology } from "../bus/topology.js";
import type { Rule } from "./rules.js";
import type { SiteEvent } from "./decode.js";

/** Body of an aggregateDue message: the window to close. */
export interface DueMessage {
  aggregateId: number;
}

export interface ClosedWindow {
  id: number;
  ruleId: number;
  userId: string;
  count: number;
  data: JsonObject;
  notificationId: string | null;
}

/**
 * Counting windows ("5 people liked your review"): the first event for a user opens a window and, in
 * the same transaction, schedules its end as an outbox row whose available_at is the window's end;
 * later events in the window add to its count. At the end the router closes the window and sends
 * one notification with the final count. Every step is idempotent: an event is counted once per
 * rule (event_receipts), a window closes once, and its notification's idempotency key is its id.
 */
export function createAggregator(d: { db: Db; topology: Topology }) {
  /** Counts the event for each of its users; false when this rule already counted it. */
  async function add(rule: Rule, ev: SiteEvent, data: JsonObject): Promise<boolean> {
    return withTx(d.db, async (c) => {
      const now = new Date();
      const [r] = (await c.query("INSERT IGNORE INTO event_receipts (rule_id, event_id, created_at) VALUES (?, ?, ?)", [
        rule.id,
        ev.id,
        now,
      ])) as unknown as [{ affectedRows: number }];
      if (r.affectedRows === 0) return false;
      const due = new Date(now.getTime() + rule.aggregateWindowSeconds * 1000);
      const json = JSON.stringify(data);
      for (const userId of ev.userIds) {
        const [up] = (await c.query(
          `INSERT INTO event_aggregates (rule_id, user_id, open_flag, event_count, data, last_event_id, window_start, due_at)
           VALUES (?, ?, 1, 1, ?, ?, ?, ?)
           ON DUPLICATE KEY UPDATE event_count = event_count + 1, data = VALUES(data), last_event_id = VALUES(last_event_id)`,
          [rule.id, userId, json, ev.id, now, due],
        )) as unknown as [{ affectedRows: number; insertId: number }];
        if (up.affectedRows === 1) {
          const id = Number(up.insertId);
          await c.query("INSERT INTO outbox (topic, msg_id, payload, available_at) VALUES (?, ?, ?, ?)", [
            d.topology.subjects.aggregateDue,
            `agg-${id}`,
            Buffer.from(encodeJson({ aggregateId: id } satisfies DueMessage)),
            due,
          ]);
        }
      }
      return true;
    });
  }

  /**
   * Closes a window whose end has come and returns it with its final count; `{ notYet: ms }` when
   * it is still counting (an early or forged message), undefined when there is no such window.
   */
  async function close(id: number): Promise<ClosedWindow | { notYet: number } | undefined> {
    return withTx(d.db, async (c) => {
      const [rows] = (await c.query(
        `SELECT id, rule_id, user_id, open_flag, event_count, data, notification_id,
                TIMESTAMPDIFF(MICROSECOND, CURRENT_TIMESTAMP(3), due_at) DIV 1000 AS left_ms
           FROM event_aggregates WHERE id = ? FOR UPDATE`,
        [id],
      )) as unknown as [
        {
          id: number;
          rule_id: number;
          user_id: string;
          open_flag: number | null;
          event_count: number;
          data: string;
          notification_id: string | null;
          left_ms: number;
        }[],
      ];
      const w = rows[0];
      if (!w) return undefined;
      if (w.open_flag === 1) {
        if (Number(w.left_ms) > 0) return { notYet: Number(w.left_ms) };
        // The row lock orders this after any event still being counted; later ones open a new window.
        await c.query("UPDATE event_aggregates SET open_flag = NULL, closed_at = CURRENT_TIMESTAMP(3) WHERE id = ?", [id]);
      }
      return {
        id: Number(w.id),
        ruleId: Number(w.rule_id),
        userId: w.user_id,
        count: Number(w.event_count),
        data: JSON.parse(w.data) as JsonObject,
        notificationId: w.notification_id,
      };
    });
  }

  async function recordNotification(id: number, notificationId: string) {
    await d.db.query("UPDATE event_aggregates SET notification_id = ? WHERE id = ?", [notificationId, id]);
  }

  return { add, close, recordNotification };
}

export type Aggregator = ReturnType<typeof createAggregator>;
