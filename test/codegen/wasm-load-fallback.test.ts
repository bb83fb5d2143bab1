/**
 * Where binaryen cannot be loaded synchronously (a release whose source the rewrite in
 * codegen/wasm/binaryen-load.ts does not recognise, simulated here by mocking it), the wasm
 * backend still works: an explicit `backend: "wasm"` session's runSync is a
 * FailedPreconditionError until an awaited run has loaded binaryen through its own import, and a
 * default session runs on the js backend meanwhile.
 */
import { describe, expect, it, vi } from "vitest";
import * as tf from "foldflow";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { WasmBackend } from "../../src/runtime/wasm-backend";
import { planRun } from "../../src/runtime/plan";
import { backendOf } from "./wasm-helpers-session";

vi.mock("../../codegen/wasm/binaryen-load", () => ({
  loadBinaryenSource: () => {
    throw new Error("simulated: binaryen's source does not have the expected shape");
  },
}));

function tripled() {
  const graph = new tf.Graph();
  const { x, y } = graph.asDefault(() => {
    const x = tf.placeholder("float32", [2], "x");
    return { x, y: tf.mul(x, 3) };
  });
  return { graph, x, y };
}

describe("binaryen that cannot load synchronously", () => {
  it("runSync on a wasm session throws a FailedPreconditionError whose fix is to await a run or tf.wasmReady()", () => {
    const { graph, y } = tripled();
    const sess = new tf.Session({ graph, backend: "wasm" });
    let error: unknown;
    try {
      sess.runSync(y, { x: [1, 2] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(tf.errors.FailedPreconditionError);
    const d = (error as tf.errors.FailedPreconditionError).diagnostic;
    expect(d.code).toBe("wasm-not-loaded");
    expect(d.message).toMatch(/simulated/);
    expect(d.fix).toMatch(/await one `sess\.run/);
    expect(d.fix).toMatch(/wasmReady/);
  });

  it("a default session runs on the js backend until binaryen has loaded, then on wasm", async () => {
    const { graph, y } = tripled();
    const sess = new tf.Session({ graph });
    expect(sess.backend).toBe("wasm");
    expect(Array.from(sess.runSync(y, { x: [1, 2] }).data)).toEqual([3, 6]);
    expect(backendOf(sess).lastFallback).toMatch(/^js: /);
    await wasmReady();
    expect(Array.from(sess.runSync(y, { x: [1, 2] }).data)).toEqual([3, 6]);
    expect(backendOf(sess).lastFallback).toBeNull();
    expect(backendOf(sess).last).not.toBeNull();
  });

  it('WasmBackend with untilLoaded: "js" runs on js before the load', () => {
    const { x, y } = tripled();
    const backend = new WasmBackend({ variables: new Map(), opState: new Map() }, { untilLoaded: "js" });
    const out = backend.run(planRun([y.op], new Set([x.name])), new Map([[x, tf.ndarray([1, 2], [2])]]), [y], {}).get(y.name) as tf.NDArray;
    expect(Array.from(out.data)).toEqual([3, 6]);
  });

  it("an awaited run loads it through the package's import; runSync works afterwards", async () => {
    const { graph, y } = tripled();
    const sess = new tf.Session({ graph, backend: "wasm" });
    expect(Array.from((await sess.run(y, { x: [1, 2] })).data)).toEqual([3, 6]);
    expect(Array.from(sess.runSync(y, { x: [3, 4] }).data)).toEqual([9, 12]);
    expect(backendOf(sess).last).not.toBeNull();
  });
});
