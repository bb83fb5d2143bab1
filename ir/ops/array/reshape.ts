/**
 * Shape-changing ops that keep the data as it is (Reshape, Squeeze, ExpandDims), the ops that
 * make tensors from a shape (Shape, Fill, ZerosLike, OnesLike), and Cast.
 */
import { isFloat, type DType, type TypedArray } from "../../dtype";
import { Tensor } from "../../graph";
import { NDArray, ndarray, type NestedArray } from "../../ndarray";
import { registerOp } from "../../registry";
import { formatShape, isFullyDefined, normalizeAxis, type MaybeShape, type Shape } from "../../shape";
import { constantOp, convertToTensor, graphOf, requireDType, type TensorLike } from "../build";
import { reduceSum } from "../reduce";
import { buildOp, fail, ints, product, rankFromLength, requireRank, scalarInput, unknownDims, vectorInput } from "./common";

/**
 * The output shape of reshaping `input` to `target` (one -1 inferred). Works on static shapes
 * (unknown dims stay unknown) and, in the kernel, on concrete ones.
 */
export function reshapeShape(input: MaybeShape, target: readonly number[], node: string): Shape {
  const inferred = target.filter((d) => d === -1).length;
  const bad = target.find((d) => d < -1);
  if (inferred > 1 || bad !== undefined)
    fail(node, {
      code: "bad-shape",
      message: inferred > 1 ? "a Reshape shape may contain at most one -1" : `a Reshape shape may not contain ${bad}`,
      expected: "non-negative dims and at most one -1",
      received: formatShape([...target]),
      fix: "give every dimension but one explicitly",
    });
  const known = product(target.filter((d) => d !== -1));
  const out: Shape = [...target];
  if (input === null) return out.map((d) => (d === -1 ? null : d));
  const inKnown = product(input.filter((d): d is number => d !== null));
  const fullyKnown = isFullyDefined(input);
  const mismatch = (received: string) =>
    fail(node, {
      code: "reshape-size",
      message: `cannot reshape a tensor of shape ${formatShape(input)}${fullyKnown ? ` (${inKnown} elements)` : ""} to shape ${formatShape([...target])}`,
      expected: fullyKnown ? `a shape with ${inKnown} elements` : `a shape whose size is a multiple of ${inKnown}`,
      received,
      fix: "use a shape with the same number of elements, or -1 for one dimension to infer it",
    });
  if (inferred === 0) {
    if (fullyKnown ? known !== inKnown : inKnown > 0 && known % inKnown !== 0) mismatch(`${formatShape([...target])} (${known} elements)`);
    return out;
  }
  const at = target.indexOf(-1);
  if (!fullyKnown) {
    out[at] = null;
    return out;
  }
  if (known === 0) {
    if (inKnown !== 0) mismatch(`${formatShape([...target])} (0 elements besides the -1)`);
    fail(node, {
      code: "reshape-size",
      message: "Reshape cannot infer the -1 dimension of an empty tensor when another dimension is 0",
      expected: "non-zero dimensions beside the -1",
      received: formatShape([...target]),
      fix: "give the dimension explicitly instead of -1",
    });
  }
  if (inKnown % known !== 0) mismatch(`${formatShape([...target])}: ${inKnown} elements are not a multiple of ${known}`);
  out[at] = inKnown / known;
  return out;
}

registerOp({
  type: "Reshape",
  inputs: 2,
  infer: ([x, s], _, node) => {
    const target = vectorInput(s, "Reshape", "shape", node);
    if (target) return [{ dtype: x.dtype, shape: reshapeShape(x.shape, target, node) }];
    return [{ dtype: x.dtype, shape: unknownDims(rankFromLength(s, "Reshape", "shape", node)) }];
  },
  kernel: ([x, s], _, ctx) => {
    requireRank(s.shape, 1, "Reshape", "shape", ctx.node);
    return [new NDArray(x.dtype, reshapeShape(x.shape, ints(s), ctx.node) as number[], x.data)];
  },
  gradient: (op, [dy]) => [reshape(dy!, shape(op.inputs[0])), null],
});

