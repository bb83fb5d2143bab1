/**
 * (3) Compile time of generated graphs of 1k, 10k and 100k nodes: a chain of elementwise ops and
 * matmuls over a [4, 16] placeholder, made a DAG by skip connections (each op also reads one of
 * the last few results), built with the tf API:
 *
 *   h = matmul(h, w[i % 4]);  h = add(h, back(7));  h = tanh(h);  h = mul(h, back(3));  h = sub(h, back(2)); ...
 *
 * Stages, each timed per graph: building it (tf API calls), planning a Session run of its
 * output (planRun: the ops the fetch needs, in topological order), and tf.compile to a JS module
 * (`compile(graph, { outputs }).source`). Also a Session's first run on the js backend (plan,
 * code generation, loading the generated code with new Function, and the run). Per node times
 * show whether it stays linear; the target is under 2 s for 10k nodes (build + plan + compile).
 */
import * as tf from "foldflow";
import { compile } from "../src/compile";
import { planRun } from "../src/runtime/plan";
import { type Case, QUICK } from "./harness";

export const COMPILE_SIZES = QUICK ? [1000, 10000] : [1000, 10000, 100000];

interface Built {
  graph: tf.Graph;
  x: tf.Tensor;
  out: tf.Tensor;
}

/** A graph of `nodes` operations (Consts and the placeholder included). */
export function buildGraph(nodes: number): Built {
  const graph = new tf.Graph();
  const built = graph.asDefault(() => {
    const x = tf.placeholder("float32", [4, 16], "x");
    const weights = [0, 1, 2, 3].map((s) => tf.constant(tf.ndarray(Float32Array.from({ length: 256 }, (_, i) => Math.sin(i + s) * 0.1), [16, 16]), undefined, undefined, `w${s}`));
    const history: tf.Tensor[] = [x];
    const back = (n: number) => history[Math.max(0, history.length - n)];
    let h: tf.Tensor = x;
    // Identity "out" is the last node.
    for (let i = 0; graph.operations.length < nodes - 1; i++) {
      const k = i % 5;
      if (k === 0) h = tf.matmul(h, weights[(i / 5) % 4]);
      else if (k === 1) h = tf.add(h, back(7));
      else if (k === 2) h = tf.tanh(h);
      else if (k === 3) h = tf.mul(h, back(3));
      else h = tf.sub(h, back(2));
      history.push(h);
    }
    return { x, out: tf.identity(h, "out") };
  });
  return { graph, ...built };
}

/** Rounds per size: fewer for the larger graphs. */
export function compileRounds(nodes: number): number {
  if (QUICK) return nodes >= 10000 ? 1 : 2;
  return nodes >= 100000 ? 1 : nodes >= 10000 ? 3 : 5;
}

export interface CompileStages {
  nodes: number;
  cases: Case[];
}

/** The stages of one size as cases (each iteration builds / plans / compiles afresh). */
export function compileCases(nodes: number): CompileStages {
  const bench = `(3) compile, ${nodes >= 1000 ? `${nodes / 1000}k` : nodes} nodes`;
  let current = buildGraph(nodes);
  const feed = tf.ndarray(new Float32Array(64).fill(0.1), [4, 16]);
  const once = { timeMs: 1, minIterations: 1, warmup: nodes < 100000 };
  return {
    nodes: current.graph.operations.length,
    cases: [
      { bench, impl: "build (tf API)", fn: () => void (current = buildGraph(nodes)), ...once },
      { bench, impl: "plan a Session run (planRun)", fn: () => planRun([current.out.op], new Set([current.x.name])), ...once },
      { bench, impl: "tf.compile to a JS module", fn: () => compile(current.graph, { outputs: ["out"] }).source.length, ...once },
      {
        bench,
        impl: "Session first run, js backend",
        fn: () => new tf.Session({ graph: current.graph, backend: "js" }).runSync("out:0", { x: feed }),
        ...once,
        note: "plan + codegen + new Function + run",
      },
    ],
  };
}
