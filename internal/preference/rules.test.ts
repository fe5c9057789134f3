import { describe, expect, it } from "vitest";
import { decide, emptyPrefs, formatClock, isValidTimeZone, parseClock, quietUntil, switchKey, type Defaults } from "./rules.js";

const defaults: Defaults = new Map([
  [switchKey("marketing", "*"), true],
  [switchKey("marketing", "sms"), false],
  [switchKey("service", "*"), true],
]);

describe("clock values", () => {
  it("parses HH:MM and HH:MM:SS and refuses the rest", () => {
    expect(parseClock("22:00")).toBe(79_200);
    expect(parseClock("07:30:15")).toBe(27_015);
    expect(parseClock("24:00")).toBeUndefined();
    expect(parseClock("7:30")).toBeUndefined();
    expect(parseClock("12:60")).toBeUndefined();
    expect(formatClock(79_200)).toBe("22:00");
    expect(formatClock(27_015)).toBe("07:30:15");
  });

  it("knows IANA zones", () => {
    expect(isValidTimeZone("Europe/Moscow")).toBe(true);
    expect(isValidTimeZone("Mars/Olympus")).toBe(false);
  });
});

describe("quiet hours", () => {
  const night = { start: parseClock("22:00")!, end: parseClock("08:00")! };

  it("holds until the end of a window that crosses midnight, in the user's zone", () => {
    // 23:30 in Moscow (UTC+3)
    expect(quietUntil(new Date("2025-01-10T20:30:00Z"), "Europe/Moscow", night)?.toISOString()).toBe("2025-01-11T05:00:00.000Z");
    // 01:00 in Moscow, after midnight
    expect(quietUntil(new Date("2025-01-10T22:00:00Z"), "Europe/Moscow", night)?.toISOString()).toBe("2025-01-11T05:00:00.000Z");
    // 13:00 in Moscow: outside
    expect(quietUntil(new Date("2025-01-10T10:00:00Z"), "Europe/Moscow", night)).toBeUndefined();
    // the end itself is outside the window
    expect(quietUntil(new Date("2025-01-11T05:00:00Z"), "Europe/Moscow", night)).toBeUndefined();
  });

  it("handles a daytime window and second precision", () => {
    const w = { start: parseClock("12:00")!, end: parseClock("12:00:07")! };
    expect(quietUntil(new Date("2025-06-01T12:00:03.400Z"), "UTC", w)?.toISOString()).toBe("2025-06-01T12:00:07.000Z");
  });

  it("ends at the wall-clock time on the night the clocks go forward", () => {
    // New York, 2025-03-09: 02:00 EST becomes 03:00 EDT. At 01:30 EST a window ending 04:00 ends
    // at 04:00 EDT = 08:00 UTC, 1.5 hours later, not 2.5.
    const w = { start: 0, end: parseClock("04:00")! };
    expect(quietUntil(new Date("2025-03-09T06:30:00Z"), "America/New_York", w)?.toISOString()).toBe("2025-03-09T08:00:00.000Z");
  });
});

describe("decide", () => {
  const now = new Date("2025-01-10T20:30:00Z");

  it("delivers transactional whatever the user chose", () => {
    const p = { ...emptyPrefs("u1"), allOff: true };
    p.switches.set(switchKey("*", "email"), false);
    expect(decide(p, defaults, "transactional", "email", now)).toEqual({ kind: "deliver" });
  });

  it("skips for global opt-out, a channel off and a category off", () => {
    expect(decide({ ...emptyPrefs("u1"), allOff: true }, defaults, "service", "email", now)).toEqual({ kind: "skip", reason: "preference" });
    const ch = emptyPrefs("u1");
    ch.switches.set(switchKey("*", "websocket"), false);
    expect(decide(ch, defaults, "service", "websocket", now).kind).toBe("skip");
    expect(decide(ch, defaults, "service", "email", now).kind).toBe("deliver");
    const cat = emptyPrefs("u1");
    cat.switches.set(switchKey("marketing", "email"), false);
    expect(decide(cat, defaults, "marketing", "email", now).kind).toBe("skip");
    expect(decide(cat, defaults, "service", "email", now).kind).toBe("deliver");
  });

  it("applies the platform default when the user never chose, and the user's choice over it", () => {
    expect(decide(undefined, defaults, "marketing", "sms", now).kind).toBe("skip");
    expect(decide(undefined, defaults, "marketing", "email", now).kind).toBe("deliver");
    const p = emptyPrefs("u1");
    p.switches.set(switchKey("marketing", "sms"), true);
    expect(decide(p, defaults, "marketing", "sms", now).kind).toBe("deliver");
  });

  it("holds marketing, and only marketing, in quiet hours", () => {
    const p = { ...emptyPrefs("u1"), timeZone: "Europe/Moscow", quiet: { start: parseClock("22:00")!, end: parseClock("08:00")! } };
    expect(decide(p, defaults, "marketing", "email", now)).toEqual({ kind: "hold", until: new Date("2025-01-11T05:00:00Z") });
    expect(decide(p, defaults, "service", "email", now)).toEqual({ kind: "deliver" });
  });
});
