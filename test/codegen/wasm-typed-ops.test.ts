/**
 * The int32 / bool side of a `backend: "wasm"` program: comparisons, LogicalAnd / Or, SelectV2,
 * Cast between every dtype pair, int32 arithmetic (wrapping as the reference kernels do) and
 * ArgMax / ArgMin run as kernels (typed-elementwise, arg-reduce) with the interpreter's bits —
 * special values (NaN, −0, ±∞, values past int32), broadcasting, small groups as one kernel and
 * large ones split around the SIMD kernels; a reduction with nothing to add up is one SIMD pass;
 * the standalone module has these as kernels too; and a training step with an accuracy, a sparse
 * loss and a global step has no host step but its dropout's RandomUniform.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import { apply1 } from "../../ir/ops/build";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { fallbackTypes, kernelKinds, runBoth, sameBits } from "./wasm-helpers-session";

const SPECIAL = [0, -0, 1, -1, 0.5, -0.5, 2.7, -2.7, NaN, Infinity, -Infinity, 3e9, -3e9, 2147483647, -2147483648, 2147483648, 4294967296, 1e20, -1e20, 1e-30, 16777217, -7];
const INTS = [0, 1, -1, 7, -7, 2147483647, -2147483648, 1073741824, 46341, -46341, 65536, 3, 100000, -100000];

describe("typed (int32 / bool) ops as wasm kernels", () => {
  beforeAll(() => wasmReady());

  it("comparisons over float32 (NaN, −0, ±∞), int32 and bool, broadcast, in a small group and a large one", () => {
    const cases: [number[], number[]][] = [[[SPECIAL.length], [SPECIAL.length]], [[SPECIAL.length, 1], [SPECIAL.length]], [[50, 41], [41]]];
    for (const [sa, sb] of cases) {
      const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
      const fa = Float32Array.from({ length: size(sa) }, (_, i) => SPECIAL[i % SPECIAL.length]);
      const fbv = Float32Array.from({ length: size(sb) }, (_, i) => SPECIAL[(i * 5 + 3) % SPECIAL.length]);
      const ia = Int32Array.from({ length: size(sa) }, (_, i) => INTS[i % INTS.length]);
      const ib = Int32Array.from({ length: size(sb) }, (_, i) => INTS[(i * 3 + 1) % INTS.length]);
      const wasm = sameBits(
        () => {
          const [a, b] = [tf.placeholder("float32", sa, "a"), tf.placeholder("float32", sb, "b")];
          const [i, j] = [tf.placeholder("int32", sa, "i"), tf.placeholder("int32", sb, "j")];
          const out: tf.Tensor[] = [];
          for (const f of [tf.equal, tf.notEqual, tf.less, tf.lessEqual, tf.greater, tf.greaterEqual]) out.push(f(a, b), f(i, j));
          const [p, q] = [tf.less(a, b), tf.greater(i, j)];
          out.push(tf.equal(p, q), tf.notEqual(p, q), tf.logicalAnd(p, q), tf.logicalOr(p, q));
          return out;
        },
        { a: tf.ndarray(fa, sa), b: tf.ndarray(fbv, sb), i: tf.ndarray(ia, sa, "int32"), j: tf.ndarray(ib, sb, "int32") },
      );
      expect(kernelKinds(wasm).every((k) => k === "typed-elementwise")).toBe(true);
    }
  });

  it("Cast between every pair of float32, int32 and bool (truncation, NaN and ±∞ to 0, wrapping past int32)", () => {
    const f = Float32Array.from(SPECIAL);
    const i = Int32Array.from({ length: SPECIAL.length }, (_, k) => INTS[k % INTS.length]);
    const b = Uint8Array.from({ length: SPECIAL.length }, (_, k) => k % 3 === 0 ? 1 : 0);
    const n = SPECIAL.length;
    sameBits(
      () => {
        const x = { float32: tf.placeholder("float32", [n], "f"), int32: tf.placeholder("int32", [n], "i"), bool: tf.placeholder("bool", [n], "b") };
        const dtypes = ["float32", "int32", "bool"] as const;
        return dtypes.flatMap((from) => dtypes.map((to) => tf.cast(x[from], to)));
      },
      { f: tf.ndarray(f, [n]), i: tf.ndarray(i, [n], "int32"), b: tf.ndarray(b, [n], "bool") },
    );
  });

  it("SelectV2 (broadcast condition, float32 and int32 branches), int32 arithmetic with wrap-around, float32 FloorDiv", () => {
    const n = INTS.length;
    const i = Int32Array.from(INTS);
    const j = Int32Array.from({ length: n }, (_, k) => INTS[(k * 5 + 2) % n]);
    const x = randomData(3 * n, 4, -3, 3);
    const y = randomData(3 * n, 5, -0.7, 0.7);
    sameBits(
      () => {
        const [a, b] = [tf.placeholder("int32", [n], "i"), tf.placeholder("int32", [n], "j")];
        const [u, v] = [tf.placeholder("float32", [3, n], "x"), tf.placeholder("float32", [3, n], "y")];
        const cond = tf.greater(a, b);
        return [
          tf.where(cond, u, v), tf.where(cond, a, b), tf.where(tf.less(u, 0), u, tf.zerosLike(u)),
          tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.maximum(a, b), tf.minimum(a, b), tf.neg(a), tf.abs(a), tf.square(b), tf.nn.relu(a),
          tf.floorDiv(u, v), tf.cast(tf.add(tf.cast(a, "float32"), tf.cast(cond, "float32")), "int32"),
        ];
      },
      { i: tf.ndarray(i, [n], "int32"), j: tf.ndarray(j, [n], "int32"), x: tf.ndarray(x, [3, n]), y: tf.ndarray(y, [3, n]) },
    );
  });

  it("ArgMax and ArgMin over every axis (ties, NaN), float32 and int32", () => {
    const shape = [3, 4, 5];
    const data = randomData(60, 7, -2, 2).map((v, k) => (k % 11 === 0 ? NaN : k % 7 === 0 ? 1 : Math.round(v * 2) / 2));
    const wasm = sameBits(
      () => {
        const x = tf.placeholder("float32", shape, "x");
        const i = tf.cast(tf.mul(x, 3), "int32");
        return [0, 1, 2, -1].flatMap((axis) => [tf.argmax(x, axis), tf.argmin(x, axis), tf.argmax(i, axis), tf.argmin(i, axis)]);
      },
      { x: tf.ndarray(data, shape) },
    );
    expect(kernelKinds(wasm).filter((k) => k === "arg-reduce")).toHaveLength(16);
  });

  it("a reduction with nothing to add up (SumToShape to its own shape, Sum / Mean over size-1 axes) is one SIMD pass with the reference's bits (−0 → +0)", () => {
    const data = Float32Array.from([-0, 0, NaN, -1.5, Infinity, -Infinity, 3, 1e-40]);
    const wasm = sameBits(
      () => {
        const x = tf.placeholder("float32", [null, 4], "x");
        const cube = tf.reshape(x, [2, 1, 4]);
        return [apply1("SumToShape", [x, tf.shape(x)], {}, "SumToShape"), tf.reduceSum(cube, 1), tf.reduceMean(cube, 1, true), tf.reduceMax(cube, 1)];
      },
      { x: tf.ndarray(data, [2, 4]) },
    );
    expect(kernelKinds(wasm)).toEqual(["elementwise", "elementwise", "elementwise", "reduce"]);
  });

  it("random comparisons + selects over broadcast shapes", () => {
    fc.assert(
      fc.property(
        fc.record({ rows: fc.integer({ min: 1, max: 40 }), cols: fc.integer({ min: 1, max: 40 }), rowWise: fc.boolean(), seed: fc.integer({ min: 1, max: 1 << 20 }) }),
        ({ rows, cols, rowWise, seed }) => {
          const bShape = rowWise ? [rows, 1] : [cols];
          sameBits(
            () => {
              const a = tf.placeholder("float32", [rows, cols], "a");
              const b = tf.placeholder("float32", bShape, "b");
              const c = tf.greaterEqual(a, b);
              return [tf.cast(c, "int32"), tf.where(c, tf.mul(a, 2), tf.add(b, 1)), tf.argmax(tf.where(c, a, tf.zerosLike(a)), 1)];
            },
            { a: tf.ndarray(randomData(rows * cols, seed, -1, 1).map((v) => Math.round(v * 4) / 4), [rows, cols]), b: tf.ndarray(randomData(bShape[0], seed + 1), bShape) },
          );
        },
      ),
      { numRuns: 25 },
    );
  });

  it("the standalone module computes a sparse loss, its gradient and an accuracy as kernels, with the interpreter's bits", async () => {
    const graph = new tf.Graph();
    graph.asDefault(() => {
      const logits = tf.placeholder("float32", [null, 7], "logits");
      const y = tf.placeholder("int32", [null], "y");
      const loss = tf.identity(tf.losses.sparseSoftmaxCrossEntropy(y, logits), "loss");
      tf.identity(tf.gradients(loss, logits)[0]!, "grad");
      tf.identity(tf.reduceMean(tf.cast(tf.equal(tf.argmax(logits, 1), y), "float32")), "accuracy");
    });
    const feeds = { logits: tf.ndarray(randomData(35, 21, -4, 4), [5, 7]), y: tf.ndarray(Int32Array.of(6, 0, 3, 3, 1), [5], "int32") };
    const names = ["loss", "grad", "accuracy"];
    const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(names.map((n) => `${n}:0`), feeds);
    const program = tf.compile(graph, { outputs: names, target: "wasm", inputs: { logits: [5, 7], y: [5] } });
    expect(program.source, "no one-op JS program in the module").not.toMatch(/const J\d+ = /);
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const { pathToFileURL } = await import("node:url");
    const file = join(mkdtempSync(join(tmpdir(), "foldflow-wasm-")), "loss.mjs");
    writeFileSync(file, program.source);
    const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { run(f: Record<string, unknown>): Promise<Record<string, { data: ArrayLike<number> }>> };
    const out = await mod.run({ logits: feeds.logits.data, y: feeds.y.data });
    names.forEach((name, k) => expect(Array.from(out[name].data), name).toEqual(Array.from(expected[k].data)));
  });

  it("a training step with accuracy, sparse loss and a global step runs with no host step but RandomUniform, to the interpreter's variables", () => {
    const n = 6;
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [null, 12], "x");
        const y = tf.placeholder("int32", [null], "y");
        let h = tf.layers.dense(x, 16, { activation: tf.nn.relu, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
        h = tf.layers.dropout(h, { rate: 0.25, training: true, seed: 3 });
        const logits = tf.layers.dense(h, 5, { kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
        const loss = tf.losses.sparseSoftmaxCrossEntropy(y, logits);
        const accuracy = tf.reduceMean(tf.cast(tf.equal(tf.argmax(logits, 1), y), "float32"));
        const step = tf.train.getOrCreateGlobalStep();
        const train = new tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss, { globalStep: step });
        return { fetch: [loss, accuracy, train], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: tf.ndarray(randomData(n * 12, 11), [n, 12]), y: tf.ndarray(Int32Array.of(0, 4, 2, 2, 1, 3), [n], "int32") }, steps: 3, allowFallback: ["RandomUniform"] },
    );
    expect(fallbackTypes(wasm)).toEqual(["RandomUniform"]);
    expect(kernelKinds(wasm)).toEqual(expect.arrayContaining(["cross-entropy", "arg-reduce", "typed-elementwise"]));
    expect(Array.from(wasm.variableValues.get("global_step")!.data)).toEqual([3]);
  });
});
