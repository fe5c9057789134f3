import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, StringCodec, type JetStreamClient, type NatsConnection } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import { startNats, startNatsCluster, type NatsCluster, type PrivateNats } from "./private-nats.js";

const sc = StringCodec();
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** Publishes with a msgID, retrying through elections and restarts as the platform's publishers must. */
async function publishRetrying(js: JetStreamClient, subject: string, body: string, msgID: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await js.publish(subject, sc.encode(body), { msgID, timeout: 2000 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

describe("startNats", () => {
  let nats: PrivateNats;

  it("keeps a stream's acknowledged messages across SIGKILL and restart", async () => {
    nats = await startNats({ jetstream: true });
    cleanup.push(() => nats.stop());
    expect(nats.port).not.toBe(4222);
    let nc: NatsConnection = await connect({ servers: nats.url });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: "H", subjects: ["h.>"] });
    const js = nc.jetstream();
    for (let i = 0; i < 25; i++) await js.publish("h.x", sc.encode(`m${i}`), { msgID: `id-${i}` });
    await nc.close();

    await nats.kill();
    expect(nats.running).toBe(false);
    await expect(connect({ servers: nats.url, timeout: 500, reconnect: false })).rejects.toThrow();

    await nats.restart();
    expect(nats.running).toBe(true);
    nc = await connect({ servers: nats.url });
    const info = await (await nc.jetstreamManager()).streams.info("H");
    expect(info.state.messages).toBe(25);
    const last = await (await nc.jetstreamManager()).streams.getMessage("H", { seq: 25 });
    expect(sc.decode(last.data)).toBe("m24");
    await nc.close();
  });

  it("stop removes the store dir it created", async () => {
    const n = await startNats();
    expect(existsSync(n.dir)).toBe(true);
    await n.stop();
    expect(existsSync(n.dir)).toBe(false);
    expect(n.running).toBe(false);
  });
});

/** JetStream API calls time out while a cluster elects its meta leader; retry them for a while. */
async function retryJs<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe("startNatsCluster", () => {
  let cluster: NatsCluster;

  it("loses no acknowledged message when the stream leader is killed, and takes the node back", async () => {
    cluster = await startNatsCluster(3);
    cleanup.push(() => cluster.stop());
    const nc = await connect({ servers: cluster.urls });
    cleanup.push(() => nc.close());
    const jsm = await nc.jetstreamManager();
    await retryJs(() => jsm.streams.add({ name: "C", subjects: ["c.>"], num_replicas: 3 }));
    const js = nc.jetstream();
    for (let i = 0; i < 10; i++) await publishRetrying(js, "c.x", `m${i}`, `c-${i}`);

    const leader = await retryJs(() => cluster.leaderOf("C"));
    await cluster.kill(leader);
    expect(cluster.nodes[leader].running).toBe(false);
    // Through the election: retried publishes with the same msgID end up stored once each.
    for (let i = 10; i < 20; i++) await publishRetrying(js, "c.x", `m${i}`, `c-${i}`);
    const newLeader = await retryJs(() => cluster.leaderOf("C"));
    expect(newLeader).not.toBe(leader);

    await cluster.restart(leader);
    expect(cluster.nodes[leader].running).toBe(true);
    const info = await retryJs(() => jsm.streams.info("C"));
    expect(info.state.messages).toBe(20);
  }, 120_000);
});
