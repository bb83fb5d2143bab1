/**
 * Which ops fuse into elementwise loops, and how each reads its operands: the input indices
 * that are data operands and the shape each is broadcast from (right-aligned against the
 * op's output, BiasAdd's bias placed on its channel axis).
 */
import type { DType } from "../../ir/dtype";
import type { Operation } from "../../ir/graph";
import { templateOf } from "./elementwise-templates";
import type { ConcreteSpec } from "./specs";

export interface Operand {
  input: number;
  /** The operand's shape as broadcast against the output (right-aligned). */
  view: number[];
}

export interface Fusable {
  operands: Operand[];
  template: (args: string[], out: DType) => string;
}

function broadcastsTo(view: readonly number[], out: readonly number[]): boolean {
  if (view.length > out.length) return false;
  const offset = out.length - view.length;
  return view.every((d, i) => d === 1 || d === out[i + offset]);
}

/** The fusable form of `op`, or null when it is not an elementwise op (or not in this instance). */
export function fusable(op: Operation, spec: (t: { name: string }) => ConcreteSpec): Fusable | null {
  const template = templateOf(op.type);
  if (!template || op.outputs.length !== 1) return null;
  const out = spec(op.outputs[0]).shape;
  const shapeOf = (i: number) => spec(op.inputs[i]).shape;
  let operands: Operand[];
  switch (op.type) {
    case "ZerosLike":
    case "OnesLike":
      operands = [];
      break;
    case "Fill":
      operands = [{ input: 1, view: shapeOf(1) }];
      break;
    case "BroadcastTo":
      operands = [{ input: 0, view: shapeOf(0) }];
      break;
    case "BiasAdd": {
      const rank = out.length;
      const bias = shapeOf(1);
      if (rank < 2 || bias.length !== 1) return null;
      const axis = op.attrs.data_format === "NCHW" ? 1 : rank - 1;
      if (bias[0] !== out[axis]) return null;
      operands = [
        { input: 0, view: shapeOf(0) },
        { input: 1, view: [bias[0], ...new Array<number>(rank - 1 - axis).fill(1)] },
      ];
      break;
    }
    case "AddN":
      // The reference kernel adds same-sized inputs element by element: fuse only equal shapes.
      if (!op.inputs.every((_, i) => shapeOf(i).join() === out.join())) return null;
      operands = op.inputs.map((_, i) => ({ input: i, view: shapeOf(i) }));
      break;
    default:
      operands = op.inputs.map((_, i) => ({ input: i, view: shapeOf(i) }));
  }
  if (!operands.every((o) => broadcastsTo(o.view, out))) return null;
  return { operands, template };
}
