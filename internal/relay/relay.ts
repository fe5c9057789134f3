import type { JetStreamClient } from "nats";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import { publishAll } from "../bus/publish.js";

export interface RelayDeps {
  db: Db;
  js: JetStreamClient;
  log: Logger;
  batch: number;
  pollMs: number;
  /** Called after each round that published rows (metrics). */
  observe?: (published: number, ms: number) => void;
}

export interface Relay {
  start(): void;
  /** Wake up now: a commit just added outbox rows. */
  kick(): void;
  stop(): Promise<void>;
  /** One claim-publish-delete round; returns how many rows it moved. Exposed for tests and tools. */
  drainOnce(): Promise<number>;
}

/**
 * Moves outbox rows to JetStream. Rows are claimed with FOR UPDATE SKIP LOCKED so several relays
 * share the work, published with msgID = the row's msg_id, and deleted in the same transaction after
 * the broker acknowledged them. A relay killed mid-batch leaves its rows for the next one; the broker's
 * dedup window and the idempotent consumers make the republish harmless.
 */
export function createRelay(d: RelayDeps): Relay {
  let running = false;
  let wake: (() => void) | undefined;
  let kicked = false;
  let loop: Promise<void> | undefined;

  const drainOnce = async () =>
    withTx(d.db, async (c) => {
      const [rows] = (await c.query(
        "SELECT id, topic, msg_id, payload FROM outbox WHERE available_at <= CURRENT_TIMESTAMP(3) ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
        [d.batch],
      )) as unknown as [{ id: number; topic: string; msg_id: string; payload: Buffer }[]];
      if (rows.length === 0) return 0;
      await publishAll(
        d.js,
        rows.map((r) => ({ subject: r.topic, msgId: r.msg_id, data: r.payload })),
      );
      await c.commitWith("DELETE FROM outbox WHERE id IN (?)", [rows.map((r) => r.id)]);
      return rows.length;
    });

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (kicked) {
        kicked = false;
        return resolve();
      }
      const t = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(t);
        wake = undefined;
        resolve();
      };
    });

  const run = async () => {
    let failures = 0;
    while (running) {
      try {
        const t0 = Date.now();
        const n = await drainOnce();
        if (n > 0) d.observe?.(n, Date.now() - t0);
        failures = 0;
        if (n >= d.batch) continue;
        await sleep(d.pollMs);
      } catch (err) {
        failures++;
        d.log.warn({ err: (err as Error).message, failures }, "relay round failed; rows stay in the outbox");
        await sleep(Math.min(5000, 200 * 2 ** Math.min(failures, 5)));
      }
    }
  };

  return {
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    kick() {
      if (wake) wake();
      else kicked = true;
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    drainOnce,
  };
}
