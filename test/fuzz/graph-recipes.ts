/**
 * Random well-typed graphs for the pass fuzzer. A recipe is plain data (leaves, then steps
 * that each pick operands by index), so fast-check can shrink it; `buildRecipe` turns it
 * into a tf graph, tracking every tensor's concrete shape so that each op gets operands of
 * consistent shapes: elementwise ops with broadcasting, matmul, reductions, reshape,
 * transpose, concat, expandDims/squeeze, split, stack, tile, pad, slice, gather, where, casts,
 * conds (on a fed flag, a constant or a PlaceholderWithDefault; nested), control dependencies,
 * repeated subexpressions (for CSE), constant-only subgraphs (for folding), unused ops and
 * variable updates (for DCE and specialize).
 */
import fc from "fast-check";
import * as tf from "foldflow";
import { randomData } from "../helpers/run";

export interface LeafRecipe {
  kind: "placeholder" | "const" | "variable" | "default";
  shape: number[];
  /** Placeholders: declare the first dim unknown (0), all dims (1), or the rank unknown (2). */
  declared: number;
  seed: number;
}

export interface StepRecipe {
  kind: (typeof STEP_KINDS)[number];
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface GraphRecipe {
  leaves: LeafRecipe[];
  steps: StepRecipe[];
  outputs: number[];
  phase: boolean;
}

const STEP_KINDS = [
  "unary", "binary", "binary", "matmul", "reduce", "reshape", "transpose", "concat", "cond", "nested-cond", "identity", "repeat", "expand", "where", "cast",
  "const-math", "update", "unused", "control", "split", "tile-pad", "slice", "gather", "stack",
] as const;

const dims = fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 });

