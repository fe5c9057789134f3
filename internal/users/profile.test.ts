import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { UserSchema } from "../../gen/cinema/users/v1/user_directory_pb.js";
import { carriedUser, carryProfile, PROFILE_MAX_AGE_MS } from "./profile.js";

const alice = create(UserSchema, {
  id: "u7",
  email: "alice@example.test",
  name: "Алиса",
  locale: "ru",
  timeZone: "Europe/Moscow",
  favouriteGenres: ["drama"],
  birthday: "1990-12-06",
  subscriptionExpiresAt: timestampFromMs(1_800_000_000_000),
});

describe("a profile carried in a delivery message", () => {
  it("comes back as the same user while fresh", () => {
    const p = carryProfile(alice, 1_000);
    const back = carriedUser(JSON.parse(JSON.stringify(p)), 1_000 + PROFILE_MAX_AGE_MS);
    expect(back?.email).toBe("alice@example.test");
    expect(back?.name).toBe("Алиса");
    expect(back?.favouriteGenres).toEqual(["drama"]);
    expect(back?.subscriptionExpiresAt?.seconds).toBe(alice.subscriptionExpiresAt?.seconds);
  });

  it("is refused when stale, from far in the future, missing or unreadable, so the worker looks the user up", () => {
    const p = carryProfile(alice, 1_000);
    expect(carriedUser(p, 1_000 + PROFILE_MAX_AGE_MS + 1)).toBeUndefined();
    expect(carriedUser(p, 999)?.id).toBe("u7");
    expect(carriedUser(p, 1_000 - PROFILE_MAX_AGE_MS - 1)).toBeUndefined();
    expect(carriedUser(undefined, 1_000)).toBeUndefined();
    expect(carriedUser({ at: 1_000, user: "not base64 protobuf \u0000" }, 1_000)).toBeUndefined();
    expect(carriedUser({ at: "1000", user: p.user } as never, 1_000)).toBeUndefined();
  });
});
