/**
 * Graph -> GraphDef -> protobuf text format (.pbtxt), as TF1's tf.io.write_graph writes it:
 *
 *   node {
 *     name: "x"
 *     op: "Placeholder"
 *     attr {
 *       key: "dtype"
 *       value {
 *         type: DT_FLOAT
 *       }
 *     }
 *   }
 *
 * Every op in creation order; inputs as "op", "op:1" and "^control"; attributes converted by
 * the op schema's kinds (attributes outside it: the kind recorded at import, else inferred).
 */
import type { Graph, Operation, Tensor } from "../graph";
import { getOpDef, type AttrKind } from "../registry";
import { attrToProto, inferAttrKind, recordedAttrKinds } from "./attr-convert";
import { GRAPH_DEF_PRODUCER, type AttrValueProto, type GraphDef, type GraphDefDocument, type NodeDef } from "./model";
import { encodeMessage, GraphDefSchema, NodeDefSchema } from "./schema";
import { printTextMessage } from "./text-tree";

/** TF's name for an input: "op" for output 0, "op:i" otherwise. */
export function tensorInputName(t: Tensor): string {
  return t.index === 0 ? t.op.name : `${t.op.name}:${t.index}`;
}

export function nodeDefOf(op: Operation, recorded?: Record<string, AttrKind>): NodeDef {
  const schema = getOpDef(op.type, op.name).attrs ?? {};
  const input = [...op.inputs.map(tensorInputName), ...op.controlInputs.map((c) => `^${c.name}`)];
  const attr: Record<string, AttrValueProto> = {};
  for (const key of Object.keys(op.attrs)) {
    const value = op.attrs[key];
    if (value === undefined) continue;
    const kind = schema[key]?.kind ?? recorded?.[key] ?? inferAttrKind(value);
    if (kind !== undefined) attr[key] = attrToProto(kind, value);
  }
  return { name: op.name, op: op.type, input, attr };
}

/** The GraphDef of `graph`: every operation, in creation order. */
export function toGraphDef(graph: Graph): GraphDef {
  const kinds = recordedAttrKinds(graph);
  return {
    node: graph.operations.map((op) => nodeDefOf(op, kinds.get(op.name))),
    versions: { producer: GRAPH_DEF_PRODUCER },
  };
}

/** The protobuf text format of a GraphDef, as TF's Python writer prints it. */
export function toText(graphDef: GraphDef): string {
  return printTextMessage(encodeMessage(GraphDefSchema, graphDef));
}

/** One NodeDef in text format (for messages and the CLI). */
export function nodeDefToText(node: NodeDef): string {
  return printTextMessage(encodeMessage(NodeDefSchema, node));
}

/** `graphDef` with a non-enumerable `toText()` method. */
export function graphDefDocument(graphDef: GraphDef): GraphDefDocument {
  const doc = graphDef as GraphDefDocument;
  Object.defineProperty(doc, "toText", { value: () => toText(graphDef), enumerable: false, configurable: true, writable: true });
  return doc;
}
