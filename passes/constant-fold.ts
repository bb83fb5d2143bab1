/**
 * Constant folding: an op whose inputs are all Consts is evaluated once, with its reference
 * kernel, and replaced by a Const of the same name (so `name:0` still names the value).
 * Folding cascades in one sweep, since ops are visited inputs first.
 *
 *   before:  Const a ──┐
 *            Const b ──Mul "scale"──Add "shift"──► Relu ◄── x
 *            Const c ──────────────┘
 *   after:   Const "shift" (= a·b + c) ──► Relu ◄── x
 *
 * Left alone: stateful ops (variables, assigns, random generators), Placeholder and
 * PlaceholderWithDefault (values fed at run time), Switch and Merge (deadness), and results
 * over `maxElements` elements. A folded op's control inputs, and those of the Consts it read
 * (a Const inside a `tf.cond` branch waits on the branch pivot), move to the new Const, so
 * a folded value inside an untaken branch stays dead.
 */
import { allocate, type DType } from "../ir/dtype";
import { OpError, type Diagnostic } from "../ir/diagnostics";
import type { Graph, Operation, Tensor } from "../ir/graph";
import type { NDArray } from "../ir/ndarray";
import { getOpDef, type KernelContext } from "../ir/registry";
import { rewriteGraph, type RewriteContext } from "../ir/rewrite";
import { isCompatible, isFullyDefined, sizeOf } from "../ir/shape";
import type { Pass } from "./pass";
import { isFeedPoint, isRandom, isStateful, protectedNames, type OutputSpec } from "./outputs";

export interface ConstantFoldOptions {
  /** The largest result (in elements, per output) folded into a Const; default 1e6. */
  maxElements?: number;
  /** Outputs whose names must stay: a multi-output op is folded only when none of its outputs past the first is one. */
  outputs?: readonly OutputSpec[];
}

const NEVER_FOLDED = new Set(["Const", "Switch", "Merge", "NoOp", "VariableV2", "Enter", "Exit", "NextIteration", "LoopCond"]);

/** Whether `op` may be folded at all (its inputs aside). */
export function isFoldable(op: Operation): boolean {
  return op.inputs.length > 0 && op.outputs.length > 0 && !NEVER_FOLDED.has(op.type) && !isStateful(op) && !isRandom(op) && !isFeedPoint(op);
}

export const constantFold: Pass<ConstantFoldOptions> = (graph: Graph, options: ConstantFoldOptions = {}) => {
  const maxElements = options.maxElements ?? 1e6;
  const keep = protectedNames(options.outputs);
  const diagnostics: Diagnostic[] = [];
  let changed = false;
  const result = rewriteGraph(graph, (op, ctx) => {
    if (!isFoldable(op)) return undefined;
    const inputs = op.inputs.map((t) => ctx.tensor(t));
    if (!inputs.every((t) => t.op.type === "Const")) return undefined;
    if (op.outputs.some((t) => isFullyDefined(t.shape) && sizeOf(t.shape as number[]) > maxElements)) return undefined;
    if (op.outputs.length > 1 && op.outputs.slice(1).some((t) => keep.has(t.name) || keep.has(t.op.name))) return undefined;
    const values = evaluate(op, inputs, diagnostics);
    if (!values || !fits(op, values, maxElements, diagnostics)) return undefined;
    changed = true;
    return replaceByConsts(op, values, inputs, ctx);
  });
  return changed ? { graph: result, changed, diagnostics } : { graph, changed: false, diagnostics };
};

/** Runs the op's reference kernel on the Const inputs; `undefined` (and a note) when it fails. */
function evaluate(op: Operation, inputs: Tensor[], diagnostics: Diagnostic[]): NDArray[] | undefined {
  const def = getOpDef(op.type, op.name);
  const noState = (what: string) => {
    throw new Error(`${op.type} asked for ${what} while being constant-folded`);
  };
  const ctx: KernelContext = {
    node: op.name,
    highPrecision: false,
    alloc: (dtype: DType, size: number) => allocate(dtype, size, false),
    ref: () => noState("a variable"),
    variable: () => noState("a variable"),
    state: new Map(),
  };
  try {
    return def.kernel(
      inputs.map((t) => t.op.attrs.value as NDArray),
      op.attrs,
      ctx,
    );
  } catch (e) {
    diagnostics.push({
      code: "fold-failed",
      severity: "warning",
      node: op.name,
      message: `\`${op.name}\` (${op.type}) has only constant inputs but its kernel failed, so it was left in place: ${e instanceof OpError ? e.diagnostic.message : e instanceof Error ? e.message : String(e)}`,
      fix: "check the op's constant inputs; running the graph will fail the same way",
    });
    return undefined;
  }
}

/** Whether the kernel's results match the op's outputs (dtype, static shape) and the size limit. */
function fits(op: Operation, values: NDArray[], maxElements: number, diagnostics: Diagnostic[]): boolean {
  if (values.length !== op.outputs.length) return false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const t = op.outputs[i];
    if (v.size > maxElements) return false;
    if (v.dtype !== t.dtype || !isCompatible(v.shape, t.shape)) {
      diagnostics.push({
        code: "fold-mismatch",
        severity: "warning",
        node: t.name,
        message: `folding \`${op.name}\` gave a ${v.dtype} value of shape [${v.shape.join(", ")}], which does not fit \`${t.name}\`; it was left in place`,
        expected: `${t.dtype} ${JSON.stringify(t.shape)}`,
        received: `${v.dtype} [${v.shape.join(", ")}]`,
        fix: "this is a kernel or shape-inference bug in foldflow; please report it",
      });
      return false;
    }
  }
  return true;
}

/** One Const per output: the first named like the op, the others (those consumed) `<op>/output_<i>`. */
function replaceByConsts(op: Operation, values: NDArray[], inputs: Tensor[], ctx: RewriteContext): (Tensor | undefined)[] {
  const controls = new Set<Operation>(ctx.controlInputs(op));
  for (const t of inputs) for (const c of t.op.controlInputs) controls.add(c);
  return values.map((value, i) => {
    if (i > 0 && op.outputs[i].consumers().length === 0) return undefined;
    const name = i === 0 ? op.name : ctx.graph.uniqueName(`${op.name}/output_${i}`);
    return ctx.graph.addOp({
      type: "Const",
      name,
      absoluteName: true,
      attrs: { value, dtype: value.dtype },
      controlInputs: [...controls],
      noCapture: true,
    }).outputs[0];
  });
}