const leaf: fc.Arbitrary<LeafRecipe> = fc.record({
  kind: fc.constantFrom("placeholder", "placeholder", "const", "variable", "default"),
  shape: dims,
  declared: fc.nat({ max: 5 }),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

const step: fc.Arbitrary<StepRecipe> = fc.record({ kind: fc.constantFrom(...STEP_KINDS), a: fc.nat(), b: fc.nat(), c: fc.nat(), d: fc.nat() });

export const graphRecipe: fc.Arbitrary<GraphRecipe> = fc.record({
  leaves: fc.array(leaf, { minLength: 1, maxLength: 4 }),
  steps: fc.array(step, { minLength: 1, maxLength: 20 }),
  outputs: fc.array(fc.nat(), { maxLength: 2 }),
  phase: fc.boolean(),
});

interface Entry {
  t: tf.Tensor;
  shape: number[];
}

export interface BuiltGraph {
  graph: tf.Graph;
  /** The tensors to compare, by name. */
  outputs: string[];
  /** Feeds for a run of the graph as built: every placeholder, the flag, some PlaceholderWithDefaults. */
  feeds: Record<string, tf.NDArray>;
  /** The placeholders that may be fixed by specialize's `feeds` (a subset of `feeds`). */
  placeholders: string[];
  /** The PlaceholderWithDefault leaves (some fed in `feeds`, some left to their defaults). */
  defaults: string[];
  /** The scalar bool placeholders conds switch on (`phase`, fed; `flag_default*`, not fed): specialize's `training` fixes them all. */
  flags: string[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const at = <T>(list: readonly T[], i: number): T => list[i % list.length];
const UNARY = ["relu", "neg", "square", "sigmoid", "tanh", "abs", "exp"] as const;
const BINARY = ["add", "sub", "mul", "maximum", "minimum", "squaredDifference", "div"] as const;

function unary(kind: number, x: tf.Tensor): tf.Tensor {
  const name = at(UNARY, kind);
  if (name === "relu") return tf.nn.relu(x);
  if (name === "exp") return tf.exp(tf.tanh(x)); // bounded, so chains do not overflow
  return tf[name](x);
}

function binary(kind: number, x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const name = at(BINARY, kind);
  if (name === "div") return tf.div(x, tf.add(tf.abs(y), 0.5)); // no division by zero
  return tf[name](x, y);
}

/** The broadcast of two concrete shapes, or null when they do not broadcast. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(Math.max(da, db));
  }
  return out;
}

/** A permutation of `n` items, the `k`-th in some order. */
function permutation(n: number, k: number): number[] {
  const items = Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  while (items.length) out.push(items.splice(k % items.length, 1)[0]), (k = Math.floor(k / (items.length + 1)));
  return out;
}

/** Builds the recipe in a fresh graph. */
export function buildRecipe(recipe: GraphRecipe): BuiltGraph {
  const graph = new tf.Graph();
  const feeds: Record<string, tf.NDArray> = {};
  const placeholders: string[] = [];
  const defaults: string[] = [];
  let phase: tf.Tensor | null = null;
  const flags: string[] = [];
  let constSeed = 1;
  const constant = (shape: number[]) => tf.constant(randomData(size(shape), constSeed++ * 7919, -2, 2), shape, "float32");
  const pool: Entry[] = [];
  const variables: tf.Variable[] = [];
  const outputs = graph.asDefault(() => {
    recipe.leaves.forEach((l, i) => {
      const values = tf.ndarray(randomData(size(l.shape), l.seed, -2, 2), l.shape);
      if (l.kind === "placeholder") {
        const declared = l.declared === 5 ? null : l.declared === 0 && l.shape.length ? [null, ...l.shape.slice(1)] : l.shape;
        const t = tf.placeholder("float32", declared, `x${i}`);
        feeds[t.op.name] = values;
        placeholders.push(t.op.name);
        pool.push({ t, shape: l.shape });
      } else if (l.kind === "const") pool.push({ t: tf.constant(values, l.shape, "float32", `c${i}`), shape: l.shape });
      else if (l.kind === "variable") {
        const v = new tf.Variable(values, { name: `v${i}` });
        variables.push(v);
        pool.push({ t: v, shape: l.shape });
      } else {
        const t = tf.placeholderWithDefault(tf.constant(values, l.shape, "float32"), l.declared % 2 && l.shape.length ? [null, ...l.shape.slice(1)] : l.shape, `d${i}`);
        // Fed with other values on some runs: then the default must not be baked in.
        if (l.declared >= 4) feeds[t.op.name] = tf.ndarray(randomData(size(l.shape), l.seed + 1, -2, 2), l.shape);
        defaults.push(t.op.name);
        pool.push({ t, shape: l.shape });
      }
    });
    const flag = (kind: number): tf.Tensor => {
      if (kind % 3 === 0) return tf.constant(kind % 2 === 0, [], "bool");
      if (kind % 3 === 1) {
        const t = tf.placeholderWithDefault(kind % 2 === 0, [], "flag_default");
        flags.push(t.op.name);
        return t;
      }
      return phase!;
    };
    // One fed flag for every cond, made outside them (a tensor made in a branch is dead outside it).
    if (recipe.steps.some((s) => s.kind === "cond" || s.kind === "nested-cond")) {
      phase = tf.placeholder("bool", [], "phase");
      flags.push(phase.op.name);
    }
    // The steps (repeats aside) that added a tensor: what a repeat may repeat.
    const made: StepRecipe[] = [];
    const apply = (s: StepRecipe): StepRecipe => {
      const before = pool.length;
      build(s);
      if (pool.length > before && s.kind !== "repeat") made.push(s);
      return s;
    };
    const build = (s: StepRecipe): void => {
      const x = at(pool, s.a);
      const push = (t: tf.Tensor, shape: number[]): void => void pool.push({ t, shape });
      switch (s.kind) {
        case "unary":
          return push(unary(s.b, x.t), x.shape);
        case "binary": {
          const other = at(pool, s.b);
          const shape = broadcast(x.shape, other.shape);
          if (shape) return push(binary(s.c, x.t, other.t), shape);
          const yShape = s.c % 2 ? [] : x.shape.slice(-1);
          return push(binary(s.d, x.t, constant(yShape)), x.shape);
        }
        case "matmul": {
          const rows = x.shape.length === 2 ? x.t : tf.reshape(x.t, x.shape.length === 0 ? [1, 1] : [-1, x.shape[x.shape.length - 1]]);
          const [m, k] = x.shape.length === 2 ? x.shape : x.shape.length === 0 ? [1, 1] : [size(x.shape) / x.shape[x.shape.length - 1], x.shape[x.shape.length - 1]];
          const n = 1 + (s.c % 4);
          const transposeB = s.d % 2 === 1;
          const candidate = pool.find((e, i) => i >= s.b % pool.length && e.shape.length === 2 && e.shape[transposeB ? 1 : 0] === k);
          const w = candidate?.t ?? constant(transposeB ? [n, k] : [k, n]);
          const cols = candidate ? candidate.shape[transposeB ? 0 : 1] : n;
          return push(tf.matmul(rows, w, { transposeB }), [m, cols]);
        }
        case "reduce": {
          const axes = x.shape.map((_, i) => i).filter((i) => (s.b >> i) & 1);
          const keep = s.c % 2 === 1;
          const fn = at([tf.reduceSum, tf.reduceMean, tf.reduceMax] as const, s.d);
          const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
          return push(fn(x.t, axes, keep), shape);
        }
        case "reshape": {
          const n = size(x.shape);
          const targets: number[][] = [[n], [-1], [1, ...x.shape], [...x.shape, 1], [...x.shape].reverse()];
          if (x.shape.length >= 2) targets.push([x.shape[0] * x.shape[1], ...x.shape.slice(2)]);
          const target = at(targets, s.b);
          return push(tf.reshape(x.t, target), target.map((d) => (d === -1 ? n : d)));
        }
        case "transpose": {
          const perm = permutation(x.shape.length, s.b);
          return push(tf.transpose(x.t, perm), perm.map((p) => x.shape[p]));
        }
        case "concat": {
          if (x.shape.length === 0) return push(tf.concat([tf.reshape(x.t, [1]), tf.reshape(x.t, [1])], 0), [2]);
          const axis = s.c % x.shape.length;
          const other = pool.find((e, i) => i >= s.b % pool.length && e.shape.length === x.shape.length && e.shape.every((d, j) => j === axis || d === x.shape[j]));
          const extra = 1 + (s.d % 3);
          const y = other ?? { t: constant(x.shape.map((d, j) => (j === axis ? extra : d))), shape: x.shape.map((d, j) => (j === axis ? extra : d)) };
          const negative = s.d % 5 === 0 ? -1 : 0; // a negative axis now and then
          return push(tf.concat([x.t, y.t], negative ? axis - x.shape.length : axis), x.shape.map((d, j) => (j === axis ? d + y.shape[j] : d)));
        }
        case "cond": {
          const other = at(pool, s.d);
          const same = broadcast(x.shape, other.shape);
          const result = tf.cond(
            flag(s.c),
            () => unary(s.b, x.t),
            () => (same && same.every((d, i) => d === x.shape[i]) ? binary(s.b + 1, x.t, other.t) : unary(s.b + 1, x.t)),
          );
          return push(result, x.shape);
        }
        case "nested-cond": {
          const inner = () => tf.cond(flag(s.d), () => unary(s.b, x.t), () => tf.cond(flag(s.d + 1), () => unary(s.b + 2, x.t), () => x.t));
          return push(tf.cond(flag(s.c), inner, () => unary(s.b + 1, x.t)), x.shape);
        }
        case "control": {
          // An op that must wait for another: never an update (dropping updates would change what it reads),
          // nor a Placeholder (as in TF, a control edge on a fed placeholder still runs it, and it fails).
          const other = at(pool, s.b);
          const waitFor = other.t.op.type === "Placeholder" ? [] : [other.t.op];
          return push(tf.controlDependencies(waitFor, () => (s.c % 2 ? tf.identity(x.t) : tf.add(x.t, 1))), x.shape);
        }
        case "split": {
          if (x.shape.length === 0) return push(tf.neg(x.t), x.shape);
          const axis = s.b % x.shape.length;
          const n = x.shape[axis];
          const pieces = s.c % 2 ? tf.unstack(x.t, { num: n, axis }) : tf.split(x.t, n, axis);
          const shape = s.c % 2 ? x.shape.filter((_, i) => i !== axis) : x.shape.map((d, i) => (i === axis ? 1 : d));
          push(at(pieces, s.d), shape);
          return push(pieces[0], shape);
        }
        case "tile-pad": {
          const amounts = x.shape.map((_, i) => ((s.c >> i) & 1) + (s.b % 2 ? 1 : 0));
          if (s.b % 2 || x.shape.length === 0) return push(tf.tile(x.t, amounts), x.shape.map((d, i) => d * amounts[i]));
          return push(tf.pad(x.t, amounts.map((p) => [p, 1 - p])), x.shape.map((d) => d + 1));
        }
        case "slice": {
          const begin = x.shape.map((d, i) => (s.b >> i) % d);
          const sz = x.shape.map((d, i) => (s.c >> i) % 2 ? -1 : d - begin[i]);
          return push(tf.slice(x.t, begin, sz), x.shape.map((d, i) => d - begin[i]));
        }
        case "gather": {
          if (x.shape.length === 0) return push(tf.abs(x.t), x.shape);
          const axis = s.b % x.shape.length;
          const indices = [s.c % x.shape[axis], s.d % x.shape[axis], 0];
          return push(tf.gather(x.t, tf.constant(Int32Array.from(indices), [3], "int32"), axis), x.shape.map((d, i) => (i === axis ? 3 : d)));
        }
        case "stack": {
          const other = pool.find((e, i) => i >= s.b % pool.length && e.shape.join() === x.shape.join()) ?? x;
          const axis = s.c % (x.shape.length + 1);
          return push(tf.stack([x.t, other.t], axis), [...x.shape.slice(0, axis), 2, ...x.shape.slice(axis)]);
        }
        case "identity":
          return push(s.b % 2 ? tf.identity(x.t) : tf.stopGradient(x.t), x.shape);
        case "repeat": {
          // The same op on the same operands again: a common subexpression.
          const previous = made.length ? at(made, s.b) : undefined;
          if (previous) return build(previous);
          return push(unary(s.b, x.t), x.shape);
        }
        case "expand": {
          const squeezable = x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
          if (s.b % 2 && squeezable.length) return push(tf.squeeze(x.t, [squeezable[0]]), x.shape.filter((_, i) => i !== squeezable[0]));
          const axis = s.c % (x.shape.length + 1);
          return push(tf.expandDims(x.t, axis), [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)]);
        }
        case "where":
          return push(tf.where(tf.greater(x.t, 0), x.t, tf.neg(x.t)), x.shape);
        case "cast":
          return push(tf.cast(tf.cast(tf.mul(x.t, 3), "int32"), "float32"), x.shape);
        case "const-math": {
          // A subgraph over constants only: constant folding replaces it by one Const.
          const c = constant(x.shape);
          return push(tf.add(x.t, tf.mul(tf.add(c, 1), tf.constant(0.5, [], "float32"))), x.shape);
        }
        case "update": {
          const v = variables.length ? at(variables, s.b) : undefined;
          if (v) tf.addToCollection(tf.GraphKeys.UPDATE_OPS, tf.assignAdd(v, tf.mul(v, 0.5)));
          return;
        }
        case "unused":
          unary(s.b, x.t);
          return;
      }
    };
    for (const s of recipe.steps) apply(s);
    const chosen = new Set([pool.length - 1, ...recipe.outputs.map((i) => i % pool.length)]);
    return [...chosen].map((i) => pool[i].t.name);
  });
  if (phase) feeds[(phase as tf.Tensor).op.name] = tf.ndarray([recipe.phase], [], "bool");
  return { graph, outputs, feeds, placeholders, defaults, flags };
}
