/**
 * Seeded random ops: RandomUniform, RandomStandardNormal, TruncatedNormal. Like TF, an op with
 * a seed gives the same sequence in every new session and a new sample on every run.
 */
import type { DType } from "../dtype";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type KernelContext } from "../registry";
import { sizeOf } from "../shape";
import { getDefaultGraph, type Tensor } from "../graph";
import { constantOp } from "./build";
import { fail, rankFromLength, unknownDims, vectorInput } from "./array/common";

/** mulberry32: small, fast, good enough for initializers and dropout masks. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(attrs: Attrs, ctx: KernelContext): () => number {
  const key = `random:${ctx.node}`;
  let gen = ctx.state.get(key) as (() => number) | undefined;
  if (!gen) {
    const seed = (attrs.seed as number) | 0;
    const seed2 = (attrs.seed2 as number) | 0;
    const s = seed === 0 && seed2 === 0 ? (Math.random() * 2 ** 32) >>> 0 : Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ seed2;
    gen = mulberry32(s);
    ctx.state.set(key, gen);
  }
  return gen;
}

export function normalSample(u: () => number): number {
  let x = 0;
  while (x === 0) x = u();
  return Math.sqrt(-2 * Math.log(x)) * Math.cos(2 * Math.PI * u());
}

const randomAttrs = {
  dtype: { kind: "type" as const, default: "float32" },
  seed: { kind: "int" as const, default: 0 },
  seed2: { kind: "int" as const, default: 0 },
};

function randomOp(type: string, sample: (u: () => number) => number): void {
  registerOp({
    type,
    inputs: 1,
    stateful: true,
    attrs: randomAttrs,
    infer: ([shape], attrs, node) => {
      // The shape is an int32 vector of sizes (a float or negative one gave a static shape no tensor has).
      const dims = vectorInput(shape, type, "shape", node);
      if (dims?.some((d) => d < 0))
        fail(node, { code: "bad-shape", message: `${type}'s shape must be non-negative`, expected: "dims >= 0", received: `[${dims.join(",")}]`, fix: "pass a shape of non-negative sizes" });
      if (dims) return [{ dtype: attrs.dtype as DType, shape: dims }];
      return [{ dtype: attrs.dtype as DType, shape: unknownDims(rankFromLength(shape, type, "shape", node)) }];
    },
    kernel: ([shape], attrs, ctx) => {
      const dims = Array.from(shape.data);
      const u = generator(attrs, ctx);
      const out = ctx.alloc(attrs.dtype as DType, sizeOf(dims));
      for (let i = 0; i < out.length; i++) out[i] = sample(u);
      return [new NDArray(attrs.dtype as DType, dims, out)];
    },
  });
}

randomOp("RandomUniform", (u) => u());
randomOp("RandomStandardNormal", normalSample);
randomOp("TruncatedNormal", (u) => {
  for (;;) {
    const x = normalSample(u);
    if (Math.abs(x) <= 2) return x;
  }
});

/** Builds a random op whose static shape is `shape` (the shape input is a Const). */
export function randomTensor(type: "RandomUniform" | "RandomStandardNormal" | "TruncatedNormal", shape: number[], seed: number | undefined, name: string): Tensor {
  const g = getDefaultGraph();
  return g.nameScope(name, () => {
    const shapeTensor = constantOp(new NDArray("int32", [shape.length], Int32Array.from(shape)), "shape", g);
    const { seed: s1, seed2: s2 } = opSeeds(seed);
    return g.addOp({ type, name: type, inputs: [shapeTensor], attrs: { dtype: "float32", seed: s1, seed2: s2 } }).outputs[0];
  });
}

let opSeedCounter = 0;
/** TF1's get_seed: an op seed without a graph seed pairs with the default graph seed. */
export function opSeeds(seed: number | undefined): { seed: number; seed2: number } {
  if (seed === undefined) return { seed: 0, seed2: 0 };
  return { seed: 87654321, seed2: seed | 0 || ++opSeedCounter };
}
