/**
 * foldflow's side of the benchmarks: its session backends, each opened where this build has it
 * (the "wasm" backend is new: where `new tf.Session({ backend: "wasm" })` refuses, or its first
 * run fails, the column reads n/a with the reason).
 */
import * as tf from "foldflow";

export const FOLDFLOW_BACKENDS = ["interpreter", "js", "wasm"] as const;
export type FoldflowBackend = (typeof FOLDFLOW_BACKENDS)[number];

/** A session of `graph` on `backend`, or why there is none. */
export function openSession(graph: tf.Graph, backend: FoldflowBackend): tf.Session | string {
  try {
    return new tf.Session({ graph, backend, onWarning: () => {} });
  } catch (e) {
    return reason(e);
  }
}

/** The first line of an error, for the n/a notes. */
export function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 160);
}
