/**
 * The interpreter: runs a plan op by op with the reference kernels. It is the oracle every
 * other backend is checked against. Dead tensors (the untaken side of a Switch) propagate:
 * an op with a dead data input or a dead control input does not run.
 */
import { allocate, type DType } from "../../ir/dtype";
import { InternalError, invalidArgument, OpError } from "../../ir/diagnostics";
import type { Operation, Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { getOpDef, type KernelContext, type VariableSlot } from "../../ir/registry";
import { uninitialized } from "../../ir/ops/state";
import { isRefInput } from "./plan";

export const DEAD = Symbol("dead");
export type Value = NDArray | typeof DEAD;

/** Session state the interpreter reads and writes. */
export interface RuntimeState {
  variables: Map<string, NDArray>;
  /** Per-op state of stateful kernels (random generators ...). */
  opState: Map<string, unknown>;
}

export interface ExecuteOptions {
  highPrecision?: boolean;
  /** Called after each op runs (checkNumerics, tracing). */
  onOp?: (op: Operation, outputs: NDArray[]) => void;
}

export function slotFor(state: RuntimeState, name: string): VariableSlot {
  return {
    name,
    get: () => state.variables.get(name),
    set: (value) => void state.variables.set(name, value),
  };
}

/** Runs `order` with `values` pre-filled by the feeds; returns the values map. */
export function execute(order: Operation[], values: Map<string, Value>, state: RuntimeState, options: ExecuteOptions = {}): Map<string, Value> {
  const deadOps = new Set<Operation>();
  const planned = new Set(order);
  for (const op of order) {
    const dead = op.controlInputs.some((c) => deadOps.has(c));
    const inputs: Value[] = op.inputs.map((t, i) => (isRefInput(op, i) ? refPlaceholder(t) : valueOf(values, t, op, state, order, planned)));
    if (op.type === "Merge") {
      const live = inputs.findIndex((v) => v !== DEAD);
      if (dead || live < 0) markDead(op, values, deadOps);
      else {
        values.set(op.outputs[0].name, inputs[live]);
        values.set(op.outputs[1].name, scalarInt(live));
      }
      continue;
    }
    if (dead || inputs.some((v) => v === DEAD)) {
      markDead(op, values, deadOps);
      continue;
    }
    const live = inputs as NDArray[];
    if (op.type === "Switch") {
      const pred = live[1].data[0] !== 0;
      values.set(op.outputs[0].name, pred ? DEAD : live[0]);
      values.set(op.outputs[1].name, pred ? live[0] : DEAD);
      continue;
    }
    const outputs = runKernel(op, live, state, order, options.highPrecision ?? false);
    op.outputs.forEach((t, i) => values.set(t.name, outputs[i]));
    options.onOp?.(op, outputs);
  }
  return values;
}

function runKernel(op: Operation, inputs: NDArray[], state: RuntimeState, order: Operation[], highPrecision: boolean): NDArray[] {
  const def = getOpDef(op.type, op.name);
  const ctx: KernelContext = {
    node: op.name,
    highPrecision,
    alloc: (dtype: DType, size: number) => allocate(dtype, size, highPrecision),
    ref: (index) => {
      const producer = op.inputs[index]?.op;
      if (!producer || producer.type !== "VariableV2")
        throw invalidArgument({
          code: "not-a-variable",
          node: op.name,
          message: `input ${index} of ${op.type} must be a variable`,
          expected: "a VariableV2 output",
          received: producer ? `${producer.type} \`${producer.name}\`` : "nothing",
          fix: "assign to a variable created with tf.getVariable",
        });
      return slotFor(state, producer.name);
    },
    variable: (name) => slotFor(state, name),
    state: state.opState,
  };
  let outputs: NDArray[];
  try {
    outputs = def.kernel(inputs, op.attrs, ctx);
  } catch (e) {
    if (e instanceof OpError && e.errorCode === "uninitialized-variable") throw allUninitialized(order, state, op, e);
    if (e instanceof OpError) throw e;
    throw new InternalError({
      code: "kernel-failed",
      node: op.name,
      message: `the ${op.type} kernel failed: ${e instanceof Error ? e.message : String(e)}`,
      fix: "this is a foldflow bug; please report it with the graph",
    });
  }
  if (outputs.length !== op.outputs.length)
    throw new InternalError({
      code: "kernel-arity",
      node: op.name,
      message: `the ${op.type} kernel returned ${outputs.length} outputs for ${op.outputs.length}`,
    });
  return outputs;
}

/** One uninitialized read fails the run; the error lists every variable the run would read uninitialized. */
function allUninitialized(order: Operation[], state: RuntimeState, reader: Operation, first: OpError): OpError {
  // Variables an Assign in this run initializes are fine; every other read or update is not.
  const assigned = new Set<string>();
  const used = new Set<string>();
  for (const op of order) {
    if (op.type === "VariableV2") used.add(op.name);
    op.inputs.forEach((t, i) => {
      if (!isRefInput(op, i)) return;
      if (op.type === "Assign") assigned.add(t.op.name);
      else used.add(t.op.name);
    });
  }
  const missing = [...used].filter((name) => !state.variables.has(name) && !assigned.has(name));
  if (missing.length <= 1) return first;
  const e = uninitialized(missing[0], reader.name) as OpError;
  return new (e.constructor as new (d: OpError["diagnostic"]) => OpError)({
    ...e.diagnostic,
    message: `attempting to use ${missing.length} uninitialized variables: ${missing.map((m) => `\`${m}\``).join(", ")}`,
  });
}

/**
 * A variable is read when its consumer runs, as TF1's ref variables are: a read under
 * `controlDependencies([update])` sees the update.
 */
function valueOf(values: Map<string, Value>, t: Tensor, consumer: Operation, state: RuntimeState, order: Operation[], planned: Set<Operation>): Value {
  if (t.op.type === "VariableV2" && planned.has(t.op)) {
    const current = state.variables.get(t.op.name);
    if (!current) throw allUninitialized(order, state, consumer, uninitialized(t.op.name, consumer.name) as OpError);
    return current;
  }
  const v = values.get(t.name);
  if (v === undefined)
    throw new InternalError({
      code: "missing-value",
      node: consumer.name,
      message: `input \`${t.name}\` was not computed before \`${consumer.name}\``,
      fix: "this is a foldflow bug in run planning; please report it",
    });
  return v;
}

const EMPTY = new NDArray("float32", [0], new Float32Array(0));
function refPlaceholder(_: Tensor): NDArray {
  return EMPTY;
}

function markDead(op: Operation, values: Map<string, Value>, deadOps: Set<Operation>): void {
  deadOps.add(op);
  for (const t of op.outputs) values.set(t.name, DEAD);
}

function scalarInt(v: number): NDArray {
  return new NDArray("int32", [], new Int32Array([v]));
}
