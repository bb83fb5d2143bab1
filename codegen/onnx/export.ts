/**
 * Exports an inference graph (frozen, batch norms folded or in inference mode) to an ONNX model
 * (IR version 7, opset 13), written with protobufjs from the schema subset in ./schema:
 *
 *   Placeholder "x" [null, 28, 28, 1]   -> graph input "x" (dims: "x_dim0", 28, 28, 1)
 *   PlaceholderWithDefault "phase"      -> an initializer "phase" holding the default; with
 *                                          overridableDefaults, also a graph input (ONNX's way to
 *                                          say "default value": onnxruntime then accepts a feed for it)
 *   Const "w"                           -> initializer "w" (only where a node reads it as a value)
 *   every other op                      -> the nodes of ./ops-math and ./ops-nn
 *   requested outputs ("logits")        -> graph outputs of the same names
 *
 * Only the data inputs the outputs need are exported: control dependencies have no ONNX
 * meaning. An op without an ONNX mapping is an UnimplementedError naming the node and its type.
 */
import "../../ir/ops/index";
import { invalidArgument } from "../../ir/diagnostics";
import type { DType } from "../../ir/dtype";
import { Graph, type Operation, type Tensor } from "../../ir/graph";
import type { GraphDef } from "../../ir/graphdef/model";
import { importGraphDef } from "../../ir/graphdef/read";
import type { MaybeShape } from "../../ir/shape";
import { resolveOutputs } from "../../passes/outputs";
import { sinkOps } from "../../passes/sinks";
import { OnnxBuilder, onnxElemType } from "./builder";
import { unimplemented } from "./errors";
import { MATH_CONVERTERS, type Converter } from "./ops-math";
import { NN_CONVERTERS } from "./ops-nn";
import { encodeModel, type OnnxDimension, type OnnxModel, type OnnxValueInfo } from "./schema";

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;

const CONVERTERS: Record<string, Converter> = { ...MATH_CONVERTERS, ...NN_CONVERTERS };

/** The TF op types the exporter maps (besides Placeholder, PlaceholderWithDefault and Const). */
export function onnxExportableOps(): string[] {
  return Object.keys(CONVERTERS).sort();
}

export interface OnnxExportOptions {
  /** Tensors or ops to export as graph outputs ("logits", "logits:0"); default: the graph's sinks. */
  outputs?: readonly string[];
  /**
   * PlaceholderWithDefault as a graph input whose initializer is its default (true), or as a
   * constant holding the default (false, the default: the usual inference export).
   */
  overridableDefaults?: boolean;
  /** The ONNX graph's name (default "foldflow"). */
  graphName?: string;
}

/** A graph input or output of the exported model. */
export interface OnnxValue {
  name: string;
  dtype: DType;
  shape: MaybeShape;
}

export interface OnnxExport {
  /** The serialized ModelProto (write it as model.onnx). */
  bytes: Uint8Array;
  model: OnnxModel;
  inputs: OnnxValue[];
  outputs: OnnxValue[];
}

function outputTensors(graph: Graph, names: readonly string[] | undefined): Tensor[] {
  if (!names || names.length === 0) {
    const sinks = sinkOps(graph);
    if (sinks.length === 0)
      throw invalidArgument({
        code: "no-outputs",
        message: "the graph has no op whose output nothing reads, so there is nothing to export",
        fix: "name the outputs to export (--outputs logits)",
      });
    return sinks.map((op) => op.outputs[0]);
  }
  const ops = resolveOutputs(graph, names);
  return names.map((name, i) => {
    if (name.includes(":") && graph.hasOperation(name.slice(0, name.lastIndexOf(":")))) return graph.getTensorByName(name);
    const op = ops[i];
    if (op.outputs.length === 0)
      throw invalidArgument({
        code: "output-without-value",
        node: op.name,
        message: `\`${op.name}\` (${op.type}) has no output tensor to export`,
        fix: "name an op that computes a value",
      });
    return op.outputs[0];
  });
}

