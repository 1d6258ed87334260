/**
 * An attempt's id is derived from its delivery's id and its number, never stored: it must read
 * the same every time, be a well-formed attempt id, and never be shared by two attempts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { attemptIdOf, idRegex, newId } from "../../src/core/ids";

describe("attemptIdOf", () => {
  it("is an attempt id in form (att_ + UUIDv4), the same on every call", () => {
    fc.assert(
      fc.property(fc.uuid({ version: 4 }), fc.integer({ min: 1, max: 1_000_000 }), (uuid, number) => {
        const id = attemptIdOf(`dlv_${uuid}`, number);
        expect(id).toMatch(idRegex("attempt"));
        expect(attemptIdOf(`dlv_${uuid}`, number)).toBe(id);
        expect(id.slice(4)).not.toBe(uuid);
      }),
    );
  });

  it("differs for every number of one delivery", () => {
    const delivery = newId("delivery");
    const ids = Array.from({ length: 10_000 }, (_, i) => attemptIdOf(delivery, i + 1));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("differs for every delivery and number: 20,000 deliveries of 5 attempts, 100,000 distinct ids", () => {
    const ids = new Set<string>();
    for (let d = 0; d < 20_000; d++) {
      const delivery = newId("delivery");
      for (let n = 1; n <= 5; n++) ids.add(attemptIdOf(delivery, n));
    }
    expect(ids.size).toBe(100_000);
  });

  it("maps one number's delivery ids one to one: deliveries a bit apart get attempt ids apart", () => {
    // Two delivery ids that differ in one hex digit (random bits, version and variant kept).
    const a = "dlv_0f0e8571-a5e9-45f9-91ae-f915eeaae903";
    const b = "dlv_0f0e8571-a5e9-45f9-91ae-f915eeaae904";
    expect(attemptIdOf(a, 1)).not.toBe(attemptIdOf(b, 1));
    expect(attemptIdOf(a, 2)).not.toBe(attemptIdOf(b, 2));
  });
});
