/** Helpers shared by the array op tests (array*.test.ts). */
import { expect } from "vitest";
import * as tf from "foldflow";
import { expectClose, randomData } from "../helpers/run";
import { tfjs, tfjsValues } from "../helpers/tfjs";

export function inGraph<T>(build: () => T): T {
  return new tf.Graph().asDefault(build);
}

/** Builds in a fresh graph and runs the result on the interpreter. */
export function run(build: () => tf.Tensor, feeds?: Record<string, tf.FeedValue>): tf.NDArray {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out, feeds);
}

export function runAll(build: () => tf.Tensor[], feeds?: Record<string, tf.FeedValue>): tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out, feeds) as tf.NDArray[];
}

export function expectMatches(ours: tf.NDArray, theirs: tfjs.Tensor): void {
  expect(ours.shape).toEqual(theirs.shape);
  expect(ours.dtype).toBe(theirs.dtype);
  expectClose(ours.values(), tfjsValues(theirs));
}

/** `fn` throws an InvalidArgumentError about `node` whose message contains every one of `parts`. */
export function expectInvalid(fn: () => unknown, node: string, ...parts: string[]): tf.errors.InvalidArgumentError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
  const e = error as tf.errors.InvalidArgumentError;
  expect(e.nodeName).toBe(node);
  expect(e.message).toContain(node);
  for (const p of parts) expect(e.message).toContain(p);
  return e;
}

export const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
export const data = (shape: number[], seed = 1) => randomData(sizeOf(shape), seed, -3, 3);
export const ints = (shape: number[], seed = 1) => Int32Array.from(randomData(sizeOf(shape), seed, -9, 9), Math.floor);

/** A float32 constant in our graph and the same tensor in tfjs. */
export function pair(shape: number[], seed = 1, dtype: "float32" | "int32" = "float32"): [tf.Tensor, tfjs.Tensor] {
  const values = dtype === "int32" ? ints(shape, seed) : data(shape, seed);
  return [tf.constant(tf.ndarray(values, shape, dtype)), tfjs.tensor(values, shape, dtype)];
}


/** A random float32 constant of `shape`. */
export function cst(shape: number[], seed = 1): tf.Tensor {
  return tf.constant(tf.ndarray(data(shape, seed), shape));
}
