/**
 * Elementwise epilogues fused into the stores of GEMM, conv and depthwise conv: each step is an
 * elementwise op (simd-ops.ts) applied to the produced value, with at most one other operand —
 * a per-channel vector (bias, folded batch-norm scale and shift), a scalar, or a tensor of the
 * output's shape (a residual). Relu(BiasAdd(MatMul)) is [BiasAdd channel, Relu].
 */
import { InternalError } from "../../ir/diagnostics";
import type { Expr } from "./binaryen";
import type { Address, FunctionBuilder } from "./function-builder";
import { splatConst, vectorOp } from "./simd-ops";

export type EpilogueOperand =
  /** f32 vector over the output's last axis (channels), at a byte offset. */
  | { kind: "channel"; offset: number }
  | { kind: "scalar"; value: number }
  /** f32 tensor of the output's own shape, at a byte offset. */
  | { kind: "tensor"; offset: number };

export interface EpilogueStep {
  /** TF elementwise op type (BiasAdd, AddV2, Mul, Relu, Relu6 ...). */
  type: string;
  operand?: EpilogueOperand;
  /** The operand is the op's first argument (operand − value rather than value − operand). */
  operandFirst?: boolean;
}

/** Where a vector of four outputs sits: the addresses of its channel-vector and tensor operands. */
export interface EpilogueSite {
  /** Address of channel `offset`'s four entries for this vector. */
  channel(offset: number): Address;
  /** Address of the tensor operand's four entries at this vector's output position. */
  tensor(offset: number): Address;
}

/** Throws the named error when a step has no wasm vector op. */
export function checkEpilogue(steps: readonly EpilogueStep[], node: string): void {
  for (const s of steps)
    if (!vectorOp(s.type, s.operand ? 2 : 1))
      throw new InternalError({
        code: "wasm-epilogue",
        node,
        message: `the wasm target cannot fuse a ${s.operand ? "binary" : "unary"} ${s.type} into the store`,
        expected: "an elementwise op of codegen/wasm/simd-ops.ts",
        received: s.type,
      });
}

/** Statements that replace local `value` (v128) by the epilogue applied to it. */
export function applyEpilogue(fb: FunctionBuilder, steps: readonly EpilogueStep[], value: number, site: EpilogueSite): Expr[] {
  const out: Expr[] = [];
  for (const s of steps) {
    const op = vectorOp(s.type, s.operand ? 2 : 1)!;
    if (!s.operand) {
      out.push(fb.set(value, op(fb, [value])));
      continue;
    }
    const o = fb.v128Local();
    const operand = s.operand;
    const load =
      operand.kind === "scalar" ? splatConst(fb, operand.value) : fb.loadV(operand.kind === "channel" ? site.channel(operand.offset) : site.tensor(operand.offset));
    out.push(fb.set(o, load));
    out.push(fb.set(value, op(fb, s.operandFirst ? [o, value] : [value, o])));
  }
  return out;
}
