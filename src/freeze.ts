/**
 * `tf.graphUtil`: freezing a trained graph for inference, as TF1's graph_util does.
 *
 *   convertVariablesToConstants(sess, graphDef, ["logits"])
 *     before:  w (VariableV2) -> MatMul -> logits      w/Assign (Assign w, w/Initializer/...)
 *     after:   w (Const, the session's value of w) -> MatMul -> logits
 *
 * The result holds only what the outputs need (extractSubGraph). Each VariableV2 among them
 * becomes a Const with the session's current value. Assigns the outputs need (through control
 * dependencies, e.g. a batch-norm update forced into the output) become their pure equivalent,
 * as the usual TF1 freezing fix-up does: Assign -> Identity(value), AssignAdd -> AddV2(var, value),
 * AssignSub -> Sub(var, value). Variables left out by the whitelist / blacklist stay variables.
 */
import { failedPrecondition, notFound, suggestion } from "../ir/diagnostics";
import { attrToProto } from "../ir/graphdef/attr-convert";
import { parseInputName, type GraphDef, type GraphDefDocument, type NodeDef } from "../ir/graphdef/model";
import { graphDefDocument } from "../ir/graphdef/write";
import type { NDArray } from "../ir/ndarray";
import type { Session } from "./session";

export interface ConvertVariablesToConstantsOptions {
  /** Only these variables (node names) are converted. */
  variableNamesWhitelist?: readonly string[];
  /** These variables (node names) are not converted. */
  variableNamesBlacklist?: readonly string[];
}

const VARIABLE_OPS = new Set(["VariableV2", "Variable"]);

/** The node name of an input or output name: "^x" -> "x", "x:1" -> "x". */
function nodeName(name: string): string {
  return parseInputName(name).node;
}

function copyNode(n: NodeDef): NodeDef {
  const copy: NodeDef = { name: n.name, op: n.op, input: [...n.input], attr: { ...n.attr } };
  if (n.device !== undefined) copy.device = n.device;
  return copy;
}

function document(source: GraphDef, node: NodeDef[]): GraphDefDocument {
  const out: GraphDef = { node };
  if (source.versions) out.versions = { ...source.versions };
  if (source.library !== undefined) out.library = source.library;
  return graphDefDocument(out);
}

function checkPresent(byName: Map<string, NodeDef>, names: readonly string[]): void {
  for (const name of names) {
    const node = nodeName(name);
    if (!byName.has(node))
      throw notFound({
        code: "unknown-output",
        node: name,
        message: `\`${name}\` is not in the graph`,
        expected: "the name of a node of the GraphDef",
        received: name,
        fix: suggestion(node, byName.keys(), "node name"),
      });
  }
}

/**
 * TF1's `extract_sub_graph(graph_def, dest_nodes)`: the nodes that `names` need (through data
 * and control inputs), in their original order. An unknown name is a NotFoundError with the
 * closest names as the fix.
 */
export function extractSubGraph(graphDef: GraphDef, names: readonly string[]): GraphDefDocument {
  const byName = new Map(graphDef.node.map((n) => [n.name, n]));
  checkPresent(byName, names);
  const keep = new Set<string>();
  const stack = names.map(nodeName);
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    const node = byName.get(name);
    if (!node) continue;
    for (const input of node.input) stack.push(nodeName(input));
  }
  return document(graphDef, graphDef.node.filter((n) => keep.has(n.name)).map(copyNode));
}

function constNode(name: string, value: NDArray, device?: string): NodeDef {
  const node: NodeDef = {
    name,
    op: "Const",
    input: [],
    attr: { dtype: attrToProto("type", value.dtype), value: attrToProto("tensor", value) },
  };
  if (device) node.device = device;
  return node;
}

/** The pure equivalent of an assign whose variable became a constant. */
function pureAssign(node: NodeDef): NodeDef {
  const copy = copyNode(node);
  delete copy.attr.use_locking;
  delete copy.attr.validate_shape;
  if (node.op === "Assign") {
    copy.op = "Identity";
    // Identity(value): the data input is the assigned value; control inputs stay.
    copy.input = [node.input[1], ...node.input.slice(2)];
  } else copy.op = node.op === "AssignAdd" ? "AddV2" : "Sub";
  return copy;
}

