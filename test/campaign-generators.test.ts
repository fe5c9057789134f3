import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import mysql from "mysql2/promise";
import { UserDirectory, type User } from "../gen/cinema/users/v1/user_directory_pb.js";
import { CampaignService, RunStatus } from "../gen/notify/v1/campaign_service_pb.js";
import { localDate } from "../internal/campaign/schedule.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createGrpcClient } from "../internal/rpc/grpc-client.js";
import { eventually, startTestStack, type TestStack } from "./harness/platform.js";

// The generator presets and local-time runs. A run row is inserted for "now" (what the scheduler
// does at the occurrence), so the test does not wait for Friday 18:00.

const ZONES = ["Europe/Moscow", "Europe/Berlin", "America/New_York"];
let stack: TestStack;
let client: ReturnType<typeof createConnectClient<typeof CampaignService>>;
let db: mysql.Connection;
let everyone: User[] = [];

async function presetId(generator: string): Promise<number> {
  const [rows] = (await db.query("SELECT id FROM campaigns WHERE generator = ?", [generator])) as unknown as [{ id: number }[]];
  return rows[0].id;
}

/** Enables a preset and inserts its run for now, covering `zones` (and the catch-all pass when asked). */
async function fireNow(campaignId: number, zones: string[], catchAll: boolean, zoneForDate: string) {
  await client.schedule({ campaignId: BigInt(campaignId) });
  const now = new Date();
  await db.query(
    "INSERT INTO campaign_runs (campaign_id, occurrence_at, time_zones, catch_all, local_date, status, cursor_state) VALUES (?, ?, ?, ?, ?, 1, '')",
    [campaignId, now, JSON.stringify(zones), catchAll ? 1 : 0, localDate(now, zoneForDate)],
  );
  const [r] = (await db.query("SELECT LAST_INSERT_ID() AS id")) as unknown as [{ id: number }[]];
  return Number(r[0].id);
}

async function runDone(runId: number) {
  return eventually(async () => {
    const [rows] = (await db.query("SELECT status, error FROM campaign_runs WHERE id = ?", [runId])) as unknown as [
      { status: number; error: string }[],
    ];
    return rows[0].status !== RunStatus.PENDING && rows[0].status !== RunStatus.RUNNING ? rows[0] : undefined;
  }, 20_000);
}

const mails = (re: RegExp) => stack.sink.messages().filter((m) => re.test(m.subject));
const emails = (us: User[]) => new Set(us.map((u) => u.email));

