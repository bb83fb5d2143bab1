/**
 * `backend: "wasm"` against the interpreter (1e-5 relative): the synchronous loading of the code
 * generator (the asynchronous fallback: wasm-load-fallback.test.ts), each op family with its fused groups and epilogues (and which ops run on the host),
 * the variables' residence in the program memory. Training: wasm-training.test.ts; tf.compile:
 * wasm-compile.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { rewriteBinaryenSource } from "../../codegen/wasm/binaryen-load";
import { expectClose, randomData } from "../helpers/run";
import { backendOf, fallbackTypes, jsKernelTypes, kernelKinds, runBoth } from "./wasm-helpers-session";

describe("loading the code generator", () => {
  it("binaryen loads synchronously: a fresh session's runSync runs on wasm (the default backend)", () => {
    const graph = new tf.Graph();
    const { x, y } = graph.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      return { x, y: tf.mul(x, 3) };
    });
    const sess = new tf.Session({ graph });
    expect(sess.backend).toBe("wasm");
    expect(Array.from(sess.runSync(y, { [x.name]: [1, 2] }).data)).toEqual([3, 6]);
    expect(backendOf(sess).last).not.toBeNull();
  });

  it("rewrites binaryen's source to synchronous code, and refuses a source of another shape", () => {
    const src = 'async function F(a={}){let{createRequire:r}=await import("node:module");var u=import.meta.url;var i=await WebAssembly.instantiate(b,c);return(await g())}var m=await F(),d=m;export{d as default};';
    const out = rewriteBinaryenSource(src);
    expect(out).not.toMatch(/await|async|import\.meta|export/);
    expect(out).toMatch(/__nodeModule/);
    expect(out).toMatch(/__instantiateSync\(b,c\)/);
    expect(out).toMatch(/return d;$/);
    expect(() => rewriteBinaryenSource(src.replace("await WebAssembly.instantiate(", "WebAssembly.instantiateStreaming("))).toThrow(/expected shape/);
  });
});

describe("ops on the wasm backend", () => {
  beforeAll(() => wasmReady());

  it("MatMul (every transpose) with BiasAdd and Relu fused into the GEMM's store", () => {
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const a = tf.ndarray(randomData(7 * 13, 1), ta ? [13, 7] : [7, 13]);
      const b = tf.ndarray(randomData(13 * 10, 2), tb ? [10, 13] : [13, 10]);
      const { wasm } = runBoth(() => {
        const x = tf.placeholder("float32", [null, null], "a");
        const w = tf.placeholder("float32", [null, null], "b");
        const bias = tf.constant(randomData(10, 3));
        return { fetch: tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, w, { transposeA: ta, transposeB: tb }), bias)) };
      }, { feeds: { a, b } });
      expect(kernelKinds(wasm)).toEqual(["gemm+2"]);
    }
  });

  it("a constant weight is packed at compile time; the epilogue stops at a value read twice", () => {
    const { wasm } = runBoth(() => {
      const x = tf.placeholder("float32", [null, 9], "x");
      const h = tf.add(tf.matmul(x, tf.constant(randomData(9 * 6, 4), [9, 6])), tf.constant(randomData(6, 5)));
      return { fetch: [tf.nn.sigmoid(h), tf.mul(h, 2)] };
    }, { feeds: { x: tf.ndarray(randomData(5 * 9, 6), [5, 9]) } });
    expect(kernelKinds(wasm)).toEqual(["gemm+1", "elementwise"]);
    const gemm = backendOf(wasm).last!.built.kernels[0];
    expect(gemm.kind === "gemm" && gemm.bPacked).toBe(true);
  });

  it("Conv2D (SAME / VALID, strides, dilations) with a per-channel scale, shift and Relu6", () => {
    const cases: [number, number, "SAME" | "VALID", number][] = [[1, 1, "SAME", 1], [2, 2, "SAME", 1], [1, 2, "VALID", 1], [1, 1, "SAME", 2]];
    for (const [sh, sw, padding, dilation] of cases) {
      const { wasm } = runBoth(() => {
        const x = tf.placeholder("float32", [2, 9, 8, 3], "x");
        const f = tf.constant(randomData(3 * 3 * 3 * 5, 7), [3, 3, 3, 5]);
        const y = tf.nn.conv2d(x, f, [1, sh, sw, 1], padding, { dilations: [1, dilation, dilation, 1] });
        return { fetch: tf.nn.relu6(tf.add(tf.mul(y, tf.constant(randomData(5, 8))), tf.constant(randomData(5, 9)))) };
      }, { feeds: { x: tf.ndarray(randomData(2 * 9 * 8 * 3, 10), [2, 9, 8, 3]) } });
      expect(kernelKinds(wasm)).toEqual(["conv2d+3"]);
    }
  });

  it("DepthwiseConv2dNative with a channel multiplier, and max / average pooling", () => {
    const x = tf.ndarray(randomData(2 * 7 * 7 * 3, 11), [2, 7, 7, 3]);
    const { wasm } = runBoth(() => {
      const input = tf.placeholder("float32", [2, 7, 7, 3], "x");
      const f = tf.placeholder("float32", [3, 3, 3, 2], "f");
      const d = tf.nn.relu(tf.nn.depthwiseConv2d(input, f, [1, 2, 2, 1], "SAME"));
      return { fetch: [d, tf.nn.maxPool(input, 3, 2, "SAME"), tf.nn.avgPool(input, 2, 2, "VALID"), tf.nn.avgPool(input, 3, 1, "SAME")] };
    }, { feeds: { x, f: tf.ndarray(randomData(54, 12), [3, 3, 3, 2]) } });
    expect(kernelKinds(wasm)).toEqual(["depthwise+1", "pool", "pool", "pool"]);
  });

  it("reductions over adjacent axes run natively, others as a one-op JS program", () => {
    const x = tf.ndarray(randomData(4 * 5 * 6, 13), [4, 5, 6]);
    const { wasm } = runBoth(() => {
      const input = tf.placeholder("float32", [4, 5, 6], "x");
      return {
        fetch: [
          tf.reduceSum(input, 0), tf.reduceSum(input, [1, 2]), tf.reduceMean(input, -1, true), tf.reduceMax(input, 1),
          tf.reduceMin(input, [0, 1]), tf.reduceSum(input), tf.reduceMean(input, [0, 2]),
        ],
      };
    }, { feeds: { x }, allowFallback: ["Mean"] });
    expect(jsKernelTypes(wasm)).toEqual(["Mean"]);
    expect(fallbackTypes(wasm)).toEqual([]);
    expect(kernelKinds(wasm).filter((k) => k === "reduce")).toHaveLength(6);
  });

  it("Softmax and LogSoftmax over the last axis (with a lane tail)", () => {
    runBoth(() => {
      const input = tf.placeholder("float32", [6, 11], "x");
      return { fetch: [tf.nn.softmax(input), tf.nn.logSoftmax(input)] };
    }, { feeds: { x: tf.ndarray(randomData(66, 14, -5, 5), [6, 11]) } });
  });

  it("an elementwise group with broadcasting is one kernel; a comparison and a select split it around a typed (scalar) kernel", () => {
    const { wasm } = runBoth(() => {
      const x = tf.placeholder("float32", [5, 7], "x");
      const row = tf.placeholder("float32", [5, 1], "row");
      const t = tf.tanh(tf.add(tf.mul(x, row), tf.constant(randomData(7, 15))));
      const leaky = tf.where(tf.greater(t, 0), t, tf.mul(t, 0.1));
      return { fetch: [tf.exp(tf.squaredDifference(leaky, tf.maximum(x, -0.5))), tf.sqrt(tf.abs(x))] };
    }, { feeds: { x: tf.ndarray(randomData(35, 16), [5, 7]), row: tf.ndarray(randomData(5, 17), [5, 1]) } });
    expect(jsKernelTypes(wasm)).toEqual([]);
    expect(kernelKinds(wasm)).toEqual(["elementwise", "typed-elementwise", "elementwise"]);
  });
});

describe("intraOpParallelism", () => {
  beforeAll(() => wasmReady());

  it("a large GEMM and a large Conv2D run in parts on worker threads, with the interpreter's numbers", () => {
    const graph = new tf.Graph();
    const r = graph.asDefault(() => {
      const x = tf.placeholder("float32", [96, 256], "x");
      const w = tf.getVariable("w", [256, 130], { initializer: tf.initializers.glorotUniform({ seed: 50 }) });
      const dense = tf.nn.relu(tf.matmul(x, w));
      const images = tf.placeholder("float32", [5, 16, 16, 8], "images");
      const f = tf.constant(randomData(3 * 3 * 8 * 24, 51), [3, 3, 8, 24]);
      const conv = tf.nn.relu(tf.add(tf.nn.conv2d(images, f, 1, "SAME"), tf.constant(randomData(24, 52))));
      return { dense, conv, init: tf.globalVariablesInitializer() };
    });
    const feeds = { x: tf.ndarray(randomData(96 * 256, 53), [96, 256]), images: tf.ndarray(randomData(5 * 16 * 16 * 8, 54), [5, 16, 16, 8]) };
    const interpreter = new tf.Session({ graph, backend: "interpreter" });
    interpreter.runSync(r.init);
    const expected = interpreter.runSync([r.dense, r.conv], feeds);
    // The conv (constant 3×3 filter) runs as Winograd F(2×2, 3×3), which sums in another order
    // than the interpreter: 1e-5 absolute on outputs up to ~11; split and unsplit agree exactly.
    let single: tf.NDArray[] = [];
    for (const threads of [1, 3]) {
      const sess = new tf.Session({ graph, backend: "wasm", intraOpParallelism: threads });
      for (const [name, value] of interpreter.variableValues) sess.setVariableValue(name, value);
      for (let i = 0; i < 2; i++) {
        const actual = sess.runSync([r.dense, r.conv], feeds);
        actual.forEach((a, k) => expectClose(a.data, expected[k].data, 1e-5, 1e-5));
        if (threads === 1) single = actual;
        else actual.forEach((a, k) => expect(Array.from(a.data)).toEqual(Array.from(single[k].data)));
      }
      expect(kernelKinds(sess)).toEqual(threads === 1 ? ["gemm+1", "conv2d+2"] : ["gemm+1", "gemm+1", "gemm+1", "conv2d+2", "conv2d+2", "conv2d+2"]);
      sess.close();
    }
  });
});

describe("variables of a wasm session", () => {
  beforeAll(() => wasmReady());

  function counter() {
    const graph = new tf.Graph();
    const r = graph.asDefault(() => {
      const v = tf.getVariable("v", [3], { initializer: tf.initializers.constant(1) });
      const inc = tf.assignAdd(v, tf.constant([1, 2, 3]));
      return { v, inc, double: tf.mul(v, 2), init: tf.globalVariablesInitializer() };
    });
    return { graph, ...r };
  }

  it("stay resident across runs and programs; snapshots are copies; restored values are copied in", () => {
    const { graph, v, inc, double, init } = counter();
    const sess = new tf.Session({ graph, backend: "wasm" });
    sess.runSync(init);
    sess.runSync(inc);
    const before = sess.variableValues.get("v")!;
    expect(Array.from(before.data)).toEqual([2, 3, 4]);
    sess.runSync(inc);
    expect(Array.from(before.data), "a snapshot does not change").toEqual([2, 3, 4]);
    expect(Array.from(sess.runSync(double).data), "another program reads the update").toEqual([6, 10, 14]);
    const restored = tf.ndarray([10, 20, 30], [3]);
    sess.setVariableValue("v", restored);
    expect(Array.from(sess.runSync(inc).data)).toEqual([11, 22, 33]);
    expect(Array.from(restored.data), "a restored array is never written").toEqual([10, 20, 30]);
    expect(Array.from(sess.runSync(v).data)).toEqual([11, 22, 33]);
    expect(Array.from(sess.runSync(double).data)).toEqual([22, 44, 66]);
  });

  it("an uninitialized variable raises the interpreter's error", () => {
    const { graph, inc } = counter();
    const errors = (["interpreter", "wasm"] as const).map((backend) => {
      try {
        new tf.Session({ graph, backend }).runSync(inc);
      } catch (e) {
        return e as tf.errors.FailedPreconditionError;
      }
      return null;
    });
    expect(errors[1]).toBeInstanceOf(tf.errors.FailedPreconditionError);
    expect(errors[1]!.message).toBe(errors[0]!.message);
  });
});

