/**
 * foldflow's side of the benchmarks: its session backends, each opened where this build has it
 * (the "wasm" backend is new: where `new tf.Session({ backend: "wasm" })` refuses, or its first
 * run fails, the column reads n/a with the reason).
 */
import * as tf from "foldflow";

export const FOLDFLOW_BACKENDS = ["interpreter", "js", "wasm"] as const;
export type FoldflowBackend = (typeof FOLDFLOW_BACKENDS)[number];

/**
 * A session of `graph` on `backend`, or why there is none. The wasm backend's intra-op threads
 * default to the core count: the benchmarks set them (1, as the peers', unless a section says).
 */
export function openSession(graph: tf.Graph, backend: FoldflowBackend, threads = 1): tf.Session | string {
  try {
    return new tf.Session({ graph, backend, intraOpParallelism: threads, onWarning: () => {} });
  } catch (e) {
    return reason(e);
  }
}

/** The first line of an error, for the n/a notes. */
export function reason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 160);
}
