/**
 * Random one-op GraphDefs for the importer fuzzer: a node of any registered op type over
 * placeholders and constants of random dtypes and shapes (constants with small values, so
 * value-reading shape inference — Reshape's shape, an axis, a perm — sees plausible numbers),
 * with attributes of the schema's kinds (mostly), missing, or of the wrong kind. Importing
 * runs the op's attribute checks and shape inference, which must refuse bad input with an
 * OpError naming the node.
 */
import fc from "fast-check";
import { getOpDef, registeredOps, type AttrKind, type AttrSpec } from "../../ir/registry";
import type { AttrValueProto, GraphDef, NodeDef, TensorProto, TensorShapeProto } from "../../ir/graphdef/model";

const DTYPES = ["DT_FLOAT", "DT_INT32", "DT_BOOL"] as const;
type TFDType = (typeof DTYPES)[number];

const shapeProto = (dims: number[] | null): TensorShapeProto => (dims === null ? { dim: [], unknownRank: true } : { dim: dims.map((size) => ({ size })) });

/** A static shape: rank 0..4, dims 0..4 or unknown (-1), rarely huge (when `huge`); sometimes unknown rank. */
const staticShapeOf = (huge: boolean): fc.Arbitrary<number[] | null> =>
  fc.oneof(
    {
      weight: 10,
      arbitrary: fc.array(
        fc.oneof(
          { weight: 30, arbitrary: fc.integer({ min: 1, max: 4 }) },
          { weight: 6, arbitrary: fc.constantFrom(0, -1) },
          ...(huge ? [{ weight: 1, arbitrary: fc.constantFrom(1e8, 2 ** 31 - 1, 2 ** 40) }] : []),
        ),
        { maxLength: 4 },
      ),
    },
    { weight: 1, arbitrary: fc.constant(null) },
  );

/** A concrete shape for a constant: rank 0..3, dims 0..4. */
const constShape = fc.array(fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) }), { maxLength: 3 });

function tensorOf(dtype: TFDType, dims: number[], values: number[]): TensorProto {
  const t: TensorProto = { dtype, tensorShape: shapeProto(dims) };
  const n = dims.reduce((a, b) => a * b, 1);
  const vs = values.slice(0, n);
  if (vs.length === 0) return t;
  if (dtype === "DT_FLOAT") t.floatVal = vs;
  // An int_val is an int32: NaN / ±Inf (drawn for floats) have no int32 text form.
  else if (dtype === "DT_INT32") t.intVal = vs.map((v) => (Number.isFinite(v) ? Math.trunc(v) | 0 : 0));
  else t.boolVal = vs.map((v) => v > 0);
  return t;
}

interface InputSpec {
  kind: "Placeholder" | "Const";
  dtype: TFDType;
  shape: number[] | null;
  values: number[];
}

const inputSpecOf = (huge: boolean): fc.Arbitrary<InputSpec> =>
  fc.oneof(
    fc.record({ kind: fc.constant("Placeholder" as const), dtype: fc.constantFrom(...DTYPES), shape: staticShapeOf(huge), values: fc.constant<number[]>([]) }),
    fc.record({
      kind: fc.constant("Const" as const),
      dtype: fc.constantFrom(...DTYPES),
      shape: constShape,
      values: fc.array(
        fc.oneof(
          { weight: 8, arbitrary: fc.integer({ min: -3, max: 5 }) },
          { weight: 1, arbitrary: fc.double({ min: -10, max: 10 }) },
          ...(huge ? [{ weight: 1, arbitrary: fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 1e6) }] : []),
        ),
        { minLength: 1, maxLength: 12 },
      ),
    }),
  );

const smallIntOf = (huge: boolean) =>
  fc.oneof({ weight: 10, arbitrary: fc.integer({ min: -3, max: 6 }) }, ...(huge ? [{ weight: 1, arbitrary: fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 1000, 2 ** 40) }] : []));
const anyDouble = fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constantFrom(0, -0, 1e-3, NaN, Infinity, -1e30));
const STRINGS = ["NHWC", "NCHW", "SAME", "VALID", "EXPLICIT", "sum", "mean", "", "x"];

