/**
 * What the tf.compile targets share: the graph, its outputs and inputs resolved from the
 * options, the run plan between them with the inputs' concrete shapes, and, for the targets that
 * hold variables (wasm, wgsl), the values given for them.
 */
import { failedPrecondition, invalidArgument } from "../ir/diagnostics";
import { Graph, type Operation, type Tensor } from "../ir/graph";
import type { GraphDef } from "../ir/graphdef/model";
import { importGraphDef } from "../ir/graphdef/read";
import { NDArray } from "../ir/ndarray";
import { formatShape } from "../ir/shape";
import { resolveTensorName, type FeedDict } from "./runtime/feeds";
import { planRun } from "./runtime/plan";

export interface EndpointOptions {
  /** Output names ("logits", "logits:0"); an op without outputs (a train op) is run, not fetched. */
  outputs: string | readonly string[];
  /** Input names (default: the placeholders the outputs need), or names with their concrete shapes. */
  inputs?: readonly string[] | Readonly<Record<string, readonly number[]>>;
}

export interface Named {
  name: string;
  tensor: Tensor;
}

export interface Endpoints {
  graph: Graph;
  outputNames: string[];
  /** The fetched outputs, by the name given. */
  outputs: Named[];
  inputs: Named[];
  /** The shapes given in `inputs`, by input name. */
  givenShapes: Readonly<Record<string, readonly number[]>> | undefined;
  fedNames: Set<string>;
  /** The ops to run for the outputs and the ops without outputs, from the inputs. */
  order: Operation[];
  /** The output tensors that are not fed, each once. */
  fetches: Tensor[];
}

/** The outputs (ops without outputs run, not fetched), inputs and run plan of a program with variables (wasm, wgsl). */
export function compileEndpoints(source: Graph | GraphDef | string, options: EndpointOptions): Endpoints {
  const graph = source instanceof Graph ? source : importGraphDef(source);
  const outputNames = typeof options.outputs === "string" ? [options.outputs] : [...options.outputs];
  if (outputNames.length === 0)
    throw invalidArgument({ code: "no-outputs", message: "tf.compile needs at least one output", fix: 'pass outputs: ["logits"]' });
  const runOps: Operation[] = [];
  const outputs: Named[] = [];
  for (const name of outputNames) {
    const op = !name.includes(":") && graph.hasOperation(name) ? graph.getOperationByName(name) : null;
    if (op && op.outputs.length === 0) runOps.push(op);
    else outputs.push({ name, tensor: resolveTensorName(graph, name, "output") });
  }
  const wanted = [...new Set([...outputs.map((o) => o.tensor.op), ...runOps])];
  const { inputs, givenShapes, fedNames } = compileInputs(graph, options.inputs, wanted);
  const order = planRun(wanted.filter((op) => !outputs.some((o) => o.tensor.op === op && fedNames.has(o.tensor.name))), fedNames);
  const fetches = [...new Set(outputs.map((o) => o.tensor).filter((t) => !fedNames.has(t.name)))];
  return { graph, outputNames, outputs, inputs, givenShapes, fedNames, order, fetches };
}

/** The inputs: the names given, or the placeholders `wanted` needs; the shapes given; their tensor names. */
export function compileInputs(
  graph: Graph,
  given: EndpointOptions["inputs"],
  wanted: readonly Operation[],
): { inputs: Named[]; givenShapes: Endpoints["givenShapes"]; fedNames: Set<string> } {
  const givenShapes = given && !Array.isArray(given) ? (given as Readonly<Record<string, readonly number[]>>) : undefined;
  const inputNames = given ? (Array.isArray(given) ? [...given] : Object.keys(given)) : null;
  const inputs: Named[] = inputNames
    ? inputNames.map((name) => ({ name, tensor: resolveTensorName(graph, name, "input") }))
    : planRun([...wanted], new Set())
        .filter((op) => op.type === "Placeholder")
        .map((op) => ({ name: op.name, tensor: op.outputs[0] }));
  return { inputs, givenShapes, fedNames: new Set(inputs.map((i) => i.tensor.name)) };
}

/** Each input's concrete shape: given, else declared with unknown dims as 1. */
export function inputShapes(e: Pick<Endpoints, "inputs" | "givenShapes">): number[][] {
  return e.inputs.map(({ name, tensor }) => staticShape(name, tensor, e.givenShapes?.[name]));
}

/** Values of the graph's variables: a Session (its variableValues) or a map by variable name. */
export type VariableSource = ReadonlyMap<string, NDArray> | { readonly variableValues: ReadonlyMap<string, NDArray> };

/**
 * Copies of the values given for the variables a program reads or writes; a variable it reads
 * (`reads`) without a value is a FailedPreconditionError naming it.
 */
export function variableValuesFor(source: VariableSource | undefined, reads: ReadonlySet<string>, written: ReadonlySet<string>): Map<string, NDArray> {
  const values = source ? ("variableValues" in source ? source.variableValues : (source as ReadonlyMap<string, NDArray>)) : new Map<string, NDArray>();
  const copies = new Map<string, NDArray>();
  for (const name of new Set([...reads, ...written])) {
    const v = values.get(name);
    if (v) copies.set(name, new NDArray(v.dtype, [...v.shape], v.data.slice()));
    else if (reads.has(name)) throw unvalued(name, source !== undefined);
  }
  return copies;
}

function unvalued(name: string, given: boolean): Error {
  return failedPrecondition({
    code: "unfrozen-variable",
    node: name,
    message: `the program reads variable \`${name}\`, which has no value${given ? " among the variables given" : ""}`,
    expected: "a value for every variable the outputs read",
    received: `variable \`${name}\` without a value`,
    fix: 'pass the values (variables: sess), or freeze first: tf.graphUtil.convertVariablesToConstants(sess, graph.asGraphDef(), ["<output>"])',
  });
}

/** The input's concrete shape: given, else declared, with unknown dims taken as 1. */
export function staticShape(name: string, t: Tensor, given: readonly number[] | undefined): number[] {
  if (given) {
    const declared = t.shape;
    if (declared && (declared.length !== given.length || declared.some((d, i) => d !== null && d !== given[i])))
      throw invalidArgument({
        code: "bad-input-shape",
        node: t.name,
        message: `the shape given for input \`${name}\` does not fit its declared shape`,
        expected: formatShape(declared),
        received: formatShape([...given]),
        fix: "give a shape that fills in the unknown dimensions only",
      });
    return [...given];
  }
  if (t.shape === null)
    throw invalidArgument({
      code: "unknown-rank",
      node: t.name,
      message: `input \`${name}\` has an unknown rank`,
      expected: "a placeholder with a shape",
      received: "shape <unknown>",
      fix: `give its shape: inputs: { ${JSON.stringify(name)}: [...] }`,
    });
  return t.shape.map((d) => d ?? 1);
}

/** Feeds keyed by input name (or any tensor name the session accepts). */
export function keyFeeds(feeds: FeedDict, inputs: readonly Named[]): FeedDict {
  if (feeds instanceof Map) return feeds;
  const byName = new Map(inputs.map((i) => [i.name, i.tensor.name]));
  return Object.fromEntries(Object.entries(feeds).map(([k, v]) => [byName.get(k) ?? k, v]));
}
