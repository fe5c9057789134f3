import { createLogger } from "../log/logger.js";
import { describe, expect, it } from "vitest";
import { DeliveryError, type Channel, type OutgoingMessage } from "../channel/channel.js";
import { newId } from "../ids/ids.js";
import type { PlannedDelivery } from "../planner/planner.js";
import { parseProm, sumOf } from "../../test/scale/prom-text.js";
import { createCallLimiter } from "../reliability/limiter.js";
import { createPlatformMetrics } from "./metrics.js";
import { collectLocalState, stateLabel } from "./metrics-pollers.js";

const samples = async (m: ReturnType<typeof createPlatformMetrics>) => parseProm((await m.scrape()).body);
const deliver = (n: string, ch = "email") => ({ d: `d-${n}`, n, ch, v: 1, l: "", c: "transactional" });

describe("platform metrics", () => {
  it("counts each stage by channel and reason, and times accept-to-sent from the notification id", async () => {
    const m = createPlatformMetrics({ processMetrics: false, roles: ["api", "worker"] });
    const o = m.observer;
    o.accepted!(2);
    o.accepted!(1, "events");
    o.relayed!(3, 12);
    const p = (channel: string, decision: PlannedDelivery["decision"]) => ({ id: "x", recipient: "r", userId: "u", channel, decision });
    o.planned!([p("email", { kind: "deliver" }), p("email", { kind: "skip", reason: "opted_out: marketing" }), p("websocket", { kind: "hold", until: new Date() })], [p("email", { kind: "deliver" })]);
    o.delivery!("sent", 40, deliver(newId(Date.now() - 2000)));
    // A second channel's sends count apart from the first's (children are kept per label values).
    o.delivery!("sent", 3, deliver(newId(), "websocket"));
    o.delivery!("sent", 4, deliver(newId(), "websocket"));
    o.delivery!("retry", 5, deliver(newId()), "smtp_tempfail");
    o.delivery!("failed", 5, deliver(newId()), "smtp_rejected");
    o.delivery!("skipped", 1, deliver(newId()), "Suppressed (bounced)");
    o.delivery!("duplicate", 0, deliver(newId()));
    o.dead!("email");

    const s = await samples(m);
    expect(sumOf(s, "notify_notifications_accepted_total")).toBe(3);
    expect(sumOf(s, "notify_notifications_accepted_total", { source: "events" })).toBe(1);
    expect(sumOf(s, "notify_outbox_published_total")).toBe(3);
    expect(sumOf(s, "notify_deliveries_planned_total", { channel: "email", decision: "deliver" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_planned_total", { channel: "websocket", decision: "hold" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_skipped_total", { channel: "email", reason: "opted_out" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_skipped_total", { channel: "email", reason: "suppressed_bounced" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_published_total", { channel: "email" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_sent_total", { channel: "email" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_retried_total", { reason: "smtp_tempfail" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_failed_total", { reason: "smtp_rejected" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_dead_total", { channel: "email" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_redelivered_final_total", { channel: "email" })).toBe(1);
    expect(sumOf(s, "notify_process_roles", { role: "worker" })).toBe(1);
    // Born 2 s ago: in the (1, 2.5] bucket, not in (0, 1].
    expect(sumOf(s, "notify_accept_to_sent_seconds_bucket", { channel: "email", le: "1" })).toBe(0);
    expect(sumOf(s, "notify_accept_to_sent_seconds_bucket", { channel: "email", le: "2.5" })).toBe(1);
    expect(sumOf(s, "notify_delivery_attempt_seconds_count", { channel: "email", outcome: "sent" })).toBe(1);
    expect(sumOf(s, "notify_deliveries_sent_total", { channel: "websocket" })).toBe(2);
    expect(sumOf(s, "notify_delivery_attempt_seconds_count", { channel: "websocket", outcome: "sent" })).toBe(2);
    expect(sumOf(s, "notify_delivery_attempt_seconds_sum", { channel: "websocket", outcome: "sent" })).toBeCloseTo(0.007, 6);
  });

  it("caps free-text reasons so a policy cannot blow up the series count", async () => {
    const m = createPlatformMetrics({ processMetrics: false });
    for (let i = 0; i < 80; i++) m.observer.delivery!("failed", 1, deliver(newId()), `reason_${i}`);
    const s = await samples(m);
    const reasons = new Set(s.filter((x) => x.name === "notify_deliveries_failed_total").map((x) => x.labels.reason));
    expect(reasons.size).toBe(51);
    expect(reasons.has("other")).toBe(true);
    expect(sumOf(s, "notify_deliveries_failed_total")).toBe(80);
  });

  it("times channel sends by outcome and keeps the channel's own members working", async () => {
    class Fake implements Channel {
      readonly name = "fake";
      readonly parts = ["text"];
      readonly takesBareAddress = false;
      readonly extra = "kept";
      #sent = 0;
      address = () => "a";
      async send(msg: OutgoingMessage) {
        this.#sent++;
        if (msg.deliveryId === "perm") throw new DeliveryError("no", false, "smtp_rejected");
        if (msg.deliveryId === "temp") throw new DeliveryError("later", true);
        return { messageId: `m${this.#sent}` };
      }
      status() {
        return { relay: "half-open (probing)" };
      }
      count() {
        return this.#sent;
      }
      async close() {}
    }
    const m = createPlatformMetrics({ processMetrics: false });
    const real = new Fake();
    const ch = m.instrumentChannel(real) as Fake;
    const msg = (id: string) => ({ deliveryId: id, notificationId: "n", category: "c", recipient: {}, parts: {}, headers: {}, automatic: true, log: createLogger({ level: "silent" }), sentDetail: "attempt 1" });
    expect(await ch.send(msg("ok"))).toEqual({ messageId: "m1" });
    await expect(ch.send(msg("perm"))).rejects.toThrow("no");
    await expect(ch.send(msg("temp"))).rejects.toThrow("later");
    expect(ch.count()).toBe(3);
    expect(ch.extra).toBe("kept");
    expect(ch.name).toBe("fake");

    collectLocalState(new Map([["fake", ch]]), new Map(), m.gauges);
    const s = await samples(m);
    for (const outcome of ["ok", "permanent", "transient"]) {
      expect(sumOf(s, "notify_channel_send_seconds_count", { channel: "fake", outcome })).toBe(1);
    }
    expect(sumOf(s, "notify_dependency_state", { channel: "fake", dependency: "relay", state: "half_open" })).toBe(1);
  });

  it("times user-service calls through the users client's limiter", async () => {
    const m = createPlatformMetrics({ processMetrics: false });
    const limiter = createCallLimiter({ concurrency: 2, rate: 1000 });
    const stop = m.observeUserService(limiter);
    await limiter.schedule(() => new Promise((r) => setTimeout(r, 30)));
    await limiter.schedule(() => Promise.reject(new Error("unavailable"))).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 10));
    let s = await samples(m);
    expect(sumOf(s, "notify_user_service_call_seconds_count", { outcome: "ok" })).toBe(1);
    expect(sumOf(s, "notify_user_service_call_seconds_count", { outcome: "error" })).toBe(1);
    expect(sumOf(s, "notify_user_service_call_seconds_bucket", { outcome: "ok", le: "0.025" })).toBe(0);
    stop();
    await limiter.schedule(async () => 1);
    await new Promise((r) => setTimeout(r, 10));
    s = await samples(m);
    expect(sumOf(s, "notify_user_service_call_seconds_count")).toBe(2);
  });

  it("publishes other areas' gauges and keeps registries apart", async () => {
    let conns = 7;
    const a = createPlatformMetrics({ processMetrics: false });
    const b = createPlatformMetrics();
    a.addSources([{ name: "notify_ws_connections", help: "open websockets", read: () => conns }]);
    a.addSources([
      { name: "notify_ws_connections", help: "again", read: () => 0 },
      { name: "notify_ws_users", help: "by node", labelNames: ["node"], read: () => [{ labels: { node: "n1" }, value: 3 }] },
    ]);
    a.observer.accepted!(5);
    expect(sumOf(await samples(a), "notify_ws_connections")).toBe(7);
    conns = 9;
    const sa = await samples(a);
    expect(sumOf(sa, "notify_ws_connections")).toBe(9);
    expect(sumOf(sa, "notify_ws_users", { node: "n1" })).toBe(3);
    const sb = await samples(b);
    expect(sumOf(sb, "notify_notifications_accepted_total")).toBe(0);
    expect(sb.some((x) => x.name === "nodejs_eventloop_lag_seconds")).toBe(true);
    expect(sa.some((x) => x.name === "nodejs_eventloop_lag_seconds")).toBe(false);
  });

  it("turns free-text dependency states into label values", () => {
    expect(stateLabel("up")).toBe("up");
    expect(stateLabel("OPEN: 5 failures")).toBe("open");
    expect(stateLabel("half-open (retry in 5s)")).toBe("half_open");
    expect(stateLabel("")).toBe("unknown");
  });
});
