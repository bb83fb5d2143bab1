/** Shared by test/ops/nn.test.ts and test/ops/cross-entropy.test.ts. */
import { expect } from "vitest";
import * as tf from "foldflow";
import { randomData } from "../helpers/run";

/** Builds in a fresh graph and runs on the interpreter. */
export function run<T extends tf.Tensor | tf.Tensor[]>(build: () => T, feeds?: Record<string, tf.FeedValue>): T extends tf.Tensor ? tf.NDArray : tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out as tf.Fetch, feeds) as T extends tf.Tensor ? tf.NDArray : tf.NDArray[];
}

export const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
export const data = (shape: number[], seed: number, lo = -3, hi = 3) => Array.from(randomData(sizeOf(shape), seed, lo, hi));
export const constant = (values: number[], shape: number[]) => tf.constant(tf.ndarray(values, shape));
/** Expects `fn` to throw an InvalidArgumentError whose message starts with the node's name. */
export function expectNodeError(fn: () => unknown, node: string | RegExp, pattern?: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
  const err = error as InstanceType<typeof tf.errors.InvalidArgumentError>;
  if (typeof node === "string") expect(err.nodeName).toBe(node);
  else expect(err.nodeName).toMatch(node);
  expect(err.message.startsWith(`${err.nodeName}: `)).toBe(true);
  if (pattern) expect(err.message).toMatch(pattern);
}
