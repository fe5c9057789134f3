import { setTimeout as sleep } from "node:timers/promises";
import { NotificationService } from "../../../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../../../internal/rpc/connect-client.js";

// The load of a chaos run: notifications to bare addresses and to users (personalised from the user
// service), sent one by one and in batches, with a known set of addresses that the SMTP sink rejects
// for good (550: must end `failed`) or for a while forever (451: must end `dead`). Every call is
// retried with its idempotency key until accepted, as a real producer would.

export type Target = { case: "email"; value: string } | { case: "userId"; value: string };

export interface LoadItem {
  key: string;
  target: Target;
}

export interface LoadPlan {
  items: LoadItem[];
  /** Addresses the sink rejects with 550: exactly these must fail. */
  permanent: string[];
  /** Addresses the sink answers 451 for ever: exactly these must die. */
  dead: string[];
}

export function planLoad(n: number, o: { users: number; permanent: number; dead: number }): LoadPlan {
  const permanent = Array.from({ length: o.permanent }, (_, k) => `perm${k}@example.test`);
  const dead = Array.from({ length: o.dead }, (_, k) => `dead${k}@example.test`);
  const special = [...permanent, ...dead];
  const stride = Math.max(2, Math.floor(n / (special.length + 1)));
  const items: LoadItem[] = [];
  for (let i = 0; i < n; i++) {
    const s = i % stride === stride - 1 ? special[Math.floor(i / stride)] : undefined;
    const target: Target = s
      ? { case: "email", value: s }
      : i % 4 === 0
        ? { case: "userId", value: `u${(i % o.users) + 1}` }
        : { case: "email", value: `c${i}@example.test` };
    items.push({ key: `chaos-${i}`, target });
  }
  const placed = new Set(items.map((x) => x.target.value));
  return { items, permanent: permanent.filter((a) => placed.has(a)), dead: dead.filter((a) => placed.has(a)) };
}

export interface SendReport {
  /** idempotency key -> notification id */
  accepted: Map<string, string>;
  /** Calls that failed and were retried. */
  retries: number;
  finishedAt: number;
}

/**
 * Sends the plan at about `perSecond` notifications a second: `batchShare` of them in SendBatch calls
 * of `batchSize`, the rest as single Sends, with up to `inFlight` calls at once.
 */
export async function sendLoad(
  grpcUrl: string,
  apiKey: string,
  plan: LoadPlan,
  o: { perSecond: number; batchShare: number; batchSize: number; inFlight: number },
): Promise<SendReport> {
  const client = createConnectClient(NotificationService, { baseUrl: grpcUrl, apiKey });
  const accepted = new Map<string, string>();
  let retries = 0;
  const req = (x: LoadItem, i: number) => ({
    idempotencyKey: x.key,
    template: "plain",
    channels: ["email"],
    recipients: [{ target: x.target }],
    data: { subject: `Chaos ${i}`, body: `Message ${i}` },
  });

  // Units of work: a batch or a single, in plan order.
  const units: { from: number; to: number; batch: boolean }[] = [];
  const batchEvery = o.batchShare > 0 ? Math.max(1, Math.round(1 / o.batchShare)) : Infinity;
  for (let i = 0, u = 0; i < plan.items.length; u++) {
    const batch = u % batchEvery === 0 && o.batchShare > 0;
    const to = Math.min(plan.items.length, i + (batch ? o.batchSize : 1));
    units.push({ from: i, to, batch });
    i = to;
  }

  const runUnit = async (u: (typeof units)[number]) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const items = plan.items.slice(u.from, u.to);
        if (u.batch) {
          const res = await client.sendBatch({ items: items.map((x, k) => req(x, u.from + k)) });
          res.results.forEach((r, k) => accepted.set(items[k].key, r.notificationId));
        } else {
          const res = await client.send(req(items[0], u.from));
          accepted.set(items[0].key, res.notificationId);
        }
        return;
      } catch {
        retries++;
        if (attempt > 600) throw new Error(`unit ${u.from}..${u.to} not accepted after ${attempt} tries`);
        await sleep(500);
      }
    }
  };

  const started = Date.now();
  let sent = 0;
  const running = new Set<Promise<void>>();
  for (const u of units) {
    // Pace: do not run ahead of perSecond.
    const due = started + (sent / o.perSecond) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
    while (running.size >= o.inFlight) await Promise.race(running);
    const p = runUnit(u).finally(() => running.delete(p));
    running.add(p);
    sent += u.to - u.from;
  }
  await Promise.all(running);
  return { accepted, retries, finishedAt: Date.now() };
}
