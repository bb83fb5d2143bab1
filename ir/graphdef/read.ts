/**
 * Protobuf text -> GraphDef -> Graph. `fromText` maps the generic text tree onto the GraphDef
 * model; `importGraphDef` builds the nodes into a Graph in dependency order (a node may name
 * inputs defined later in the file), with the attributes mapped back by the op schemas.
 * Variables come in as plain VariableV2 / Assign ops: a GraphDef has no Variable objects,
 * collections or initializer bookkeeping, so run the initializer by name ("init").
 * TF1 op types that foldflow spells differently (resource variables, Select, Concat, int64
 * tensors) are lowered by the tables of tf1-ops.ts; attributes outside the op schemas (T,
 * _output_shapes, _class ...) are kept and written back.
 */
import { AlreadyExistsError, invalidArgument, notFound, suggestion } from "../diagnostics";
import { Graph, type Operation, type Tensor } from "../graph";
import { getOpDef, hasOp, registeredOps, type AttrKind, type Attrs, type OpDef } from "../registry";
import { attrFromProto, recordedAttrKinds } from "./attr-convert";
import { checkGraphDefLimits, checkTextLimits, parseWithinStack, type Limits } from "./limits";
import { parseInputName, type GraphDef, type NodeDef } from "./model";
import { builderOf, lowerNodeDefs, tf1OpTypes, type Lowered, type LoweringContext } from "./tf1-ops";
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
export function fromText(text: string, source = "text", options: { limits?: Partial<Limits> } = {}): GraphDef {
  checkTextLimits(text, source, options.limits);
  const r = parseWithinStack(() => parseGraphDef(text), source);
  if (!r.ok) throw invalidArgument(parseErrorDiagnostic(r.errors[0], source));
  return r.graphDef;
}

export interface ImportGraphDefOptions {
  /** The graph to add the nodes to; a new Graph by default. */
  graph?: Graph;
  /** Prefixes every imported name with `prefix/` (TF's import_graph_def `name`). */
  prefix?: string;
  /** Refuse oversized or deeply nested input before allocating (ir/graphdef/limits.ts). */
  limits?: Partial<Limits>;
}

type ParsedInput = ReturnType<typeof parseInputName>;

/** Builds the nodes of a GraphDef (or its text) into a graph and returns the graph. */
export function importGraphDef(source: GraphDef | string, options: ImportGraphDefOptions = {}): Graph {
  const graphDef = typeof source === "string" ? fromText(source, "text", options) : source;
  checkGraphDefLimits(graphDef, options.limits);
  const graph = options.graph ?? new Graph();
  const prefix = options.prefix ? `${options.prefix.replace(/\/+$/, "")}/` : "";
  const nodes = lowerNodeDefs(graphDef.node);
  nodes.forEach(checkOpType);
  const index = indexNodes(nodes);
  const inputs = nodes.map((n) => resolveInputs(n, index));
  const order = dependencyOrder(nodes, inputs, index);
  const created = new Array<Lowered>(nodes.length);
  const kinds = recordedAttrKinds(graph);
  const reserved = new Set(nodes.map((n) => prefix + n.name));
  const hooks = graph.creationHooks.splice(0, graph.creationHooks.length);
  try {
    graph.controlDependencies(null, () => {
      for (const i of order) {
        const node = nodes[i];
        const data: Tensor[] = [];
        const controls: Operation[] = [];
        for (const p of inputs[i]) {
          const producer = created[index.get(p.node)!];
          if (p.control) controls.push(producer.op);
          else data.push(outputOf(producer, p, node, prefix));
        }
        const name = prefix + node.name;
        let extra: Record<string, AttrKind> = {};
        const ctx: LoweringContext = {
          graph,
          node,
          name,
          inputs: data,
          controls,
          attrs: (type) => {
            const converted = convertAttrs(node, getOpDef(type, name));
            extra = converted.extra;
            return converted.attrs;
          },
          addOp: (type, opInputs, attrs, suffix) => {
            const opName = suffix === undefined ? name : freeName(graph, `${name}/${suffix}`, reserved);
            return graph.addOp({ type, name: opName, absoluteName: true, inputs: opInputs, controlInputs: controls, attrs, noCapture: true });
          },
        };
        const builder = builderOf(node.op);
        if (builder) created[i] = builder(ctx);
        else {
          const op = ctx.addOp(node.op, data, ctx.attrs(node.op));
          created[i] = { op, outputs: op.outputs };
        }
        if (Object.keys(extra).length) kinds.set(name, extra);
      }
    });
  } finally {
    graph.creationHooks.push(...hooks);
  }
  return graph;
}

/** An unknown op type is a NotFoundError naming the node, with the closest known type. */
function checkOpType(node: NodeDef): void {
  if (hasOp(node.op) || builderOf(node.op)) return;
  throw notFound({
    code: "unknown-op",
    node: node.name,
    message: `op type \`${node.op}\` is not registered: foldflow cannot import node \`${node.name}\``,
    expected: "an op type foldflow implements",
    received: node.op,
    fix: `${suggestion(node.op, [...registeredOps(), ...tf1OpTypes()], "op type")} (or remove the node from the GraphDef before importing, e.g. with TF's extract_sub_graph)`,
  });
}

/** `base`, or `base_1`, `base_2` ...: a name neither the graph nor the GraphDef uses. */
function freeName(graph: Graph, base: string, reserved: Set<string>): string {
  let name = base;
  for (let k = 1; graph.hasOperation(name) || reserved.has(name); k++) name = `${base}_${k}`;
  reserved.add(name);
  return name;
}

/**
 * Names that an input string cannot refer to: "" , "^x" (read as a control input) and "x:1"
 * (read as output 1 of x). TF refuses them too (its node names are [A-Za-z0-9.][A-Za-z0-9_.\-/>]*).
 */
function checkNodeName(node: NodeDef): void {
  if (node.name !== "" && !node.name.startsWith("^") && !/:\d+$/.test(node.name)) return;
  throw invalidArgument({
    code: "bad-node-name",
    node: node.name,
    message: `the GraphDef has a node named ${JSON.stringify(node.name)} (${node.op}), which no input can refer to`,
    expected: "a non-empty name that does not start with `^` nor end in `:<number>`",
    received: JSON.stringify(node.name),
    fix: "rename the node (and the inputs that name it)",
  });
}

function indexNodes(nodes: NodeDef[]): Map<string, number> {
  const index = new Map<string, number>();
  nodes.forEach((n, i) => {
    checkNodeName(n);
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

function outputOf(lowered: Lowered, p: ParsedInput, node: NodeDef, prefix: string): Tensor {
  const producer = lowered.op;
  if (p.index >= lowered.outputs.length)
    throw invalidArgument({
      code: "unknown-input",
      node: prefix + node.name,
      message: `input \`${p.node}:${p.index}\` of node \`${node.name}\` does not exist: \`${p.node}\` (${producer.type}) has ${lowered.outputs.length} output(s)`,
      expected: `an output index below ${lowered.outputs.length}`,
      received: String(p.index),
      fix: lowered.outputs.length ? `use \`${p.node}\` (output 0)` : `make \`${p.node}\` a control input: \`^${p.node}\``,
    });
  return lowered.outputs[p.index];
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
