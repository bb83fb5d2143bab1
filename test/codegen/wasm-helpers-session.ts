/** Shared by the wasm backend tests: one graph on the interpreter and on `backend: "wasm"`. */
import { expect } from "vitest";
import * as tf from "foldflow";
import type { WasmBackend } from "../../src/runtime/wasm-backend";
import { expectClose } from "../helpers/run";

export function leaves(v: unknown): tf.NDArray[] {
  if (v instanceof tf.NDArray) return [v];
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.flatMap(leaves);
  return Object.values(v as Record<string, unknown>).flatMap(leaves);
}

export const backendOf = (sess: tf.Session): WasmBackend => (sess as unknown as { wasm: WasmBackend }).wasm;

/** The op types of the last wasm program's host steps that run a reference kernel. */
export function fallbackTypes(sess: tf.Session): string[] {
  return backendOf(sess).last!.fallbacks.map((op) => op.type);
}

/** The op types of the last wasm program's host steps that run as one-op JS programs. */
export function jsKernelTypes(sess: tf.Session): string[] {
  return backendOf(sess).last!.jsOps.map((op) => op.type);
}

/** The kinds of the last wasm program's kernels, with the length of their fused epilogue ("gemm+2"). */
export function kernelKinds(sess: tf.Session): string[] {
  return backendOf(sess).last!.built.kernels.map((k) => {
    const epilogue = "epilogue" in k && k.epilogue ? k.epilogue.length : 0;
    return epilogue ? `${k.kind}+${epilogue}` : k.kind;
  });
}

export interface Both {
  graph: tf.Graph;
  interpreter: tf.Session;
  wasm: tf.Session;
}

export interface BothOptions {
  feeds?: tf.FeedDict;
  steps?: number;
  /** Op types allowed to run on the host (their reference kernel or a one-op JS program) inside the wasm program. */
  allowFallback?: string[];
  rtol?: number;
}

/**
 * Builds `build` in a fresh graph; initializes variables on the interpreter and copies them to the
 * wasm session; runs `fetch` `steps` times on both, comparing every fetched value and then every
 * variable (1e-5 relative, 1e-6 absolute).
 */
export function runBoth(build: () => { fetch: tf.Fetch; init?: tf.Operation }, options: BothOptions = {}): Both & { fetch: tf.Fetch } {
  const graph = new tf.Graph();
  const r = graph.asDefault(build);
  const interpreter = new tf.Session({ graph, backend: "interpreter" });
  const wasm = new tf.Session({ graph, backend: "wasm" });
  if (r.init) {
    interpreter.runSync(r.init);
    for (const [name, value] of interpreter.variableValues) wasm.setVariableValue(name, tf.ndarray(value.data.slice(), [...value.shape], value.dtype));
  }
  const rtol = options.rtol ?? 1e-5;
  for (let i = 0; i < (options.steps ?? 1); i++) {
    const expected = leaves(interpreter.runSync(r.fetch, options.feeds));
    const actual = leaves(wasm.runSync(r.fetch, options.feeds));
    expect(backendOf(wasm).lastFallback, "the wasm backend compiled the plan").toBeNull();
    const host = [...fallbackTypes(wasm), ...jsKernelTypes(wasm)];
    expect(host.filter((t) => !(options.allowFallback ?? []).includes(t)), "ops run on the host").toEqual([]);
    expect(actual.length).toBe(expected.length);
    actual.forEach((a, k) => {
      expect(a.dtype, `fetch ${k} dtype`).toBe(expected[k].dtype);
      expect(a.shape, `fetch ${k} shape`).toEqual(expected[k].shape);
      expectClose(a.data, expected[k].data, rtol, 1e-6);
    });
  }
  expect([...wasm.variableValues.keys()].sort()).toEqual([...interpreter.variableValues.keys()].sort());
  for (const [name, value] of interpreter.variableValues) {
    expect(wasm.variableValues.get(name)!.shape, name).toEqual(value.shape);
    expectClose(wasm.variableValues.get(name)!.data, value.data, rtol, 1e-6);
  }
  return { graph, interpreter, wasm, fetch: r.fetch };
}

/** Every element equal, NaN to NaN and −0 to −0. */
export function expectBits(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) expect(actual[i], `${what}[${i}] (expected ${expected[i]})`).toBe(expected[i]);
}

/** The fetches on the interpreter and on wasm, bit for bit (NaN to NaN, −0 to −0), with no host step; returns the wasm session. */
export function sameBits(build: () => tf.Tensor[], feeds: tf.FeedDict = {}): tf.Session {
  const graph = new tf.Graph();
  const fetches = graph.asDefault(build);
  const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(fetches, feeds);
  const wasm = new tf.Session({ graph, backend: "wasm" });
  const actual = wasm.runSync(fetches, feeds);
  expect(backendOf(wasm).lastFallback).toBeNull();
  expect([...fallbackTypes(wasm), ...jsKernelTypes(wasm)], "host steps").toEqual([]);
  actual.forEach((a, k) => {
    expect(a.dtype, `fetch ${k} dtype`).toBe(expected[k].dtype);
    expect(a.shape, `fetch ${k} shape`).toEqual(expected[k].shape);
    expectBits(a.data, expected[k].data, `fetch ${k} (${fetches[k].name})`);
  });
  return wasm;
}
