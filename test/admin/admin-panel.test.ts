import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { connect, headers as natsHeaders, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createAdminUserStore } from "../../internal/admin/users.js";
import { createDb, type Db } from "../../internal/store/db.js";
import { freePort } from "../harness/ports.js";
import { ARTIFACTS_DIR } from "../harness/processes.js";
import { eventually, NATS, startTestStack, type TestNode, type TestStack } from "../harness/platform.js";
import { ensureAdminBuilt, ensureChromium, launchChromium } from "./browser.js";

// End to end in a real browser: Debian's Chromium driven by playwright-core against a running notifyd
// serving the built panel. Screenshots of each page go to test-artifacts/admin/.
const chromiumPath = ensureChromium();
const SHOTS = join(ARTIFACTS_DIR, "admin");
const PW = "correct horse battery";

let stack: TestStack;
let node: TestNode;
let db: Db;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
let nc: NatsConnection;

const url = (path: string) => `${node.httpUrl}/admin${path}`;
const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(p: Page, email: string) {
  await p.goto(url("/"));
  await p.getByLabel("Email").fill(email);
  await p.getByLabel("Password").fill(PW);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Dashboard" }).waitFor();
}

describe.skipIf(!chromiumPath)("the admin panel in a real browser", () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    ensureAdminBuilt();
    // Links in mail point at NOTIFY_PUBLIC_URL, so the node listens on a port known in advance.
    const port = await freePort();
    stack = await startTestStack("adminui", { users: 20, env: { NOTIFY_HTTP_ADDR: `127.0.0.1:${port}`, NOTIFY_PUBLIC_URL: `http://127.0.0.1:${port}` } });
    node = await stack.startNode("api,relay,planner,worker,scheduler");
    nc = await connect({ servers: NATS });
    db = createDb({ url: stack.dbUrl, poolSize: 2 });
    const users = createAdminUserStore(db);
    await users.create({ email: "ada@example.test", name: "Ada", role: "admin", password: PW });
    await users.create({ email: "vera@example.test", name: "Vera", role: "viewer", password: PW });
    browser = await launchChromium(chromiumPath!);
    admin = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await admin.newPage();
    page.setDefaultTimeout(15_000);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await nc?.close();
    await db?.end();
    await stack?.close();
  });

  it("signs in and shows the dashboard with queues and health", async () => {
    await page.goto(url("/"));
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await shot(page, "01-sign-in");
    await page.getByLabel("Email").fill("ada@example.test");
    await page.getByLabel("Password").fill("wrong password!");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("wrong email or password").waitFor();
    await page.getByLabel("Password").fill(PW);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.getByRole("cell", { name: "email", exact: true }).waitFor();
    await page.getByRole("cell", { name: "email (chunks)", exact: true }).waitFor();
    await page.getByText("ready", { exact: true }).waitFor();
    expect(await page.getByTestId("who").textContent()).toBe("ada@example.test");
    await shot(page, "02-dashboard");
  });

  it("creates a template with a variable, and the preview follows the edits", async () => {
    await page.getByRole("link", { name: "Templates" }).click();
    await page.getByRole("link", { name: "+ New template" }).click();
    await page.locator("input[name=key]").fill("premiere");
    await page.locator("input[name=name]").fill("Premiere night");
    await page.getByRole("button", { name: "+ Add variable" }).click();
    await page.getByLabel("variable 1 name").fill("film");
    await page.getByLabel("variable 1 required").check();
    await page.getByLabel("variable 1 sample").fill("Dune");
    await page.locator("input[name=part-subject]").fill("Tonight: {{film}}");
    await page.locator("textarea[name=part-html]").fill("<h1>{{film}}</h1><p>Doors open at 19:00.</p>");
    await page.locator("textarea[name=part-text]").fill("{{film}} tonight. Doors open at 19:00.");
    const subject = page.getByTestId("preview-subject");
    await expect.poll(() => subject.textContent(), { timeout: 10_000 }).toBe("Tonight: Dune");
    await page.getByLabel("variable 1 sample").fill("Arrival");
    await expect.poll(() => subject.textContent(), { timeout: 10_000 }).toBe("Tonight: Arrival");
    // The html renders in a sandboxed frame: no scripts, no same origin.
    const frame = page.getByTestId("preview-html");
    expect(await frame.getAttribute("sandbox")).toBe("");
    await expect.poll(() => page.frameLocator("[data-testid=preview-html]").locator("h1").textContent()).toBe("Arrival");
    // An undeclared variable is reported, not rendered silently.
    await page.locator("textarea[name=part-text]").fill("{{film}} with {{popcorn}}");
    await page.getByTestId("preview-problems").getByText("popcorn").waitFor();
    await page.locator("textarea[name=part-text]").fill("{{film}} tonight. Doors open at 19:00.");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/admin\/templates\/premiere$/);
    await page.getByText("v1 current", { exact: true }).waitFor();
    await expect.poll(() => subject.textContent(), { timeout: 10_000 }).toBe("Tonight: Arrival");
    expect(await page.getByLabel("variable 1 sample").inputValue()).toBe("Arrival");
    await shot(page, "03-template-editor");
  });

  it("sends a test that arrives at the mail sink, and shows its delivery history", async () => {
    stack.sink.reset();
    await page.getByLabel("Address").fill("tester@example.test");
    await page.getByRole("button", { name: "Send test" }).click();
    const link = page.getByRole("status").getByRole("link");
    await link.waitFor();
    const [mail] = await stack.sink.waitForMessages(1, 20_000);
    expect(mail.to).toEqual(["tester@example.test"]);
    expect(mail.subject).toBe("Tonight: Arrival");
    expect(mail.html).toContain("<h1>Arrival</h1>");
    await link.click();
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Refresh" }).click();
          return page.getByTestId("delivery-history").textContent();
        },
        { timeout: 15_000 },
      )
      .toContain("sent");
    await shot(page, "04-notification");
    await page.getByRole("link", { name: "← Notifications" }).click();
    await page.getByLabel("Search").fill("tester@example.test");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByTestId("search-results").getByRole("cell", { name: "premiere" }).waitFor();
    await shot(page, "05-notifications-search");
  });

  it("saves a draft version, diffs it against the current one and publishes it", async () => {
    await page.goto(url("/templates/premiere"));
    await page.getByText("v1 current", { exact: true }).waitFor();
    await page.locator("input[name=part-subject]").fill("Tonight only: {{film}}");
    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByText("Saved: v2").waitFor();
    const v2 = page.getByTestId("versions").getByRole("row").filter({ hasText: "v2" });
    await v2.getByRole("button", { name: "Diff with current" }).click();
    await page.getByTestId("diff").getByText("+Tonight only: {{film}}").waitFor();
    await shot(page, "06-template-diff");
    await v2.getByRole("button", { name: "Publish" }).click();
    await page.getByText("v2 current", { exact: true }).waitFor();
  });

  it("lets an admin manage API keys and admin users", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByLabel("Name").fill("ugc-service");
    await page.getByRole("button", { name: "Create" }).click();
    expect(await page.getByTestId("new-key").textContent()).toMatch(/^nk_/);
    await page.getByRole("cell", { name: "ugc-service" }).waitFor();
    await shot(page, "07-api-keys");
    await page.getByRole("link", { name: "Admin users" }).click();
    await page.getByRole("cell", { name: "vera@example.test" }).waitFor();
    await shot(page, "08-admin-users");
    // The UI speaks Russian too, remembered per browser.
    await page.getByTestId("who").click();
    await page.getByLabel("Language").selectOption("ru");
    await page.getByRole("link", { name: "Шаблоны" }).waitFor();
    await shot(page, "16-account-russian");
    await page.getByLabel("Язык").selectOption("en");
    await page.getByRole("link", { name: "Templates" }).waitFor();
  });

  it("a viewer sees everything disabled, and the server refuses a forged write", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
    try {
      const p = await ctx.newPage();
      p.setDefaultTimeout(15_000);
      await signIn(p, "vera@example.test");
      expect(await p.getByRole("link", { name: "API keys" }).count()).toBe(0);
      await p.goto(url("/templates/premiere"));
      await p.getByText("Read only: your role cannot change this.").waitFor();
      expect(await p.locator("input[name=part-subject]").isDisabled()).toBe(true);
      expect(await p.getByRole("button", { name: "Send test" }).isDisabled()).toBe(true);
      expect(await p.getByRole("button", { name: "Save and publish" }).count()).toBe(0);
      expect(await p.getByRole("link", { name: "+ New template" }).count()).toBe(0);
      await shot(p, "09-viewer-read-only");
      // What a viewer could still try: the same call the editor makes, from the page, with the cookie.
      const forged = await p.evaluate(async () => {
        const r = await fetch("/notify.v1.TemplateService/Publish", {
          method: "POST",
          headers: { "content-type": "application/json", "connect-protocol-version": "1" },
          body: JSON.stringify({ key: "premiere", version: 1 }),
        });
        return { status: r.status, body: (await r.json()) as { code: string } };
      });
      expect(forged.status).toBe(403);
      expect(forged.body.code).toBe("permission_denied");
      await p.goto(url("/campaigns"));
      await p.getByRole("heading", { name: "Campaigns" }).waitFor();
      expect(await p.getByRole("link", { name: "+ New campaign" }).count()).toBe(0);
      const campaign = await p.evaluate(async () => {
        const r = await fetch("/notify.v1.CampaignService/Create", {
          method: "POST",
          headers: { "content-type": "application/json", "connect-protocol-version": "1" },
          body: JSON.stringify({ spec: { name: "x", template: "plain", audience: { all: true }, schedule: { now: true }, rate: 1 } }),
        });
        return r.status;
      });
      expect(campaign).toBe(403);
      const got = await fetch(`${node.httpUrl}/notify.v1.TemplateService/Get`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${stack.apiKey}` },
        body: JSON.stringify({ key: "premiere" }),
      });
      expect(((await got.json()) as { template: { currentVersion: number } }).template.currentVersion).toBe(2);
    } finally {
      await ctx.close();
    }
  });

  it("creates a campaign to a segment, pauses and resumes it, and watches it reach 100%", async () => {
    stack.sink.reset();
    await page.getByRole("link", { name: "Campaigns" }).click();
    await page.getByRole("link", { name: "+ New campaign" }).click();
    await page.locator("input[name=name]").fill("Spring premiere");
    await page.locator("select[name=template]").selectOption("plain");
    await page.getByRole("button", { name: "Next →" }).click();
    await page.getByRole("radio", { name: "Segment", exact: true }).check();
    await page.locator("input[name=segmentLocale]").fill("en");
    await page.getByRole("button", { name: "Estimate size" }).click();
    const estimate = Number((await page.getByTestId("estimate").textContent())?.split(" ")[0]);
    expect(estimate).toBeGreaterThan(0);
    await shot(page, "12-campaign-wizard-audience");
    await page.getByRole("button", { name: "Next →" }).click();
    await page.getByRole("checkbox", { name: "email", exact: true }).check();
    await page.locator("textarea[name=data]").fill('{"subject": "Spring premiere", "body": "See you at the cinema"}');
    await page.getByRole("button", { name: "Next →" }).click();
    await page.getByRole("button", { name: "Next →" }).click();
    await page.locator("input[name=rate]").fill("2");
    await page.getByRole("button", { name: "Create and start" }).click();
    await page.waitForURL(/\/admin\/campaigns\/\d+$/);
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText("paused", { exact: true }).first().waitFor();
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Pause" }).waitFor();
    await expect.poll(() => page.getByTestId("progress").first().getAttribute("aria-valuenow"), { timeout: 45_000 }).toBe("100");
    await shot(page, "13-campaign-progress");
    const mails = await stack.sink.waitForMessages(estimate, 15_000);
    expect(mails.filter((m) => m.subject === "Spring premiere")).toHaveLength(estimate);
  });

  it("changes the confirmation redirect URL, and a new welcome link redirects there", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    const input = page.locator("input[name=confirm_redirect_url]");
    await input.fill("https://cinema.example/welcome-from-admin");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Saved", { exact: true }).waitFor();
    await shot(page, "14-settings");
    stack.sink.reset();
    const h = natsHeaders();
    h.set("Nats-Msg-Id", "admin-reg-u7");
    h.set("content-type", "application/json");
    await nc.jetstream().publish(`${stack.prefix}.events.user_registered`, new TextEncoder().encode(JSON.stringify({ eventId: "admin-reg-u7", userId: "u7" })), { headers: h });
    const mail = await eventually(async () => stack.sink.messages().find((m) => m.to.includes("user7@example.test") && m.text.includes("/l/")), 20_000);
    const link = /http:\/\/127\.0\.0\.1:\d+\/l\/[A-Za-z0-9_-]{22}/.exec(mail.text)?.[0];
    expect(link).toBeDefined();
    const r = await fetch(link!, { redirect: "manual" });
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("https://cinema.example/welcome-from-admin");
  });

  it("lists a dead letter, shows its payload and error, and replays it to the sink", async () => {
    stack.sink.reset();
    stack.sink.setMode({ kind: "tempfail", times: 4 });
    const sent = await fetch(`${node.httpUrl}/notify.v1.NotificationService/Send`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.apiKey}` },
      body: JSON.stringify({ idempotencyKey: "dead-1", template: "plain", recipients: [{ email: "dead@example.test" }], data: { subject: "Back from the dead", body: "b" } }),
    });
    expect(sent.status).toBe(200);
    await page.getByRole("link", { name: "Dead letters" }).click();
    const row = page.getByTestId("dead-letters").getByRole("row").filter({ hasText: "max_deliveries" });
    await expect
      .poll(
        async () => {
          await page.getByLabel("Include replayed").check();
          await page.getByLabel("Include replayed").uncheck();
          return row.count();
        },
        { timeout: 20_000 },
      )
      .toBe(1);
    stack.sink.setMode({ kind: "ok" });
    await row.getByRole("button", { name: "Open" }).click();
    expect((await page.getByTestId("dead-letter-payload").textContent())?.trim().length).toBeGreaterThan(2);
    expect(await row.textContent()).toContain("451");
    await shot(page, "15-dead-letters");
    await row.getByRole("checkbox").check();
    await page.getByRole("button", { name: "Replay selected (1)" }).click();
    await page.getByText("Replayed: 1").waitFor();
    const [mail] = await stack.sink.waitForMessages(1, 20_000);
    expect(mail.to).toEqual(["dead@example.test"]);
    expect(mail.subject).toBe("Back from the dead");
  });

  it("is readable on a phone, and signs out", async () => {
    await page.goto(url("/"));
    await expect.poll(async () => Number(await page.getByTestId("total-sent").locator("b").textContent()), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    await shot(page, "11-dashboard-with-traffic");
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const p = await phone.newPage();
      p.setDefaultTimeout(15_000);
      await signIn(p, "ada@example.test");
      expect(await p.getByRole("link", { name: "Templates" }).isVisible()).toBe(false);
      await p.getByRole("button", { name: "menu" }).click();
      await p.getByRole("link", { name: "Templates" }).click();
      await p.getByRole("link", { name: "premiere" }).waitFor();
      // A string, because the test's own TypeScript has no DOM types.
      const overflow = (await p.evaluate("document.documentElement.scrollWidth - window.innerWidth")) as number;
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(p, "10-phone-templates");
    } finally {
      await phone.close();
    }
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    await page.reload();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
  });
});