/** The shape after removing `dims` (all size-1 dims when empty). */
function squeezeShape(input: MaybeShape, dims: readonly number[], node: string): MaybeShape {
  if (input === null) return null;
  const axes = new Set(dims.map((d) => normalizeAxis(d, input.length, node)));
  if (axes.size === 0) return input.some((d) => d === null) ? null : input.filter((d) => d !== 1);
  for (const a of axes) {
    const d = input[a];
    if (d !== null && d !== 1)
      fail(node, {
        code: "squeeze-dim",
        message: `cannot squeeze dimension ${a} of shape ${formatShape(input)}: its size is ${d}`,
        expected: `a dimension of size 1 at axis ${a}`,
        received: String(d),
        fix: "squeeze only dimensions of size 1, or use tf.reshape",
      });
  }
  return input.filter((_, i) => !axes.has(i));
}

registerOp({
  type: "Squeeze",
  inputs: 1,
  attrs: { squeeze_dims: { kind: "list(int)", default: [] } },
  infer: ([x], attrs, node) => [{ dtype: x.dtype, shape: squeezeShape(x.shape, attrs.squeeze_dims as number[], node) }],
  kernel: ([x], attrs, ctx) => [new NDArray(x.dtype, squeezeShape(x.shape, attrs.squeeze_dims as number[], ctx.node) as number[], x.data)],
  gradient: (op, [dy]) => [reshape(dy!, shape(op.inputs[0]))],
});

function expandShape(input: Shape, dim: number, node: string): Shape {
  const rank = input.length;
  const at = normalizeAxis(dim, rank + 1, node);
  return [...input.slice(0, at), 1, ...input.slice(at)];
}

registerOp({
  type: "ExpandDims",
  inputs: 2,
  infer: ([x, d], _, node) => {
    const dim = scalarInput(d, "ExpandDims", "dim", node);
    if (x.shape === null) return [{ dtype: x.dtype, shape: null }];
    if (dim === undefined) return [{ dtype: x.dtype, shape: unknownDims(x.shape.length + 1) }];
    return [{ dtype: x.dtype, shape: expandShape(x.shape, dim, node) }];
  },
  kernel: ([x, d], _, ctx) => [new NDArray(x.dtype, expandShape(x.shape, d.data[0], ctx.node) as number[], x.data)],
  gradient: (op, [dy]) => [reshape(dy!, shape(op.inputs[0])), null],
});

registerOp({
  type: "Shape",
  inputs: 1,
  attrs: { out_type: { kind: "type", default: "int32" } },
  nonDifferentiable: true,
  infer: ([x], attrs, node) => {
    if (attrs.out_type !== "int32")
      fail(node, { code: "bad-dtype", message: "Shape's out_type must be int32", expected: "int32", received: String(attrs.out_type) });
    return [{ dtype: "int32", shape: [x.shape === null ? null : x.shape.length] }];
  },
  kernel: ([x], _, ctx) => {
    const out = ctx.alloc("int32", x.rank);
    x.shape.forEach((d, i) => (out[i] = d));
    return [new NDArray("int32", [x.rank], out)];
  },
});

function checkDims(dims: readonly number[], type: string, node: string): void {
  if (dims.some((d) => d < 0))
    fail(node, {
      code: "bad-shape",
      message: `${type} dims must be non-negative`,
      expected: "dims >= 0",
      received: formatShape([...dims]),
      fix: "pass a shape of non-negative sizes",
    });
}

registerOp({
  type: "Fill",
  inputs: 2,
  infer: ([dims, value], _, node) => {
    const d = vectorInput(dims, "Fill", "dims", node);
    requireRank(value.shape, 0, "Fill", "value", node);
    if (d) checkDims(d, "Fill", node);
    return [{ dtype: value.dtype, shape: d ?? unknownDims(rankFromLength(dims, "Fill", "dims", node)) }];
  },
  kernel: ([dims, value], _, ctx) => {
    const d = ints(dims);
    checkDims(d, "Fill", ctx.node);
    requireRank(value.shape, 0, "Fill", "value", ctx.node);
    const out = ctx.alloc(value.dtype, product(d));
    out.fill(value.data[0]);
    return [new NDArray(value.dtype, d, out)];
  },
  // As TF's _FillGrad: the dims get no gradient, the scalar value gets the sum of dy.
  gradient: (_, [dy]) => [null, reduceSum(dy!)],
});

for (const [type, v] of [["ZerosLike", 0], ["OnesLike", 1]] as const)
  registerOp({
    type,
    inputs: 1,
    nonDifferentiable: true,
    infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
    kernel: ([x], _, ctx) => {
      const out = ctx.alloc(x.dtype, x.size);
      if (v !== 0) out.fill(v);
      return [new NDArray(x.dtype, [...x.shape], out)];
    },
  });

