import { describe, expect, it } from "vitest";
import { idTime, isId, newId } from "./ids.js";

describe("newId", () => {
  it("makes RFC 9562 version-7 ids that carry their time and sort by it", () => {
    const t = Date.UTC(2026, 11, 6, 4, 20, 0, 123);
    const id = newId(t);
    expect(isId(id)).toBe(true);
    expect(id[14]).toBe("7");
    expect("89ab").toContain(id[19]);
    expect(idTime(id)).toBe(t);
    const later = newId(t + 1);
    expect(later > id).toBe(true);
    const many = new Set(Array.from({ length: 10_000 }, () => newId(t)));
    expect(many.size).toBe(10_000);
  });
});
