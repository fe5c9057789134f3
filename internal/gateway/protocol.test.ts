import { describe, expect, it } from "vitest";
import { frameItemId, frames, parseClientMessage } from "./protocol.js";

const ID = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

describe("parseClientMessage", () => {
  it("accepts the documented messages", () => {
    expect(parseClientMessage(`{"type":"ack","ids":["${ID}"]}`)).toEqual({ ok: true, msg: { type: "ack", ids: [ID], ref: undefined } });
    expect(parseClientMessage(`{"type":"ack","id":"${ID}","ref":3}`)).toEqual({ ok: true, msg: { type: "ack", ids: [ID], ref: 3 } });
    expect(parseClientMessage(`{"type":"read","all":true,"ref":"r"}`)).toEqual({ ok: true, msg: { type: "read", ids: [], all: true, ref: "r" } });
    expect(parseClientMessage(`{"type":"mute","sender":"u7"}`)).toMatchObject({ ok: true, msg: { type: "mute", mute: { kind: "sender", value: "u7" } } });
    expect(parseClientMessage(`{"type":"unmute","category":"marketing"}`)).toMatchObject({
      ok: true,
      msg: { type: "unmute", mute: { kind: "category", value: "marketing" } },
    });
    expect(parseClientMessage(`{"type":"ping"}`)).toEqual({ ok: true, msg: { type: "ping", ref: undefined } });
  });

  it("names what is wrong with everything else", () => {
    const code = (s: string) => {
      const r = parseClientMessage(s);
      return r.ok ? "ok" : r.code;
    };
    expect(code("{nope")).toBe("malformed_json");
    expect(code("[1]")).toBe("not_an_object");
    expect(code("null")).toBe("not_an_object");
    expect(code(`{"type":"dance"}`)).toBe("unknown_type");
    expect(code(`{"ids":[]}`)).toBe("unknown_type");
    expect(code(`{"type":"ack","ids":[]}`)).toBe("bad_ids");
    expect(code(`{"type":"ack","ids":["x"]}`)).toBe("bad_ids");
    expect(code(JSON.stringify({ type: "ack", ids: Array(101).fill(ID) }))).toBe("bad_ids");
    expect(code(`{"type":"mute"}`)).toBe("bad_mute");
    expect(code(`{"type":"mute","sender":"u1","category":"marketing"}`)).toBe("bad_mute");
    expect(code(`{"type":"mute","category":"transactional"}`)).toBe("bad_mute");
    expect(code(`{"type":"mute","sender":"a b"}`)).toBe("bad_mute");
    expect(code(`{"type":"ping","ref":{"x":1}}`)).toBe("bad_ref");
  });
});

describe("frames", () => {
  it("lets the gateway find a notification's id without parsing the frame", () => {
    const f = frames.notification({
      seq: 1,
      id: ID,
      notificationId: ID,
      userId: "u1",
      category: "service",
      senderId: "",
      template: "plain",
      title: "T",
      body: "B",
      createdAt: new Date(0),
    });
    expect(frameItemId(f)).toBe(ID);
    expect(JSON.parse(f).notification).toEqual({
      id: ID,
      notificationId: ID,
      category: "service",
      template: "plain",
      title: "T",
      body: "B",
      createdAt: "1970-01-01T00:00:00.000Z",
    });
    expect(frameItemId(frames.unread(0, []))).toBeUndefined();
  });
});
