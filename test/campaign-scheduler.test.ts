import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import mysql from "mysql2/promise";
import { CampaignService, CampaignStatus, MisfirePolicy, RunStatus } from "../gen/notify/v1/campaign_service_pb.js";
import { occurrencesBetween } from "../internal/campaign/schedule.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";

// The scheduler role against real services: missed occurrences per misfire policy, two schedulers at
// once, and a fan-out process SIGKILLed mid-run.

let stack: TestStack;
let api: TestNode;
let client: ReturnType<typeof createConnectClient<typeof CampaignService>>;

async function runs(campaignId: bigint): Promise<{ status: number; occurrence_at: Date }[]> {
  const c = await mysql.createConnection(stack.dbUrl);
  try {
    const [rows] = await c.query("SELECT status, occurrence_at FROM campaign_runs WHERE campaign_id = ? ORDER BY occurrence_at", [
      Number(campaignId),
    ]);
    return rows as { status: number; occurrence_at: Date }[];
  } finally {
    await c.end();
  }
}

const mailsTo = (subject: string) => stack.sink.messages().filter((m) => m.subject === subject).flatMap((m) => m.envelopeTo);
const ids = (n: number) => Array.from({ length: n }, (_, i) => `u${i + 1}`);

/** A cron campaign to an id list, every `expression`, ending at endAt; returns its id once scheduled. */
async function cronCampaign(subject: string, expression: string, endAt: Date, misfire: MisfirePolicy, users: number) {
  const { campaign } = await client.create({
    spec: {
      name: subject,
      template: "plain",
      channels: ["email"],
      audience: { kind: { case: "userIds", value: true } },
      schedule: { kind: { case: "cron", value: { expression, timeZone: "UTC", endAt: timestampFromDate(endAt) } } },
      misfirePolicy: misfire,
      rate: 1000,
      data: { subject, body: "x" },
    },
  });
  await client.appendAudience({ campaignId: campaign!.id, userIds: ids(users) });
  await client.schedule({ campaignId: campaign!.id });
  return campaign!.id;
}