/** TF's static_cast: float to int truncates toward zero, anything to bool is `!= 0`. */
function castValue(v: number, to: DType): number {
  if (to === "bool") return v !== 0 ? 1 : 0;
  if (to === "int32") return Number.isNaN(v) ? 0 : Math.trunc(v) | 0;
  return v;
}

registerOp({
  type: "Cast",
  inputs: 1,
  attrs: { SrcT: { kind: "type" }, DstT: { kind: "type" }, Truncate: { kind: "bool", default: false } },
  infer: ([x], attrs, node) => {
    if (x.dtype !== attrs.SrcT)
      fail(node, {
        code: "dtype-mismatch",
        message: `Cast's input is ${x.dtype} but its SrcT attribute says ${String(attrs.SrcT)}`,
        expected: String(attrs.SrcT),
        received: x.dtype,
        fix: "set SrcT to the input's dtype",
      });
    return [{ dtype: attrs.DstT as DType, shape: x.shape }];
  },
  kernel: ([x], attrs, ctx) => {
    const to = attrs.DstT as DType;
    const out = ctx.alloc(to, x.size);
    for (let i = 0; i < out.length; i++) out[i] = castValue(x.data[i], to);
    return [new NDArray(to, [...x.shape], out)];
  },
  gradient: (op, [dy]) => {
    const src = op.attrs.SrcT as DType;
    const dst = op.attrs.DstT as DType;
    return [isFloat(src) && isFloat(dst) ? cast(dy!, src) : null];
  },
});

/** `tf.reshape(x, shape)`: one dimension of `shape` may be -1 (inferred). */
export function reshape(x: TensorLike, shapeValue: TensorLike, name = "Reshape"): Tensor {
  return buildOp("Reshape", name, [[x, "tensor"], [shapeValue, "shape", "int32"]]).outputs[0];
}

/** `tf.squeeze(x, axis?)`: removes the size-1 dimensions `axis` (all of them by default). */
export function squeeze(x: TensorLike, axis?: number | number[], name = "Squeeze"): Tensor {
  const dims = axis === undefined ? [] : typeof axis === "number" ? [axis] : axis;
  return buildOp("Squeeze", name, [[x, "input"]], { squeeze_dims: dims }).outputs[0];
}

/** `tf.expandDims(x, axis)`: inserts a dimension of 1 at `axis` (in [-rank-1, rank]). */
export function expandDims(x: TensorLike, axis: TensorLike, name = "ExpandDims"): Tensor {
  return buildOp("ExpandDims", name, [[x, "input"], [axis, "dim", "int32"]]).outputs[0];
}

/**
 * `tf.shape(x)`: an int32 vector. As in TF1, a fully defined static shape gives a Const (so
 * that ops over it keep static shapes); otherwise a Shape op computes it at run time.
 */
export function shape(x: TensorLike, name = "Shape"): Tensor {
  const g = graphOf([x]);
  const known = x instanceof Tensor ? x.shape : (x instanceof NDArray ? x : ndarray(x as NestedArray | TypedArray)).shape;
  if (isFullyDefined(known)) return constantOp(new NDArray("int32", [known.length], Int32Array.from(known)), name, g);
  return buildOp("Shape", name, [[x, "input"]], { out_type: "int32" }, g).outputs[0];
}

/** `tf.fill(dims, value)`: a tensor of shape `dims` filled with the scalar `value`. */
export function fill(dims: TensorLike, value: TensorLike, name = "Fill"): Tensor {
  return buildOp("Fill", name, [[dims, "dims", "int32"], [value, "value"]]).outputs[0];
}

export function zerosLike(x: TensorLike, name = "zeros_like"): Tensor {
  return buildOp("ZerosLike", name, [[x, "x"]]).outputs[0];
}

export function onesLike(x: TensorLike, name = "ones_like"): Tensor {
  return buildOp("OnesLike", name, [[x, "x"]]).outputs[0];
}

/** `tf.cast(x, dtype)`: returns `x` itself when it already has `dtype`, as TF1 does. */
export function cast(x: TensorLike, dtype: DType, name = "Cast"): Tensor {
  requireDType(dtype, name);
  if (x instanceof Tensor && x.dtype === dtype) return x;
  const g = graphOf([x]);
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    const t = convertToTensor(x, undefined, "x", g);
    if (t.dtype === dtype) return t;
    return g.addOp({ type: "Cast", name: scope, absoluteName: true, inputs: [t], attrs: { SrcT: t.dtype, DstT: dtype } }).outputs[0];
  });
}
