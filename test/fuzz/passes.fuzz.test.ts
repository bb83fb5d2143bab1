/**
 * Fuzzing the passes: random well-typed graphs (graph-recipes.ts) go through prune,
 * specialize, constant folding, CSE, DCE and optimizeForInference (and batch-norm folding,
 * which must leave them alone numerically); random conv / matmul + batch-norm chains
 * (bn-recipes.ts) go through batch-norm folding. Properties: the requested outputs compute
 * the same numbers before and after (1e-5 relative), the input graph is left unchanged (passes
 * are pure), a pass throws nothing but tf.errors.*, and batch-norm folding fires on every
 * chain with nothing in its way.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { constantFold } from "../../passes/constant-fold";
import { cse } from "../../passes/cse";
import { dce } from "../../passes/dce";
import { foldBatchNorms } from "../../passes/fold-batch-norm";
import type { PassResult } from "../../passes/pass";
import { optimizeForInference } from "../../passes/pipeline";
import { prune } from "../../passes/prune";
import { specialize } from "../../passes/specialize";
import { initialVariables } from "../passes/helpers";
import { bnRecipe, buildChain } from "./bn-recipes";
import { collectCrashes, fuzzSeed, fuzzTimeout, Outcomes, runsFor } from "./fuzz-helpers";
import { buildRecipe, graphRecipe, type BuiltGraph } from "./graph-recipes";

const seed = fuzzSeed();
const outcomes = new Outcomes("passes", 5000);
const BN_TYPES = ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization", "Rsqrt"];

/**
 * Where `actual` differs from `expected`: bit for bit (`tolerance` 0: passes that only move,
 * fold or drop ops compute with the same kernels), else by more than `tolerance` relative to
 * the larger of |e| and a tenth of the output's scale, plus `tolerance` absolute (batch-norm
 * folding rounds scaled weights to float32, and an output that cancels to near zero keeps the
 * rounding error of its O(1) terms).
 */
function difference(actual: tf.NDArray, expected: tf.NDArray, what: string, tolerance: number): string | undefined {
  if (actual.dtype !== expected.dtype || actual.shape.join() !== expected.shape.join())
    return `${what}: ${actual.dtype} [${actual.shape}] instead of ${expected.dtype} [${expected.shape}]`;
  let scale = 0;
  for (const v of expected.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.size; i++) {
    const e = expected.data[i];
    const a = actual.data[i];
    const same = Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)) || Math.abs(a - e) <= tolerance * (1 + Math.max(Math.abs(e), 0.1 * scale));
    if (!same) return `${what}[${i}]: ${a} instead of ${e}`;
  }
  return undefined;
}

/** Runs `fetches` on the interpreter (the reference every backend is checked against), from `variables`. */
function runWith(graph: tf.Graph, fetches: string[], feeds: Record<string, tf.NDArray>, variables: ReadonlyMap<string, tf.NDArray>): tf.NDArray[] {
  const sess = new tf.Session({ graph, backend: "interpreter" });
  for (const [name, value] of variables) if (graph.hasOperation(name) && graph.getOperationByName(name).type === "VariableV2") sess.setVariableValue(name, value);
  return sess.runSync(fetches, feeds) as tf.NDArray[];
}

/** The feeds of placeholders that `graph` still has (a session refuses feeds for names it does not have). */
function present(graph: tf.Graph, feeds: Record<string, tf.NDArray>): Record<string, tf.NDArray> {
  return Object.fromEntries(Object.entries(feeds).filter(([name]) => graph.hasOperation(name)));
}

