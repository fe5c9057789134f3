import { describe, expect, it } from "vitest";
import { encodeJson, type OutMessage } from "../bus/publish.js";
import { createTopology } from "../bus/topology.js";
import type { DeliverMessage } from "../notification/model.js";
import { chunkDeliveries, chunkSizeFor } from "./chunks.js";

const t = createTopology("tchunk");
const delivery = (d: string, ch = "email"): OutMessage => ({
  subject: t.subjects.deliver(ch),
  msgId: d,
  data: encodeJson({ d, n: "n1", ch, u: `u-${d}`, v: 1, l: "", c: "marketing" } satisfies DeliverMessage),
});
/** The delivery ids a message carries: one for a single delivery message, the entries of a chunk. */
const ids = (m: OutMessage) => {
  const body = JSON.parse(Buffer.from(m.data).toString()) as DeliverMessage | DeliverMessage[];
  return Array.isArray(body) ? body.map((e) => e.d) : body.d;
};

describe("chunkDeliveries", () => {
  it("packs each channel's deliveries in order, at most `size` to a chunk, on the channel's chunk subject", () => {
    const msgs = [...Array.from({ length: 7 }, (_, i) => delivery(`e${i}`)), delivery("w0", "websocket"), delivery("w1", "websocket")];
    const out = chunkDeliveries(msgs, t, 3);
    expect(out.map((m) => [m.subject, m.msgId, ids(m)])).toEqual([
      ["tchunk.deliver.email.chunks", "e0..e2", ["e0", "e1", "e2"]],
      ["tchunk.deliver.email.chunks", "e3..e5", ["e3", "e4", "e5"]],
      // A lone delivery stays a message of its own.
      ["tchunk.deliver.email", "e6", "e6"],
      ["tchunk.deliver.websocket.chunks", "w0..w1", ["w0", "w1"]],
    ]);
    // The header tells a consumer how much work a chunk is; a single message carries none.
    expect(out.map((m) => m.headers?.["Notify-Deliveries"])).toEqual(["3", "3", undefined, "2"]);
    // Entries are the delivery messages as the planner encoded them.
    expect(JSON.parse(Buffer.from(out[0].data).toString())[1]).toEqual(JSON.parse(Buffer.from(msgs[1].data).toString()));
  });

  it("passes other subjects, messages with headers and size 1 through unchanged", () => {
    const other: OutMessage = { subject: t.subjects.requests, msgId: "r1", data: encodeJson({ notificationId: "n1" }) };
    const headed = { ...delivery("h1"), headers: { "Nats-Expected-Stream": "X" } };
    const msgs = [delivery("a"), other, headed, delivery("b")];
    expect(chunkDeliveries(msgs, t, 32).map((m) => [m.subject, m.msgId])).toEqual([
      ["tchunk.requests", "r1"],
      ["tchunk.deliver.email", "h1"],
      ["tchunk.deliver.email.chunks", "a..b"],
    ]);
    expect(chunkDeliveries(msgs, t, 1)).toEqual(msgs);
    // With a single attempt per delivery (no retry delays) nothing is packed.
    expect(chunkSizeFor(32, 0)).toBe(1);
    expect(chunkSizeFor(32, 5)).toBe(32);
  });

  it("names the channel of deliver and chunk subjects only", () => {
    expect(t.subjects.channelOf("tchunk.deliver.email")).toBe("email");
    expect(t.subjects.channelOf("tchunk.deliver.email.chunks")).toBe("email");
    expect(t.subjects.channelOf("tchunk.requests")).toBeUndefined();
    expect(t.subjects.channelOf("other.deliver.email")).toBeUndefined();
  });
});
