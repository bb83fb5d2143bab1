/**
 * The drawing model of a GraphDef: one node per NodeDef (name, op type, a color category),
 * data edges (with the output index when it is not 0) and dashed control edges. Built from
 * the GraphDef itself, so that graphs with op types foldflow cannot run still draw.
 */
import { parseInputName, type GraphDef } from "../../ir/graphdef/model";

export type NodeCategory = "input" | "constant" | "variable" | "compute" | "batch-norm" | "state" | "control" | "other";

export interface VizNode {
  name: string;
  op: string;
  category: NodeCategory;
}

export interface VizEdge {
  from: string;
  to: string;
  control: boolean;
  /** The producer's output index. */
  index: number;
}

export interface VizGraph {
  nodes: VizNode[];
  edges: VizEdge[];
}

export const FILL: Record<NodeCategory, string> = {
  input: "#c8e6c9",
  constant: "#eeeeee",
  variable: "#ffe0b2",
  compute: "#bbdefb",
  "batch-norm": "#f8bbd0",
  state: "#ffccbc",
  control: "#d1c4e9",
  other: "#ffffff",
};

function category(op: string): NodeCategory {
  if (op.startsWith("Placeholder")) return "input";
  if (op === "Const") return "constant";
  if (op === "VariableV2" || op === "Variable" || op === "VarHandleOp") return "variable";
  if (/^(Conv2D|DepthwiseConv2dNative|MatMul|BatchMatMul)/.test(op)) return "compute";
  if (/^(FusedBatchNorm|BatchNormWithGlobalNormalization)/.test(op)) return "batch-norm";
  if (/^(Assign|Apply|ResourceApply)/.test(op)) return "state";
  if (op === "Switch" || op === "Merge" || op === "NoOp") return "control";
  return "other";
}

export function vizGraph(graphDef: GraphDef, options: { hideConstants?: boolean } = {}): VizGraph {
  const hidden = new Set(options.hideConstants ? graphDef.node.filter((n) => n.op === "Const").map((n) => n.name) : []);
  const names = new Set(graphDef.node.map((n) => n.name));
  const nodes = graphDef.node.filter((n) => !hidden.has(n.name)).map((n) => ({ name: n.name, op: n.op, category: category(n.op) }));
  const edges: VizEdge[] = [];
  for (const n of graphDef.node) {
    if (hidden.has(n.name)) continue;
    for (const input of n.input) {
      const p = parseInputName(input);
      if (!names.has(p.node) || hidden.has(p.node)) continue;
      edges.push({ from: p.node, to: n.name, control: p.control, index: p.index });
    }
  }
  return { nodes, edges };
}