function valueOfKind(kind: AttrKind, spec: AttrSpec, huge: boolean): fc.Arbitrary<AttrValueProto> {
  const smallInt = smallIntOf(huge);
  const staticShape = staticShapeOf(huge);
  switch (kind) {
    case "int":
      return smallInt.map((i) => ({ i }));
    case "float":
      return anyDouble.map((f) => ({ f }));
    case "bool":
      return fc.boolean().map((b) => ({ b }));
    case "string":
      return fc.constantFrom(...(spec.oneOf ?? []), ...STRINGS).map((s) => ({ s }));
    case "type":
      return fc.constantFrom(...DTYPES, "DT_INT64", "DT_STRING").map((type) => ({ type }));
    case "shape":
      return staticShape.map((s) => ({ shape: shapeProto(s) }));
    case "tensor":
      return fc.record({ dtype: fc.constantFrom(...DTYPES), shape: constShape, values: fc.array(smallInt, { maxLength: 8 }) }).map(({ dtype, shape, values }) => ({ tensor: tensorOf(dtype, shape, values) }));
    case "list(int)":
      return fc.array(smallInt, { maxLength: 6 }).map((i) => ({ list: { i } }));
    case "list(float)":
      return fc.array(anyDouble, { maxLength: 4 }).map((f) => ({ list: { f } }));
    case "list(string)":
      return fc.array(fc.constantFrom(...STRINGS), { maxLength: 3 }).map((s) => ({ list: { s } }));
    case "list(type)":
      return fc.array(fc.constantFrom(...DTYPES), { maxLength: 3 }).map((type) => ({ list: { type } }));
    case "list(shape)":
      return fc.array(staticShape, { maxLength: 3 }).map((shapes) => ({ list: { shape: shapes.map(shapeProto) } }));
  }
}

const ALL_KINDS: AttrKind[] = ["int", "float", "bool", "string", "type", "shape", "tensor", "list(int)", "list(float)", "list(string)", "list(type)", "list(shape)"];

/** An attribute of the schema's kind (mostly), left out, or of another kind. */
function attrFor(spec: AttrSpec, huge: boolean): fc.Arbitrary<AttrValueProto | undefined> {
  return fc.oneof(
    { weight: 12, arbitrary: valueOfKind(spec.kind, spec, huge) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(...ALL_KINDS).chain((k) => valueOfKind(k, spec, huge)) },
  );
}

export interface OpCase {
  op: string;
  graphDef: GraphDef;
}

/**
 * A GraphDef of a few inputs and one node `op` over them (sometimes a second node over the
 * first). With `huge`, dims, constants and attributes are now and then huge (2^31 - 1, 2^40):
 * fine for importing, which only infers shapes, not for running.
 */
export const oneOpGraphOf = (huge: boolean): fc.Arbitrary<OpCase> => fc.constantFrom(...registeredOps()).chain((op) => {
  const def = getOpDef(op);
  const count = def.inputs === "variadic" ? fc.integer({ min: 0, max: 4 }) : fc.oneof({ weight: 12, arbitrary: fc.constant(def.inputs) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: def.inputs + 1 }) });
  const attrEntries = Object.entries(def.attrs ?? {}).map(([key, spec]) => attrFor(spec, huge).map((v) => [key, v] as const));
  return fc.record({
    inputs: count.chain((n) => fc.array(inputSpecOf(huge), { minLength: n, maxLength: n })),
    attrs: fc.tuple(...attrEntries),
    extra: fc.option(fc.constantFrom<[string, AttrValueProto]>(["T", { type: "DT_FLOAT" }], ["_output_shapes", { list: { shape: [] } }], ["N", { i: 2 }], ["Tidx", { type: "DT_INT32" }]), { freq: 3 }),
    control: fc.boolean(),
    consumer: fc.option(fc.constantFrom("Identity", "Relu", "Neg", "Shape", "ZerosLike", "Cast"), { freq: 3 }),
  }).map(({ inputs, attrs, extra, control, consumer }): OpCase => {
    const nodes: NodeDef[] = inputs.map((s, i): NodeDef => {
      const name = `in${i}`;
      if (s.kind === "Placeholder") return { name, op: "Placeholder", input: [], attr: { dtype: { type: s.dtype }, shape: { shape: shapeProto(s.shape) } } };
      return { name, op: "Const", input: [], attr: { dtype: { type: s.dtype }, value: { tensor: tensorOf(s.dtype, s.shape ?? [], s.values) } } };
    });
    const attr: Record<string, AttrValueProto> = {};
    for (const [key, value] of attrs) if (value !== undefined) attr[key] = value;
    if (extra) attr[extra[0]] = extra[1];
    const input = inputs.map((_, i) => `in${i}`);
    if (control && nodes.length) input.push(`^${nodes[0].name}`);
    nodes.push({ name: "op", op, input, attr });
    if (consumer) nodes.push({ name: "consumer", op: consumer, input: ["op"], attr: consumer === "Cast" ? { DstT: { type: "DT_FLOAT" } } : {} });
    return { op, graphDef: { node: nodes, versions: { producer: 134 } } };
  });
});

/** One-op graphs to import (huge values included). */
export const oneOpGraph = oneOpGraphOf(true);
