/** Shared by the wasm codegen tests: reference kernels of the registry, one-step programs, checks. */
import { expect } from "vitest";
import "../../ir/ops/index";
import { allocate, type DType } from "../../ir/dtype";
import { NDArray } from "../../ir/ndarray";
import { getOpDef, type Attrs, type KernelContext } from "../../ir/registry";
import { wasm } from "../../codegen/wasm/host";
import type { Kernel } from "../../codegen/wasm/kernels";
import { WasmProgramBuilder, type TensorRole, type WasmProgram } from "../../codegen/wasm/program";

export { expectClose, randomData } from "../helpers/run";

const context = (node: string): KernelContext => ({
  node,
  highPrecision: false,
  alloc: (dtype: DType, size: number) => allocate(dtype, size),
  ref: () => {
    throw new Error("no variables");
  },
  variable: () => {
    throw new Error("no variables");
  },
  state: new Map(),
});

/** The interpreter's reference kernel of `type` on float32 inputs. */
export function reference(type: string, inputs: { shape: number[]; data: ArrayLike<number> }[], attrs: Attrs = {}): NDArray[] {
  const arrays = inputs.map((x) => new NDArray("float32", x.shape, Float32Array.from(x.data)));
  return getOpDef(type).kernel(arrays, attrs, context(type));
}

export interface TensorSpec {
  size: number;
  role?: TensorRole;
  data?: ArrayLike<number>;
}

/**
 * Builds a one-program module from `tensors` and `steps`, checks that the engine validates the
 * optimized binary, runs it once and returns the program.
 */
export function runProgram(tensors: Record<string, TensorSpec>, steps: { reads: string[]; writes: string[]; make: (at: (name: string) => number) => Kernel }[]): WasmProgram {
  const p = new WasmProgramBuilder();
  for (const [name, t] of Object.entries(tensors)) p.tensor(name, t.size, t.role ?? (t.data ? "input" : "output"), t.data);
  for (const s of steps) p.step(s.reads, s.writes, s.make);
  const program = p.build();
  expect(wasm.validate(program.module.binary), "the optimized module validates").toBe(true);
  program.run();
  return program;
}

/** Deterministic random data from a fast-check seed. */
export function seeded(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

/** |a − e| ≤ rtol · max(|e|, scale) everywhere: 1e-5 relative to the values' natural scale. */
export function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, scale = 1, rtol = 1e-5): void {
  expect(actual.length, "length").toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(Number.isNaN(a), `index ${i}: expected NaN, got ${a}`).toBe(true);
      continue;
    }
    if (!Number.isFinite(e)) {
      expect(a, `index ${i}`).toBe(e);
      continue;
    }
    if (!(Math.abs(a - e) <= rtol * Math.max(Math.abs(e), scale))) expect(a, `index ${i} (expected ${e})`).toBe(e);
  }
}
