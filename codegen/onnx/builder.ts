/**
 * The state of one ONNX export: the nodes, initializers and graph inputs written so far, value
 * names (a TF tensor "conv:0" is the ONNX value "conv", "bn:1" stays "bn:1"), constants read
 * through Identity chains, and NHWC <-> NCHW transposes that cancel out (a Conv's NCHW result
 * transposed back to NHWC and then again to NCHW for the next Conv is the Conv's result).
 */
import { unimplemented } from "./errors";
import type { Operation, Tensor } from "../../ir/graph";
import type { NDArray } from "../../ir/ndarray";
import type { DType } from "../../ir/dtype";
import { OnnxAttributeType, OnnxDataType, type OnnxAttribute, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from "./schema";

export const NHWC_TO_NCHW = [0, 3, 1, 2];
export const NCHW_TO_NHWC = [0, 2, 3, 1];

const encoder = new TextEncoder();

export const attr = {
  int: (name: string, i: number): OnnxAttribute => ({ name, type: OnnxAttributeType.INT, i }),
  float: (name: string, f: number): OnnxAttribute => ({ name, type: OnnxAttributeType.FLOAT, f }),
  ints: (name: string, ints: readonly number[]): OnnxAttribute => ({ name, type: OnnxAttributeType.INTS, ints: [...ints] }),
  string: (name: string, s: string): OnnxAttribute => ({ name, type: OnnxAttributeType.STRING, s: encoder.encode(s) }),
};

/** The ONNX element type of a foldflow dtype. */
export function onnxElemType(dtype: DType): number {
  return dtype === "float32" ? OnnxDataType.FLOAT : dtype === "int32" ? OnnxDataType.INT32 : OnnxDataType.BOOL;
}

/** Little-endian raw bytes of an NDArray as ONNX stores it (bool: one byte per element). */
function rawBytes(a: NDArray): Uint8Array {
  const n = a.size;
  if (a.dtype === "bool") return Uint8Array.from(a.data, (v) => (v ? 1 : 0));
  const bytes = new Uint8Array(n * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    if (a.dtype === "float32") view.setFloat32(i * 4, a.data[i], true);
    else view.setInt32(i * 4, a.data[i], true);
  }
  return bytes;
}

export class OnnxBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly inputs: OnnxValueInfo[] = [];
  /** The graph outputs' value names. */
  readonly requested = new Set<string>();
  private readonly names = new Set<string>();
  private readonly emitted = new Set<Operation>();
  /** NHWC value -> the NCHW value it was transposed from (and the reverse). */
  private readonly nchwOf = new Map<string, string>();
  private readonly nhwcOf = new Map<string, string>();

  constructor(reserved: Iterable<string>) {
    for (const n of reserved) this.names.add(n);
  }

  /** The ONNX value name of a TF tensor. */
  valueName(t: Tensor): string {
    return t.index === 0 ? t.op.name : `${t.op.name}:${t.index}`;
  }

  isRequested(name: string): boolean {
    return this.requested.has(name);
  }

  /** A value name not used yet, from `base`. */
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** The ONNX value for input `t`; a Const producer is written as an initializer on first use. */
  input(t: Tensor): string {
    if (t.op.type === "Const" && !this.emitted.has(t.op)) {
      this.emitted.add(t.op);
      this.initializer(this.valueName(t), t.op.attrs.value as NDArray);
    }
    return this.valueName(t);
  }

  /** The constant value of `t`: a Const, through Identity / StopGradient / Snapshot. */
  constant(t: Tensor): NDArray | undefined {
    let op = t.op;
    while ((op.type === "Identity" || op.type === "StopGradient" || op.type === "Snapshot") && op.inputs.length) op = op.inputs[0].op;
    return op.type === "Const" ? (op.attrs.value as NDArray) : undefined;
  }

  /** The integer values of a constant input (axes, perm, shape ...), or an error naming `what`. */
  constantInts(op: Operation, index: number, what: string): number[] {
    const v = this.constant(op.inputs[index]);
    if (!v)
      throw unimplemented(op, `its ${what} (input ${index}, \`${op.inputs[index].op.name}\`) is not a constant`, `make the ${what} a Const (freeze and constant-fold the graph first)`);
    return Array.from(v.data, (x) => Number(x));
  }

  /** Adds an initializer holding `value` under `name` (a name already reserved or fresh). */
  initializer(name: string, value: NDArray): string {
    this.initializers.push({ name, dims: [...value.shape], data_type: onnxElemType(value.dtype), raw_data: rawBytes(value) });
    return name;
  }

  /** A new float32 initializer. */
  floats(base: string, values: ArrayLike<number>, dims: number[]): string {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
    const name = this.fresh(base);
    this.initializers.push({ name, dims, data_type: OnnxDataType.FLOAT, raw_data: bytes });
    return name;
  }

  /** A new int64 initializer (shapes, axes, pads: ONNX takes them as int64). */
  int64s(base: string, values: readonly number[], dims: number[] = [values.length]): string {
    const bytes = new Uint8Array(values.length * 8);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
    const name = this.fresh(base);
    this.initializers.push({ name, dims, data_type: OnnxDataType.INT64, raw_data: bytes });
    return name;
  }

  /** Adds a node; returns its first output. */
  node(opType: string, input: string[], output: string[], attribute: OnnxAttribute[] = [], name?: string): string {
    this.nodes.push({ op_type: opType, input, output, attribute, name: name ?? this.fresh(`${output[0]}/${opType}`) });
    return output[0];
  }

  /** A node with one new output named from `base`. */
  emit(opType: string, input: string[], base: string, attribute: OnnxAttribute[] = []): string {
    return this.node(opType, input, [this.fresh(base)], attribute);
  }

  /** The NCHW form of an NHWC value (reusing the value it came from, when it was one). */
  toNCHW(value: string): string {
    const known = this.nchwOf.get(value);
    if (known) return known;
    const out = this.emit("Transpose", [value], `${value}/nchw`, [attr.ints("perm", NHWC_TO_NCHW)]);
    this.nchwOf.set(value, out);
    this.nhwcOf.set(out, value);
    return out;
  }

  /** The NCHW value an NHWC value was transposed from, when it was (layout-free ops then work on it). */
  nchwTwin(value: string): string | undefined {
    return this.nchwOf.get(value);
  }

  /** Writes `output` (NHWC) as the transpose of the NCHW value `value`. */
  fromNCHW(value: string, output: string): string {
    this.node("Transpose", [value], [output], [attr.ints("perm", NCHW_TO_NHWC)]);
    this.nchwOf.set(output, value);
    this.nhwcOf.set(value, output);
    return output;
  }

  /** Drops nodes none of whose outputs is read (cancelled transposes) and unread initializers. */
  removeUnused(outputs: readonly string[]): void {
    for (;;) {
      const read = new Set<string>(outputs);
      for (const n of this.nodes) for (const i of n.input) read.add(i);
      const before = this.nodes.length;
      const kept = this.nodes.filter((n) => n.output.some((o) => read.has(o)));
      this.nodes.splice(0, this.nodes.length, ...kept);
      if (kept.length === before) {
        const inputs = new Set(this.inputs.map((i) => i.name));
        const live = this.initializers.filter((t) => read.has(t.name) || inputs.has(t.name));
        this.initializers.splice(0, this.initializers.length, ...live);
        return;
      }
    }
  }
}