beforeAll(async () => {
  stack = await startTestStack("campgen", {
    users: 1200,
    env: { NOTIFY_SMTP_RATE: "20000", NOTIFY_CAMPAIGN_POLL: "200ms", NOTIFY_CAMPAIGN_TIME_ZONES: ZONES.join(",") },
  });
  const node = await stack.startNode("api,relay,planner,worker,scheduler");
  client = createConnectClient(CampaignService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  db = await mysql.createConnection(stack.dbUrl);
  const dir = createGrpcClient(UserDirectory, stack.usersDemo.address, { timeoutMs: 5000 });
  everyone = (await dir.listUsers({ pageSize: 5000 })).users;
  dir.close();
}, 60_000);

afterAll(async () => {
  await db?.end();
  await stack?.close();
});

describe("generator presets and local-time runs", () => {
  it("new films this week: a digest of the last 7 days' film_added items to the run's zone only", async () => {
    await db.query("INSERT INTO digest_items (kind, payload, created_at) VALUES ?", [
      [
        ["film_added", JSON.stringify({ title: "Dune: Part Two", url: "https://cinema.example/f/dune", year: 2024 }), new Date()],
        ["film_added", JSON.stringify({ title: "Anora", url: "https://cinema.example/f/anora" }), new Date(Date.now() - 86_400_000)],
        ["film_added", JSON.stringify({ title: "Too old", url: "https://cinema.example/f/old" }), new Date(Date.now() - 9 * 86_400_000)],
      ],
    ]);
    const run = await fireNow(await presetId("new_films_weekly"), ["Europe/Berlin"], false, "Europe/Berlin");
    expect((await runDone(run)).status).toBe(RunStatus.COMPLETED);
    const want = emails(everyone.filter((u) => u.timeZone === "Europe/Berlin"));
    expect(want.size).toBeGreaterThan(10);
    await eventually(async () => mails(/New films this week|Новинки недели/).length >= want.size, 45_000);
    const got = mails(/New films this week|Новинки недели/);
    expect(new Set(got.flatMap((m) => m.envelopeTo))).toEqual(want);
    expect(got[0].text).toContain("Dune: Part Two");
    expect(got[0].text).toContain("Anora");
    expect(got[0].text).not.toContain("Too old");
  }, 75_000);

  it("the catch-all pass reaches users whose zone is in none of the configured zones", async () => {
    stack.sink.reset();
    const { campaign } = await client.create({
      spec: {
        name: "local",
        template: "plain",
        channels: ["email"],
        audience: { kind: { case: "all", value: true } },
        schedule: { kind: { case: "cron", value: { expression: "0 18 * * 5", timeZone: "Europe/Moscow", localTime: true } } },
        rate: 5000,
        data: { subject: "Local", body: "x" },
      },
    });
    const run = await fireNow(Number(campaign!.id), ["Europe/Moscow"], true, "Europe/Moscow");
    expect((await runDone(run)).status).toBe(RunStatus.COMPLETED);
    const want = emails(everyone.filter((u) => u.timeZone === "Europe/Moscow" || !ZONES.includes(u.timeZone)));
    expect(everyone.some((u) => u.timeZone === "Asia/Novosibirsk")).toBe(true);
    await eventually(async () => mails(/^Local$/).length >= want.size, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(new Set(mails(/^Local$/).flatMap((m) => m.envelopeTo))).toEqual(want);
    expect(mails(/^Local$/)).toHaveLength(want.size);
  }, 80_000);

  it("subscription expiring: each user once, on the day exactly 3 days before the end in their zone", async () => {
    stack.sink.reset();
    const run = await fireNow(await presetId("subscription_expiring"), ZONES, true, "Europe/Moscow");
    expect((await runDone(run)).status).toBe(RunStatus.COMPLETED);
    const target = new Date(Date.parse(`${localDate(new Date(), "Europe/Moscow")}T00:00:00Z`) + 3 * 86_400_000).toISOString().slice(0, 10);
    // The end date is read in each user's own zone.
    const wantUsers = everyone.filter((u) => u.subscriptionExpiresAt && localDate(timestampDate(u.subscriptionExpiresAt), u.timeZone) === target);
    expect(wantUsers.length).toBeGreaterThan(0);
    await eventually(async () => mails(/subscription|Подписка/i).length >= wantUsers.length, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const got = mails(/subscription|Подписка/i);
    expect(new Set(got.flatMap((m) => m.envelopeTo))).toEqual(emails(wantUsers));
    if (got.length > 0) expect(got[0].text).toContain(target);
  }, 40_000);

  it("a digest with no new films is skipped, not sent empty", async () => {
    await db.query("DELETE FROM digest_items");
    const [rows] = (await db.query("SELECT id FROM campaigns WHERE generator = 'new_films_weekly'")) as unknown as [{ id: number }[]];
    const now = new Date(Date.now() + 5);
    await db.query(
      "INSERT INTO campaign_runs (campaign_id, occurrence_at, time_zones, catch_all, local_date, status, cursor_state) VALUES (?, ?, '[\"Europe/Berlin\"]', 0, ?, 1, '')",
      [rows[0].id, now, localDate(now, "Europe/Berlin")],
    );
    const [r] = (await db.query("SELECT LAST_INSERT_ID() AS id")) as unknown as [{ id: number }[]];
    const done = await runDone(Number(r[0].id));
    expect(done.status).toBe(RunStatus.SKIPPED);
    expect(done.error).toContain("film_added");
  });
});
