import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { JetStreamManager } from "nats";
import type { AdminServiceGetDashboardResponseSchema } from "../../gen/notify/v1/admin_service_pb.js";
import type { Topology } from "../bus/topology.js";
import type { Db } from "../store/db.js";

type Result = MessageInitShape<typeof AdminServiceGetDashboardResponseSchema>;

export interface Dashboard {
  get(hours: number): Promise<Result>;
}

export interface DashboardDeps {
  db: Db;
  jsm: JetStreamManager;
  topology: Topology;
  /** Channel names, for one delivery queue each. */
  channels: () => string[];
}

const HOUR = 3_600_000;
/** Several people may keep the dashboard open; the counts need not be fresher than this. */
const CACHE_MS = 5000;

// notify.v1.DeliveryStatus numbers: final states only.
const OUTCOME: Record<number, "sent" | "failed" | "skipped" | "dead"> = { 3: "sent", 4: "sent", 5: "sent", 6: "failed", 7: "skipped", 8: "dead" };

export function createDashboard(d: DashboardDeps): Dashboard {
  const cache = new Map<number, { at: number; r: Promise<Result> }>();

  const outcomes = async (hours: number) => {
    const start = Math.floor((Date.now() - (hours - 1) * HOUR) / HOUR) * HOUR;
    // Range scans on ix_deliveries_status (status, updated_at), one per final status.
    const [rows] = (await d.db.query(
      `SELECT FLOOR(UNIX_TIMESTAMP(updated_at) / 3600) AS h, status, COUNT(*) AS n FROM deliveries
        WHERE status IN (3, 4, 5, 6, 7, 8) AND updated_at >= ? GROUP BY h, status`,
      [new Date(start)],
    )) as unknown as [{ h: number; status: number; n: number }[]];
    const buckets = Array.from({ length: hours }, (_, i) => ({ at: start + i * HOUR, sent: 0, failed: 0, skipped: 0, dead: 0 }));
    const totals = { sent: 0, failed: 0, skipped: 0, dead: 0 };
    for (const r of rows) {
      const kind = OUTCOME[Number(r.status)];
      const b = buckets[Math.round((Number(r.h) * HOUR - start) / HOUR)];
      if (!kind || !b) continue;
      b[kind] += Number(r.n);
      totals[kind] += Number(r.n);
    }
    return { buckets, totals };
  };

  const queue = async (consumer: string, channel: string) => {
    try {
      const i = await d.jsm.consumers.info(d.topology.streams.work, consumer);
      return { consumer, channel, pending: BigInt(i.num_pending), ackPending: BigInt(i.num_ack_pending), redelivered: BigInt(i.num_redelivered), exists: true };
    } catch {
      return { consumer, channel, exists: false };
    }
  };

  const compute = async (hours: number): Promise<Result> => {
    const [{ buckets, totals }, queues] = await Promise.all([
      outcomes(hours),
      Promise.all([
        queue(d.topology.consumers.planner, ""),
        ...d.channels().flatMap((c) => [queue(d.topology.consumers.deliver(c), c), queue(d.topology.consumers.deliverChunks(c), c)]),
      ]),
    ]);
    return {
      hours: buckets.map((b) => ({
        hour: timestampFromDate(new Date(b.at)),
        sent: BigInt(b.sent),
        failed: BigInt(b.failed),
        skipped: BigInt(b.skipped),
        dead: BigInt(b.dead),
      })),
      queues,
      totals: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, BigInt(v)])),
    };
  };

  return {
    get(hours) {
      const hit = cache.get(hours);
      if (hit && Date.now() - hit.at < CACHE_MS) return hit.r;
      const r = compute(hours);
      cache.set(hours, { at: Date.now(), r });
      r.catch(() => cache.delete(hours));
      return r;
    },
  };
}
