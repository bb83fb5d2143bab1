/**
 * An op without a wasm kernel runs, where the js target has an emitter for it, as a one-op JS
 * program (codegen/js) over the wasm memory's views: the op is rebuilt in a scratch graph whose
 * inputs are placeholders of the planned shapes (constants stay constants, so that axes, perms
 * and sizes are compile-time values), compiled with `compileProgram`, and loaded with
 * `new Function` as the js backend does. Conv backprops, pooling gradients, sparse cross
 * entropy, transposes, gathers, comparisons ... then run at the js backend's speed instead of
 * the reference kernels'. Ops with variables (ref inputs), stateful ops, and ops the js target
 * itself runs by reference kernel give null (the caller runs the reference kernel).
 */
import type { TypedArray } from "../../../ir/dtype";
import { OpError } from "../../../ir/diagnostics";
import { Graph, type Operation, type Tensor } from "../../../ir/graph";
import type { NDArray } from "../../../ir/ndarray";
import { getOpDef } from "../../../ir/registry";
import { compileProgram, PARAMS, type CompiledProgram } from "../../../codegen/js/program";
import type { ConcreteSpec } from "../../../codegen/js/specs";
import { DEAD } from "../interpreter";
import type { Lowered } from "./lower";
import type { WasmStep } from "./steps";

export interface JsKernel {
  program: CompiledProgram;
  /** Input arrays (null where the input is a constant) → output arrays (the program's own, valid until the next call). */
  run(inputs: readonly (TypedArray | null)[]): TypedArray[];
}

const noVariables = () => {
  throw new Error("a one-op JS kernel has no variables");
};

/** The one-op JS program of `op`, or null when the js target would not emit it either. */
export function jsKernel(op: Operation, inputs: readonly { spec: ConcreteSpec; constant?: NDArray }[]): JsKernel | null {
  const def = getOpDef(op.type, op.name);
  if (def.stateful || (def.refInputs?.length ?? 0) > 0 || op.type === "Switch" || op.type === "Merge") return null;
  let program: CompiledProgram;
  try {
    const g = new Graph();
    const fed = new Map<string, { tensor: Tensor; dtype: ConcreteSpec["dtype"]; shape: number[] }>();
    const order: Operation[] = [];
    const tensors = inputs.map((x, i) => {
      if (x.constant) {
        const c = g.addOp({ type: "Const", name: `input_${i}`, attrs: { value: x.constant, dtype: x.constant.dtype } });
        order.push(c);
        return c.outputs[0];
      }
      const p = g.addOp({ type: "Placeholder", name: `input_${i}`, attrs: { dtype: x.spec.dtype, shape: [...x.spec.shape] } }).outputs[0];
      fed.set(p.name, { tensor: p, dtype: x.spec.dtype, shape: [...x.spec.shape] });
      return p;
    });
    const clone = g.addOp({ type: op.type, name: op.name, inputs: tensors, attrs: op.attrs, absoluteName: true, noCapture: true });
    order.push(clone);
    program = compileProgram({ order, fed, fetches: clone.outputs, variableShape: () => undefined });
  } catch (e) {
    if (e instanceof OpError || e instanceof Error) return null;
    throw e;
  }
  if (program.fallbacks.length > 0 || program.analysis.variables.length > 0) return null;
  const E = (j: number, _node: number, received: unknown) => program.errors[j](String(received));
  const mk = (_k: number, data: TypedArray) => data;
  const consts = program.analysis.consts.map((c) => c.data);
  const run = new Function(...PARAMS, program.body)(consts, [], noVariables, noVariables, noVariables, E, mk, DEAD) as (feeds: unknown[]) => TypedArray[];
  const feedIndex = program.analysis.feeds.map((name) => Number(/^input_(\d+):0$/.exec(name)![1]));
  return { program, run: (arrays) => run(feedIndex.map((i) => arrays[i])) };
}

/** The one-op JS programs of a lowered run's host steps, where the js target emits their op. */
export function jsKernelsOf(lowered: Lowered): Map<WasmStep, JsKernel> {
  const a = lowered.analysis;
  const out = new Map<WasmStep, JsKernel>();
  for (const step of lowered.steps) {
    if (step.kind !== "fallback") continue;
    const k = jsKernel(step.op, step.op.inputs.map((t, i) => {
      const o = step.inputs[i];
      return { spec: a.specs.get(t.name)!, constant: o && "constant" in o ? a.consts[o.constant] : undefined };
    }));
    if (k) out.set(step, k);
  }
  return out;
}
