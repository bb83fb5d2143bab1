/**
 * Softmax cross entropy on the wasm backend: the float64 exp of codegen/wasm/exp64.ts gives
 * Math.exp's bits, and SparseSoftmaxCrossEntropyWithLogits / SoftmaxCrossEntropyWithLogits run as
 * one cross-entropy kernel each with the interpreter's bits (loss and backprop), on random shapes,
 * extreme logits and one class; a label out of range fails the run with the reference kernel's
 * error.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import { binaryen } from "../../codegen/wasm/binaryen";
import { emitExp64, expLocals } from "../../codegen/wasm/exp64";
import { WasmProgramBuilder } from "../../codegen/wasm/program";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { backendOf, expectBits, kernelKinds, sameBits } from "./wasm-helpers-session";

function logits(rows: number, columns: number, seed: number, scale: number, extremes: boolean): Float32Array {
  const data = randomData(rows * columns, seed, -scale, scale);
  if (extremes) for (let i = 0; i < data.length; i += 7) data[i] = i % 2 ? -Infinity : -1e30;
  return data;
}

describe("float64 exp as Math.exp", () => {
  beforeAll(() => wasmReady());

  it("gives Math.exp's bits on 20,000 arguments (reduction ranges, subnormal results, NaN, ±∞, the thresholds)", () => {
    const special = [0, -0, 1, -1, 0.3465, 0.3466, -0.3466, 1.0397, -1.0397, 1.04, 1e-9, -1e-9, 3e-9, 709.78, 709.79, -745.13, -745.14, -708.4, -710, -740, NaN, Infinity, -Infinity, 88.7, -103.9];
    const values = new Float64Array(20000);
    values.set(special);
    let s = 12345;
    const next = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
    for (let i = special.length; i < values.length; i++) {
      const r = next();
      values[i] = i % 4 === 0 ? -750 * r : i % 4 === 1 ? 40 * r - 30 : i % 4 === 2 ? (r - 0.5) * 2 * 1.5 * Math.LN2 : Math.fround(20 * r - 10) - Math.fround(5 * next());
    }
    const n = values.length;
    const p = new WasmProgramBuilder();
    p.tensor("x", 2 * n, "input").tensor("y", 2 * n, "output");
    p.step(["x"], ["y"], (at) => ({
      kind: "custom",
      op: "exp64",
      emit: (fb) => {
        const L = expLocals(fb);
        const [px, py] = [fb.i32Local(), fb.i32Local()];
        return [
          fb.set(px, fb.i32(at("x"))),
          fb.set(py, fb.i32(at("y"))),
          fb.repeat(n, [...emitExp64(fb, L, fb.m.f64.load(0, 8, fb.get(px))), fb.m.f64.store(0, 8, fb.get(py), fb.get(L.y, binaryen.f64)), ...fb.bump(px, 8), ...fb.bump(py, 8)]),
        ];
      },
    }));
    const program = p.build();
    new Float64Array(program.memory.buffer, program.offset("x"), n).set(values);
    program.run();
    expectBits(new Float64Array(program.memory.buffer, program.offset("y"), n), Array.from(values, Math.exp), "exp");
  });
});

describe("softmax cross entropy as one wasm kernel", () => {
  beforeAll(() => wasmReady());

  const sparseCase = fc.record({
    rows: fc.integer({ min: 1, max: 7 }),
    columns: fc.integer({ min: 1, max: 13 }),
    scale: fc.constantFrom(1, 10, 80),
    extremes: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1 << 20 }),
  });

  it("SparseSoftmaxCrossEntropyWithLogits: loss and backprop are the interpreter's bits on random shapes", () => {
    fc.assert(
      fc.property(sparseCase, ({ rows, columns, scale, extremes, seed }) => {
        const labels = Int32Array.from({ length: rows }, (_, r) => (seed + r * 7) % columns);
        const wasm = sameBits(
          () => {
            const x = tf.placeholder("float32", [null, columns], "x");
            const y = tf.placeholder("int32", [null], "y");
            const loss = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits: x });
            return [loss, loss.op.outputs[1]];
          },
          { x: tf.ndarray(logits(rows, columns, seed, scale, extremes), [rows, columns]), y: tf.ndarray(labels, [rows], "int32") },
        );
        expect(kernelKinds(wasm)).toEqual(["cross-entropy"]);
      }),
      { numRuns: 40 },
    );
  });

  it("SoftmaxCrossEntropyWithLogits: loss and backprop are the interpreter's bits (labels with zeros, negatives, unnormalized)", () => {
    fc.assert(
      fc.property(sparseCase, ({ rows, columns, scale, extremes, seed }) => {
        const labels = randomData(rows * columns, seed + 1, -0.5, 1).map((v, i) => (i % 3 === 0 ? 0 : v));
        const wasm = sameBits(
          () => {
            const x = tf.placeholder("float32", [rows, columns], "x");
            const y = tf.placeholder("float32", [rows, columns], "y");
            const loss = tf.nn.softmaxCrossEntropyWithLogitsV2({ labels: y, logits: x });
            return [loss, loss.op.outputs[1]];
          },
          { x: tf.ndarray(logits(rows, columns, seed, scale, extremes), [rows, columns]), y: tf.ndarray(labels, [rows, columns]) },
        );
        expect(kernelKinds(wasm)).toEqual(["cross-entropy"]);
      }),
      { numRuns: 40 },
    );
  });

  it("stores only the outputs that are read: the loss alone, the backprop alone", () => {
    const feeds = { x: tf.ndarray(randomData(12, 3), [4, 3]), y: tf.ndarray(Int32Array.of(0, 2, 1, 2), [4], "int32") };
    const build = (which: "loss" | "backprop") => () => {
      const x = tf.placeholder("float32", [4, 3], "x");
      const loss = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [4], "y"), logits: x });
      return which === "loss" ? [loss] : [loss.op.outputs[1]];
    };
    for (const which of ["loss", "backprop"] as const) {
      const wasm = sameBits(build(which), feeds);
      const kernel = backendOf(wasm).last!.built.kernels.find((k) => k.kind === "cross-entropy");
      expect(kernel?.kind === "cross-entropy" && kernel.loss !== undefined, `${which}: loss stored`).toBe(which === "loss");
      expect(kernel?.kind === "cross-entropy" && kernel.backprop !== undefined, `${which}: backprop stored`).toBe(which === "backprop");
    }
  });

  it("a label outside [0, classes) fails the run, and the kernel's trap stands for the interpreter's error", () => {
    const graph = new tf.Graph();
    const loss = graph.asDefault(() =>
      tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [3], "y"), logits: tf.placeholder("float32", [3, 4], "x") }),
    );
    const x = tf.ndarray(randomData(12, 5), [3, 4]);
    const good = { x, y: tf.ndarray(Int32Array.of(0, 3, 1), [3], "int32") };
    const wasm = new tf.Session({ graph, backend: "wasm" });
    wasm.runSync(loss, good);
    for (const bad of [Int32Array.of(0, 4, 1), Int32Array.of(-1, 0, 0)]) {
      const feeds = { x, y: tf.ndarray(bad, [3], "int32") };
      let expected: unknown;
      expect(() => new tf.Session({ graph, backend: "interpreter" }).runSync(loss, feeds)).toThrow(tf.errors.InvalidArgumentError);
      try {
        new tf.Session({ graph, backend: "interpreter" }).runSync(loss, feeds);
      } catch (e) {
        expected = e;
      }
      let thrown: unknown;
      try {
        wasm.runSync(loss, feeds);
      } catch (e) {
        thrown = e;
      }
      // The executor raises what the kernel's trap stands for: the interpreter's error, word for word.
      expect(thrown).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((thrown as Error).message).toBe((expected as Error).message);
      const step = backendOf(wasm).last!.built.lowered.steps.find((s) => s.kind === "kernel" && s.onTrap);
      const onTrap = step?.kind === "kernel" ? step.onTrap : undefined;
      expect(onTrap, "the kernel step maps its trap").toBeDefined();
      const error = onTrap!((key) => (key.includes("x") ? x.data : bad));
      expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((error as Error).message).toBe((expected as Error).message);
    }
    expect(wasm.runSync(loss, good).data).toEqual(new tf.Session({ graph, backend: "interpreter" }).runSync(loss, good).data);
  });
});