/** The data-input closure of `tensors`, in graph order. */
function neededInOrder(graph: Graph, tensors: Tensor[]): Operation[] {
  const needed = new Set<Operation>();
  const stack = tensors.map((t) => t.op);
  while (stack.length) {
    const op = stack.pop()!;
    if (needed.has(op)) continue;
    needed.add(op);
    for (const t of op.inputs) stack.push(t.op);
  }
  return graph.operations.filter((op) => needed.has(op));
}

function valueInfo(name: string, t: Tensor, symbolic: boolean): OnnxValueInfo {
  const shape = t.shape;
  const tensorType: OnnxValueInfo["type"]["tensor_type"] = { elem_type: onnxElemType(t.dtype) };
  if (shape !== null)
    tensorType.shape = {
      dim: shape.map((d, i): OnnxDimension => (d !== null ? { dim_value: d } : symbolic ? { dim_param: `${name}_dim${i}` } : {})),
    };
  return { name, type: { tensor_type: tensorType } };
}

function convertOp(op: Operation, b: OnnxBuilder, options: OnnxExportOptions): void {
  const out = op.outputs.map((t) => b.valueName(t));
  if (op.type === "Const") return; // written as an initializer where it is read (OnnxBuilder.input)
  if (op.type === "Placeholder") {
    b.inputs.push(valueInfo(out[0], op.outputs[0], true));
    return;
  }
  if (op.type === "PlaceholderWithDefault") {
    const value = b.constant(op.inputs[0]);
    if (!value) throw unimplemented(op, "its default value is not a constant", "give the placeholder a constant default");
    if (options.overridableDefaults) b.inputs.push(valueInfo(out[0], op.outputs[0], true));
    b.initializer(out[0], value);
    return;
  }
  const convert = CONVERTERS[op.type];
  if (!convert)
    throw unimplemented(
      op,
      `ONNX export has no mapping for op type \`${op.type}\``,
      op.type === "Switch" || op.type === "Merge"
        ? "resolve the tf.cond first: fold the graph with the training flag fixed (foldflow fold, or tf.tools.foldBatchNorms)"
        : op.type === "VariableV2"
          ? "freeze the graph first (tf.graphUtil.convertVariablesToConstants)"
          : `export a graph of the supported op types (${onnxExportableOps().join(", ")}), or leave \`${op.name}\` out with --outputs`,
    );
  convert(op, b, out);
}

/** The ONNX model of the part of `source` that `outputs` need. */
export function exportOnnx(source: Graph | GraphDef | string, options: OnnxExportOptions = {}): OnnxExport {
  const graph = source instanceof Graph ? source : importGraphDef(source);
  const outputs = outputTensors(graph, options.outputs);
  const ops = neededInOrder(graph, outputs);
  const b = new OnnxBuilder(ops.flatMap((op) => op.outputs.map((t) => (t.index === 0 ? op.name : `${op.name}:${t.index}`))));
  const outputNames = outputs.map((t) => b.valueName(t));
  outputNames.forEach((n) => b.requested.add(n));
  for (const op of ops) convertOp(op, b, options);
  // An output that is a Const is an initializer: make sure it is written.
  for (const t of outputs) b.input(t);
  b.removeUnused(outputNames);
  const model: OnnxModel = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: "", version: ONNX_OPSET }],
    producer_name: "foldflow",
    producer_version: "0.1.0",
    graph: {
      name: options.graphName ?? "foldflow",
      node: b.nodes,
      initializer: b.initializers,
      input: b.inputs,
      output: outputs.map((t, i) => valueInfo(outputNames[i], t, false)),
    },
  };
  const describe = (name: string, t: Tensor): OnnxValue => ({ name, dtype: t.dtype, shape: t.shape });
  const placeholders = ops.filter((op) => op.type === "Placeholder" || (op.type === "PlaceholderWithDefault" && options.overridableDefaults));
  return {
    bytes: encodeModel(model),
    model,
    inputs: placeholders.map((op) => describe(op.name, op.outputs[0])),
    outputs: outputs.map((t, i) => describe(outputNames[i], t)),
  };
}
