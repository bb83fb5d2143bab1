/**
 * Protobuf text -> GraphDef -> Graph. `fromText` maps the generic text tree onto the GraphDef
 * model; `importGraphDef` builds the nodes into a Graph in dependency order (a node may name
 * inputs defined later in the file), with the attributes mapped back by the op schemas.
 * Variables come in as plain VariableV2 / Assign ops: a GraphDef has no Variable objects,
 * collections or initializer bookkeeping, so run the initializer by name ("init").
 */
import { AlreadyExistsError, invalidArgument, notFound, suggestion } from "../diagnostics";
import { Graph, type Operation, type Tensor } from "../graph";
import { getOpDef, type AttrKind, type Attrs, type OpDef } from "../registry";
import { attrFromProto, recordedAttrKinds } from "./attr-convert";
import { parseInputName, type GraphDef, type NodeDef } from "./model";
import { decodeMessage, GraphDefSchema } from "./schema";
import { parseErrorDiagnostic, parseTextFormat, type ParseError } from "./text-parser";

export type GraphDefParseResult = { ok: true; graphDef: GraphDef } | { ok: false; errors: ParseError[] };

/** Parses a .pbtxt GraphDef; syntax and schema errors come back as values with line and column. */
export function parseGraphDef(text: string): GraphDefParseResult {
  const parsed = parseTextFormat(text);
  if (!parsed.ok) return parsed;
  const ctx = { errors: [] as ParseError[] };
  const graphDef = decodeMessage(GraphDefSchema, parsed.message, ctx) as unknown as GraphDef;
  return ctx.errors.length ? { ok: false, errors: ctx.errors } : { ok: true, graphDef };
}

/** Parses a .pbtxt GraphDef; throws InvalidArgumentError with "line L, column C" on the first error. */
export function fromText(text: string, source = "text"): GraphDef {
  const r = parseGraphDef(text);
  if (!r.ok) throw invalidArgument(parseErrorDiagnostic(r.errors[0], source));
  return r.graphDef;
}

export interface ImportGraphDefOptions {
  /** The graph to add the nodes to; a new Graph by default. */
  graph?: Graph;
  /** Prefixes every imported name with `prefix/` (TF's import_graph_def `name`). */
  prefix?: string;
}

type ParsedInput = ReturnType<typeof parseInputName>;

/** Builds the nodes of a GraphDef (or its text) into a graph and returns the graph. */
export function importGraphDef(source: GraphDef | string, options: ImportGraphDefOptions = {}): Graph {
  const graphDef = typeof source === "string" ? fromText(source) : source;
  const graph = options.graph ?? new Graph();
  const prefix = options.prefix ? `${options.prefix.replace(/\/+$/, "")}/` : "";
  const nodes = graphDef.node;
  const defs = nodes.map((n) => getOpDef(n.op, n.name));
  const index = indexNodes(nodes);
  const inputs = nodes.map((n) => resolveInputs(n, index));
  const order = dependencyOrder(nodes, inputs, index);
  const created = new Array<Operation>(nodes.length);
  const kinds = recordedAttrKinds(graph);
  const hooks = graph.creationHooks.splice(0, graph.creationHooks.length);
  try {
    graph.controlDependencies(null, () => {
      for (const i of order) {
        const node = nodes[i];
        const data: Tensor[] = [];
        const controls: Operation[] = [];
        for (const p of inputs[i]) {
          const producer = created[index.get(p.node)!];
          if (p.control) controls.push(producer);
          else data.push(outputOf(producer, p, node, prefix));
        }
        const { attrs, extra } = convertAttrs(node, defs[i]);
        const name = prefix + node.name;
        created[i] = graph.addOp({ type: node.op, name, absoluteName: true, inputs: data, controlInputs: controls, attrs, noCapture: true });
        if (Object.keys(extra).length) kinds.set(name, extra);
      }
    });
  } finally {
    graph.creationHooks.push(...hooks);
  }
  return graph;
}

function indexNodes(nodes: NodeDef[]): Map<string, number> {
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (index.has(n.name))
      throw new AlreadyExistsError({
        code: "duplicate-node",
        node: n.name,
        message: `the GraphDef has two nodes named \`${n.name}\``,
        expected: "unique node names",
        received: `nodes ${index.get(n.name)} and ${i}`,
        fix: "rename one of them",
      });
    index.set(n.name, i);
  });
  return index;
}

function resolveInputs(node: NodeDef, index: Map<string, number>): ParsedInput[] {
  return node.input.map((input) => {
    const p = parseInputName(input);
    if (!index.has(p.node))
      throw notFound({
        code: "unknown-input",
        node: node.name,
        message: `input \`${input}\` of node \`${node.name}\` (${node.op}) names no node of the GraphDef`,
        expected: "the name of a node in the GraphDef",
        received: p.node,
        fix: suggestion(p.node, index.keys(), "node name"),
      });
    return p;
  });
}

function outputOf(producer: Operation, p: ParsedInput, node: NodeDef, prefix: string): Tensor {
  if (p.index >= producer.outputs.length)
    throw invalidArgument({
      code: "unknown-input",
      node: prefix + node.name,
      message: `input \`${p.node}:${p.index}\` of node \`${node.name}\` does not exist: \`${p.node}\` (${producer.type}) has ${producer.outputs.length} output(s)`,
      expected: `an output index below ${producer.outputs.length}`,
      received: String(p.index),
      fix: producer.outputs.length ? `use \`${p.node}\` (output 0)` : `make \`${p.node}\` a control input: \`^${p.node}\``,
    });
  return producer.outputs[p.index];
}

/**
 * Node indices with every node after its inputs (data and control), keeping file order where
 * it already is one. Iterative depth-first search; a cycle is an error that lists it.
 */
function dependencyOrder(nodes: NodeDef[], inputs: ParsedInput[][], index: Map<string, number>): number[] {
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 done
  const order: number[] = [];
  for (let root = 0; root < nodes.length; root++) {
    if (state[root]) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const deps = inputs[top[0]];
      if (top[1] === deps.length) {
        state[top[0]] = 2;
        order.push(top[0]);
        stack.pop();
        continue;
      }
      const dep = index.get(deps[top[1]++].node)!;
      if (state[dep] === 0) {
        state[dep] = 1;
        stack.push([dep, 0]);
      } else if (state[dep] === 1) {
        // The stack from `dep` up: each entry takes the next one as an input.
        const members = stack.slice(stack.findIndex((s) => s[0] === dep)).map((s) => nodes[s[0]].name).reverse();
        throw invalidArgument({
          code: "graphdef-cycle",
          node: nodes[dep].name,
          message: `the GraphDef has a cycle: ${[...members, members[0]].map((m) => `\`${m}\``).join(" -> ")} (each node is an input of the next)`,
          expected: "an acyclic graph",
          received: `a cycle through ${members.length} node(s)`,
          fix: "remove one of the inputs of the cycle (TF1 while loops, which need cycles, are not supported)",
        });
      }
    }
  }
  return order;
}

/** foldflow attrs of a NodeDef by the op schema; the kinds of attrs outside the schema are returned to record. */
function convertAttrs(node: NodeDef, def: OpDef): { attrs: Attrs; extra: Record<string, AttrKind> } {
  const schema = def.attrs ?? {};
  const attrs: Attrs = {};
  const extra: Record<string, AttrKind> = {};
  for (const key of Object.keys(node.attr).sort()) {
    const converted = attrFromProto(node.attr[key], schema[key]?.kind, node.name, key);
    if (!converted) continue;
    attrs[key] = converted.value;
    if (!schema[key]) extra[key] = converted.kind;
  }
  return { attrs, extra };
}
