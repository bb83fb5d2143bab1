/**
 * Random NHWC window-op cases for the wasm kernel properties (conv and depthwise backprops):
 * sizes, a kh×kw window, strides, dilation, padding and a data seed, limited per test; VALID
 * cases whose dilated window does not fit the input are filtered out (`fc.pre`).
 */
import fc from "fast-check";

export interface WindowCase {
  batch: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dilation: number;
  padding: "SAME" | "VALID";
  seed: number;
}

/** A conv case: the window plus input and output channels. */
export interface ConvCase extends WindowCase {
  cin: number;
  cout: number;
}

export interface WindowLimits {
  /** Largest h and w. */
  size: number;
  /** Largest kh and kw. */
  kernel: number;
}

/** Window cases (batch 1..3, strides 1..3, dilation 1 or 2, SAME/VALID) plus the `extra` fields. */
export function windowCases<T extends object>(limits: WindowLimits, extra: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<WindowCase & T> {
  return fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: limits.size }),
    w: fc.integer({ min: 1, max: limits.size }),
    kh: fc.integer({ min: 1, max: limits.kernel }),
    kw: fc.integer({ min: 1, max: limits.kernel }),
    sh: fc.integer({ min: 1, max: 3 }),
    sw: fc.integer({ min: 1, max: 3 }),
    dilation: fc.constantFrom(1, 1, 2),
    padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
    ...extra,
  }) as unknown as fc.Arbitrary<WindowCase & T>;
}

/** Conv cases with 1..`channels` input and output channels. */
export const convCases = (limits: WindowLimits & { channels: number }): fc.Arbitrary<ConvCase> =>
  windowCases<{ cin: number; cout: number }>(limits, { cin: fc.integer({ min: 1, max: limits.channels }), cout: fc.integer({ min: 1, max: limits.channels }) });

/** Asserts `check` on `runs` window cases whose VALID window fits the input. */
export function forWindowCases<C extends WindowCase>(cases: fc.Arbitrary<C>, runs: number, check: (c: C) => void): void {
  fc.assert(
    fc.property(cases, (c) => {
      fc.pre(c.padding === "SAME" || ((c.kh - 1) * c.dilation + 1 <= c.h && (c.kw - 1) * c.dilation + 1 <= c.w));
      check(c);
    }),
    { numRuns: runs },
  );
}