/**
 * TF1's `tf.graph_util.convert_variables_to_constants(sess, graph_def, output_node_names)`:
 * a new GraphDef with what `outputNames` need, each variable they read replaced by a Const
 * holding the session's current value.
 */
export function convertVariablesToConstants(
  sess: Session,
  graphDef: GraphDef,
  outputNames: readonly string[],
  options: ConvertVariablesToConstantsOptions = {},
): GraphDefDocument {
  const inference = extractSubGraph(graphDef, outputNames);
  const white = options.variableNamesWhitelist ? new Set(options.variableNamesWhitelist.map(nodeName)) : null;
  const black = new Set((options.variableNamesBlacklist ?? []).map(nodeName));
  const converted = new Set<string>();
  const values = sess.variableValues;
  const nodes = inference.node.map((node) => {
    if (!VARIABLE_OPS.has(node.op)) return node;
    if ((white && !white.has(node.name)) || black.has(node.name)) return node;
    const value = values.get(node.name);
    if (!value)
      throw failedPrecondition({
        code: "uninitialized-variable",
        node: node.name,
        message: `cannot freeze variable \`${node.name}\`: it has no value in the session`,
        expected: "an initialized variable",
        received: "a variable that was never assigned in this session",
        fix: "run tf.globalVariablesInitializer() (or restore a checkpoint) in the session before freezing",
      });
    converted.add(node.name);
    return constNode(node.name, value, node.device);
  });
  const frozen = nodes.map((node) => {
    const isAssign = node.op === "Assign" || node.op === "AssignAdd" || node.op === "AssignSub";
    return isAssign && node.input.length >= 2 && converted.has(nodeName(node.input[0])) ? pureAssign(node) : node;
  });
  // Assigns turned into Identity no longer read their variable: drop what became unreachable.
  return extractSubGraph(document(graphDef, frozen), outputNames);
}

export interface RemoveTrainingNodesOptions {
  /** Nodes never removed or spliced out (the outputs). */
  protectedNodes?: readonly string[];
}

/**
 * TF1's `tf.graph_util.remove_training_nodes(graph_def, protected_nodes)`: removes
 * CheckNumerics nodes and splices out Identity nodes (their consumers read the Identity's input),
 * except Identities with control inputs or used as control inputs, and protected nodes.
 */
export function removeTrainingNodes(graphDef: GraphDef, options: RemoveTrainingNodesOptions = {}): GraphDefDocument {
  const protectedNames = new Set(options.protectedNodes ?? []);
  const controlInputNames = new Set<string>();
  const withControlInput = new Set<string>();
  for (const node of graphDef.node)
    for (const input of node.input)
      if (input.startsWith("^")) {
        controlInputNames.add(input.slice(1));
        withControlInput.add(node.name);
      }
  const splice = new Map<string, string>();
  for (const node of graphDef.node) {
    if (protectedNames.has(node.name) || node.input.length === 0 || node.input[0].startsWith("^")) continue;
    if (node.op === "CheckNumerics") splice.set(node.name, node.input[0]);
    else if (node.op === "Identity" && !withControlInput.has(node.name) && !controlInputNames.has(node.name)) splice.set(node.name, node.input[0]);
  }
  const resolve = (input: string): string => {
    const control = input.startsWith("^");
    let current = input;
    const seen = new Set<string>();
    for (;;) {
      const p = parseInputName(current);
      // Only output 0 of a spliced node exists (Identity, CheckNumerics have one output).
      const target = p.index <= 0 ? splice.get(p.node) : undefined;
      if (target === undefined || seen.has(p.node)) break;
      seen.add(p.node);
      current = control ? `^${nodeName(target)}` : target;
    }
    return current;
  };
  const nodes = graphDef.node.filter((n) => !splice.has(n.name)).map((n) => ({ ...copyNode(n), input: n.input.map(resolve) }));
  return document(graphDef, nodes);
}
