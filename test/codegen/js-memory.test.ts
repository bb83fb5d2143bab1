/** The liveness-based memory planner of codegen/js. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { planMemory, type Lifetime } from "../../codegen/js/memory";

const lifetime = fc
  .record({
    kind: fc.constantFrom("f32" as const, "i32" as const, "u8" as const),
    size: fc.integer({ min: 0, max: 50 }),
    first: fc.integer({ min: 0, max: 30 }),
    span: fc.integer({ min: 0, max: 10 }),
  })
  .map(({ kind, size, first, span }) => ({ kind, size, first, last: first + span }));

describe("planMemory", () => {
  it("never gives one array to two tensors alive at the same step, and every array fits its tensors", () => {
    fc.assert(
      fc.property(fc.array(lifetime, { maxLength: 40 }), (raw) => {
        const lifetimes: Lifetime[] = raw.map((t, i) => ({ ...t, key: `t${i}` }));
        const plan = planMemory(lifetimes);
        for (const t of lifetimes) {
          const b = plan.assignment.get(t.key)!;
          expect(plan.buffers[b].kind).toBe(t.kind);
          expect(plan.buffers[b].size).toBeGreaterThanOrEqual(t.size);
        }
        for (const a of lifetimes)
          for (const b of lifetimes) {
            if (a === b || plan.assignment.get(a.key) !== plan.assignment.get(b.key)) continue;
            expect(a.last < b.first || b.last < a.first, `${a.key} and ${b.key} overlap`).toBe(true);
          }
        expect(plan.plannedBytes).toBeLessThanOrEqual(plan.naiveBytes);
      }),
    );
  });

  it("reuses an array once its tensor is dead, not on the step that reads it last", () => {
    const plan = planMemory([
      { key: "a", kind: "f32", size: 10, first: 0, last: 1 },
      { key: "b", kind: "f32", size: 10, first: 1, last: 2 },
      { key: "c", kind: "f32", size: 8, first: 2, last: 3 },
    ]);
    expect(plan.assignment.get("a")).not.toBe(plan.assignment.get("b"));
    expect(plan.assignment.get("c")).toBe(plan.assignment.get("a"));
    expect(plan.buffers).toHaveLength(2);
  });
});