/** Runs `pass` on `graph` and compares the outputs; throws (a plain Error) on a difference or an impure pass. */
function checkPass(name: string, graph: tf.Graph, run: () => PassResult, outputs: string[], feeds: Record<string, tf.NDArray>, feedsAfter: Record<string, tf.NDArray>, variables: ReadonlyMap<string, tf.NDArray>, tolerance = 0): PassResult {
  const version = graph.version;
  const ops = graph.operations.length;
  const expected = runWith(graph, outputs, feeds, variables);
  const result = run();
  if (graph.version !== version || graph.operations.length !== ops) throw new Error(`${name} changed its input graph`);
  let actual: tf.NDArray[];
  try {
    actual = runWith(result.graph, outputs, present(result.graph, feedsAfter), variables);
  } catch (e) {
    throw new Error(`the graph after ${name} does not run: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  outputs.forEach((o, k) => {
    const d = difference(actual[k], expected[k], o, tolerance);
    if (d) throw new Error(`${name} changed an output: ${d}`);
  });
  return result;
}

/** The feeds that remain after specialize fixed `fixed` (and the flag, when training is set). */
function without(feeds: Record<string, tf.NDArray>, names: readonly string[]): Record<string, tf.NDArray> {
  return Object.fromEntries(Object.entries(feeds).filter(([k]) => !names.includes(k)));
}

const passOptions = fc.record({ fix: fc.array(fc.nat(), { maxLength: 2 }), training: fc.boolean(), useDefaults: fc.boolean() });

function checkAllPasses(g: BuiltGraph, options: { fix: number[]; training: boolean; useDefaults: boolean }): void {
  const { graph, outputs } = g;
  // With useDefaults, specialize bakes in every PlaceholderWithDefault's default: the runs must not feed them.
  const feeds = options.useDefaults ? without(g.feeds, g.defaults) : g.feeds;
  const variables = initialVariables(graph);
  const fixed = [...new Set(options.fix.filter(() => g.placeholders.length).map((i) => g.placeholders[i % g.placeholders.length]))];
  const fixedFeeds = Object.fromEntries(fixed.map((n) => [n, feeds[n]]));
  // Specialize fixes the flags to `training`: the run before must use that value too.
  const flagFeeds = { ...feeds, ...Object.fromEntries(g.flags.map((f) => [f, tf.ndarray([options.training], [], "bool")])) };
  const unfed = [...fixed, ...g.flags];
  const same = (name: string, run: () => PassResult) => checkPass(name, graph, run, outputs, g.feeds, g.feeds, variables);
  same("prune", () => prune(graph, { outputs }));
  same("constantFold", () => constantFold(graph, { outputs }));
  same("cse", () => cse(graph, { outputs }));
  same("dce", () => dce(graph, { outputs }));
  checkPass("foldBatchNorms", graph, () => foldBatchNorms(graph, { outputs }), outputs, g.feeds, g.feeds, variables, 1e-5);
  checkPass("specialize (feeds)", graph, () => specialize(graph, { feeds: fixedFeeds, outputs, useDefaults: options.useDefaults }), outputs, feeds, without(feeds, fixed), variables);
  checkPass("specialize (training)", graph, () => specialize(graph, { training: options.training, feeds: fixedFeeds, outputs }), outputs, flagFeeds, without(flagFeeds, unfed), variables);
  checkPass("optimizeForInference", graph, () => optimizeForInference(graph, { outputs, training: options.training, feeds: fixedFeeds, useDefaults: options.useDefaults }), outputs, flagFeeds, without(flagFeeds, unfed), variables);
  // Without outputs the passes that take them optionally must still not throw.
  constantFold(graph, {});
  cse(graph, {});
  specialize(graph, {});
}

describe("fuzz: passes", () => {
  afterAll(() => {
    console.log(outcomes.summary("unchanged by every pass", seed));
    if (collectCrashes) console.log(outcomes.report());
  });

  it("random well-typed graphs compute the same outputs after every pass", () => {
    fc.assert(
      fc.property(graphRecipe, passOptions, (recipe, options) => {
        let built: BuiltGraph | undefined;
        outcomes.run(
          () => {
            built = buildRecipe(recipe);
            checkAllPasses(built, options);
          },
          () => `${JSON.stringify(recipe)} ${JSON.stringify(options)}\noutputs ${built?.outputs}\n${built?.graph.asGraphDef().toText().slice(0, 3000) ?? ""}`,
        );
      }),
      { numRuns: runsFor(1500, 0.1), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);

  it("conv / matmul + batch-norm chains fold where nothing stands in the way, and compute the same outputs", () => {
    fc.assert(
      fc.property(bnRecipe, (recipe) => {
        outcomes.run(
          () => {
            const chain = buildChain(recipe);
            const variables = initialVariables(chain.graph);
            const check = (name: string, graph: tf.Graph) => checkPass(name, graph, () => foldBatchNorms(graph, { outputs: chain.outputs }), chain.outputs, chain.feeds, chain.feeds, variables, 1e-5);
            check("foldBatchNorms", chain.graph);
            // The non-fused form's parameters are a constant subgraph; folded constants expose them.
            const folded = check("foldBatchNorms after constantFold", constantFold(chain.graph, { outputs: chain.outputs }).graph);
            if (chain.mustNotFold.length === 0) {
              const left = folded.graph.operations.filter((op) => BN_TYPES.includes(op.type)).map((op) => `${op.name} (${op.type})`);
              if (left.length) throw new Error(`batch norms were not folded though nothing stands in the way: ${left.join(", ")}; ${folded.diagnostics.map((d) => d.message).join("; ")}`);
            }
          },
          () => JSON.stringify(recipe),
        );
      }),
      { numRuns: runsFor(800, 0.05), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);
});
