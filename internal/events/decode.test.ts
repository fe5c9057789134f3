import { describe, expect, it } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ReviewLikedSchema, UserRegisteredSchema } from "../../gen/notify/v1/events_pb.js";
import { DecodeError, decodeEvent } from "./decode.js";

const now = new Date("2025-01-01T00:00:00Z");
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe("decodeEvent", () => {
  it("decodes protobuf binary and JSON alike", () => {
    const at = new Date("2024-12-31T10:00:00Z");
    const msg = create(ReviewLikedSchema, { eventId: "l1", occurredAt: timestampFromDate(at), userId: "u1", likerId: "u2", filmTitle: "Dune" });
    const a = decodeEvent("review_liked", toBinary(ReviewLikedSchema, msg), undefined, now);
    const b = decodeEvent("review_liked", json({ eventId: "l1", occurredAt: at.toISOString(), userId: "u1", likerId: "u2", filmTitle: "Dune" }), "application/json", now);
    const c = decodeEvent("review_liked", json({ event_id: "l1", occurred_at: at.toISOString(), user_id: "u1", liker_id: "u2", film_title: "Dune" }), undefined, now);
    for (const e of [a, b, c]) {
      expect(e).toMatchObject({ id: "l1", type: "review_liked", userIds: ["u1"], occurredAt: at });
      expect(e.fields).toMatchObject({ liker_id: "u2", film_title: "Dune" });
      expect(e.data).toMatchObject({ film_title: "Dune", event_type: "review_liked" });
    }
  });

  it("spreads a custom event's data into the template data and takes its user ids", () => {
    const e = decodeEvent("promo", json({ eventId: "p1", userIds: ["u1", "u2", "u1"], data: { plan: "gold" } }), "application/json", now);
    expect(e.userIds).toEqual(["u1", "u2"]);
    expect(e.data).toMatchObject({ plan: "gold", event_id: "p1" });
    expect(e.fields).toMatchObject({ data: { plan: "gold" } });
    expect(e.occurredAt).toEqual(now);
  });

  const bad: [string, string, Uint8Array, string][] = [
    ["garbage bytes", "user_registered", new Uint8Array([0x08, 0x96, 0x01, 0xff, 0xff]), "cannot decode"],
    ["no event id", "user_registered", json({ userId: "u1" }), "event_id"],
    ["no user", "user_registered", json({ eventId: "e" }), "user_id: required"],
    ["bad user id", "review_liked", json({ eventId: "e", userId: "u 1" }), "user_id"],
    ["broken JSON", "review_liked", new TextEncoder().encode("{nope"), "cannot decode"],
    ["wrong field type", "film_added", json({ eventId: "e", year: "x" }), "cannot decode"],
    ["type mismatch", "promo", json({ eventId: "e", type: "other" }), "does not match"],
    ["bad subject type", "Bad.Type", json({ eventId: "e" }), "event type"],
    ["event id with spaces", "promo", json({ eventId: "a b" }), "event_id"],
  ];
  for (const [name, type, data, why] of bad) {
    it(`refuses ${name}`, () => {
      expect(() => decodeEvent(type, data, undefined, now)).toThrow(DecodeError);
      expect(() => decodeEvent(type, data, undefined, now)).toThrow(why);
    });
  }

  it("ignores unknown JSON fields (newer producers)", () => {
    const e = decodeEvent("user_registered", json({ eventId: "e", userId: "u1", futureField: 1 }), "application/json", now);
    expect(e.userIds).toEqual(["u1"]);
    expect(toBinary(UserRegisteredSchema, create(UserRegisteredSchema, { eventId: "x" })).length).toBeGreaterThan(0);
  });
});
