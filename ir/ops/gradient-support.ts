/**
 * Ops the autodiff driver builds itself: AddN sums fan-out gradients, SumToShape reduces a
 * broadcast gradient to its input's (run-time) shape.
 */
import { invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp } from "../registry";
import { broadcastShapes, formatShape, stridesOf } from "../shape";
import { apply1 } from "./build";
import { rankFromLength, unknownDims } from "./array/common";

registerOp({
  type: "AddN",
  inputs: "variadic",
  attrs: { N: { kind: "int", default: 0 } },
  infer: (inputs, _, node) => {
    if (inputs.length === 0)
      throw invalidArgument({ code: "input-count", node, message: "AddN needs at least one input", expected: ">= 1 inputs", received: "0", fix: "pass the tensors to sum" });
    let shape = inputs[0].shape;
    for (const t of inputs.slice(1)) {
      if (t.dtype !== inputs[0].dtype)
        throw invalidArgument({ code: "dtype-mismatch", node, message: "AddN needs inputs of one dtype", expected: inputs[0].dtype, received: t.dtype });
      shape = broadcastShapes(shape, t.shape, node);
    }
    return [{ dtype: inputs[0].dtype, shape }];
  },
  kernel: (inputs, _, ctx) => {
    const first = inputs[0];
    const out = ctx.alloc(first.dtype, first.size);
    for (const a of inputs) {
      if (a.size !== first.size)
        throw invalidArgument({
          code: "shape-mismatch",
          node: ctx.node,
          message: "AddN inputs must have one shape",
          expected: formatShape(first.shape),
          received: formatShape(a.shape),
        });
      for (let i = 0; i < out.length; i++) out[i] += a.data[i];
    }
    return [new NDArray(first.dtype, [...first.shape], out)];
  },
  gradient: (op, [dy]) => op.inputs.map(() => dy),
});

/** Sums `grad` over the dimensions where `shape` is 1 or missing (numpy broadcasting reversed). */
export function sumToShape(grad: NDArray, shape: number[], alloc: (n: number) => NDArray["data"], node: string): NDArray {
  const gs = grad.shape;
  const offset = gs.length - shape.length;
  if (offset < 0 || shape.some((d, i) => d !== 1 && d !== gs[i + offset]))
    throw invalidArgument({
      code: "shape-mismatch",
      node,
      message: "a gradient cannot be reduced to its input's shape",
      expected: `a shape that broadcasts to ${formatShape(gs)}`,
      received: formatShape(shape),
      fix: "this is a foldflow bug in a gradient rule; please report it",
    });
  let size = 1;
  for (const d of shape) size *= d;
  const out = alloc(size);
  const outStrides = stridesOf(shape);
  const counter = new Array<number>(gs.length).fill(0);
  for (let k = 0; k < grad.size; k++) {
    let o = 0;
    for (let d = offset; d < gs.length; d++) if (shape[d - offset] !== 1) o += counter[d] * outStrides[d - offset];
    out[o] += grad.data[k];
    for (let d = gs.length - 1; d >= 0; d--) {
      if (++counter[d] < gs[d]) break;
      counter[d] = 0;
    }
  }
  return new NDArray(grad.dtype, [...shape], out);
}

registerOp({
  type: "SumToShape",
  inputs: 2,
  infer: ([grad, shape], _, node) => [{ dtype: grad.dtype, shape: shape.value ? Array.from(shape.value.data) : unknownDims(rankFromLength(shape, "SumToShape", "shape", node)) }],
  kernel: ([grad, shape], _, ctx) => [sumToShape(grad, Array.from(shape.data), (n) => ctx.alloc(grad.dtype, n), ctx.node)],
});

export function addN(inputs: Tensor[], name = "AddN"): Tensor {
  return inputs.length === 1 ? inputs[0] : apply1("AddN", inputs, {}, name);
}