beforeAll(async () => {
  stack = await startTestStack("campsched", {
    users: 1000,
    env: {
      NOTIFY_SMTP_RATE: "20000",
      NOTIFY_CAMPAIGN_POLL: "200ms",
      NOTIFY_CAMPAIGN_LEASE: "2s",
      NOTIFY_CAMPAIGN_MISFIRE_GRACE: "1s",
      NOTIFY_CAMPAIGN_PAGE_SIZE: "250",
    },
  });
  api = await stack.startNode("api,relay,planner,worker");
  client = createConnectClient(CampaignService, { baseUrl: api.grpcUrl, apiKey: stack.apiKey });
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

describe("the scheduler", () => {
  it("after downtime across two occurrences runs exactly one (fire_once) or none (skip)", async () => {
    const end = new Date(Date.now() + 5000);
    const once = await cronCampaign("FireOnce", "*/2 * * * * *", end, MisfirePolicy.FIRE_ONCE, 5);
    const skip = await cronCampaign("Skip", "*/2 * * * * *", end, MisfirePolicy.SKIP, 5);
    // No scheduler runs while both occurrences pass, and past the grace period.
    await new Promise((r) => setTimeout(r, end.getTime() - Date.now() + 1500));
    const sched = await stack.startNode("scheduler");
    try {
      await eventually(async () => (await client.get({ campaignId: once })).campaign!.status === CampaignStatus.COMPLETED, 15_000);
      await eventually(async () => (await client.get({ campaignId: skip })).campaign!.status === CampaignStatus.COMPLETED, 15_000);
      await eventually(async () => mailsTo("FireOnce").length >= 5, 15_000);
      await new Promise((r) => setTimeout(r, 1000));
      const a = await runs(once);
      const b = await runs(skip);
      expect(a.length).toBeGreaterThanOrEqual(2);
      expect(a.filter((r) => r.status === RunStatus.COMPLETED)).toHaveLength(1);
      expect(a.filter((r) => r.status === RunStatus.SKIPPED)).toHaveLength(a.length - 1);
      // The one that fired is the latest missed occurrence.
      expect(a.at(-1)!.status).toBe(RunStatus.COMPLETED);
      expect(b.length).toBe(a.length);
      expect(b.every((r) => r.status === RunStatus.SKIPPED)).toBe(true);
      expect(mailsTo("FireOnce").sort()).toEqual(ids(5).map((u) => `user${u.slice(1)}@example.test`).sort());
      expect(mailsTo("Skip")).toEqual([]);
    } finally {
      await sched.stop();
    }
  }, 40_000);

  it("with two scheduler instances runs each occurrence once", async () => {
    const [s1, s2] = await Promise.all([stack.startNode("scheduler"), stack.startNode("scheduler")]);
    try {
      const t0 = new Date();
      const end = new Date(t0.getTime() + 4000);
      const id = await cronCampaign("Twice", "* * * * * *", end, MisfirePolicy.FIRE_ONCE, 10);
      await eventually(async () => (await client.get({ campaignId: id })).campaign!.status === CampaignStatus.COMPLETED, 20_000);
      const r = await runs(id);
      const expected = occurrencesBetween({ expression: "* * * * * *", timeZone: "UTC", endAt: end }, t0, end).length;
      expect(r.length).toBeGreaterThanOrEqual(expected - 1);
      expect(r.length).toBeLessThanOrEqual(expected);
      expect(r.every((x) => x.status === RunStatus.COMPLETED)).toBe(true);
      await eventually(async () => mailsTo("Twice").length >= 10 * r.length, 20_000);
      await new Promise((res) => setTimeout(res, 1000));
      const got = mailsTo("Twice");
      expect(got).toHaveLength(10 * r.length);
      for (const u of ids(10)) expect(got.filter((a) => a === `user${u.slice(1)}@example.test`)).toHaveLength(r.length);
      expect(stack.sink.duplicates()).toEqual([]);
    } finally {
      await Promise.all([s1.stop(), s2.stop()]);
    }
  }, 40_000);

  it("resumes a fan-out SIGKILLed mid-run from its checkpoint, without duplicates", async () => {
    stack.sink.reset();
    const proc = stack.spawnNode("scheduler");
    await proc.waitForLine("notifyd started", 30_000);
    const { campaign } = await client.create({
      spec: {
        name: "killed",
        template: "plain",
        channels: ["email"],
        audience: { kind: { case: "all", value: true } },
        schedule: { kind: { case: "now", value: true } },
        rate: 100,
        data: { subject: "Killed", body: "x" },
      },
    });
    await client.schedule({ campaignId: campaign!.id });
    // Killed once a few pages are published and checkpointed, well before the fan-out could finish.
    await eventually(async () => (await client.get({ campaignId: campaign!.id })).runs[0]?.published >= 300n, 30_000, 50);
    proc.kill("SIGKILL");
    await proc.exited;
    const [run] = await runs(campaign!.id);
    expect(run.status).toBe(RunStatus.RUNNING);
    expect((await client.get({ campaignId: campaign!.id })).runs[0].published).toBeLessThan(1000n);
    const sched = await stack.startNode("scheduler");
    try {
      await eventually(async () => (await client.get({ campaignId: campaign!.id })).campaign!.status === CampaignStatus.COMPLETED, 40_000);
      await eventually(async () => mailsTo("Killed").length >= 1000, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      const got = mailsTo("Killed");
      expect(got).toHaveLength(1000);
      expect(new Set(got).size).toBe(1000);
      expect(stack.sink.duplicates()).toEqual([]);
      const g = await client.get({ campaignId: campaign!.id });
      expect(g.runs[0].sent).toBe(1000n);
      expect(g.runs[0].planned).toBe(1000n);
    } finally {
      await sched.stop();
    }
  }, 120_000);
});
