import type { DType, TypedArray } from "./dtype";
import { notFound, suggestion } from "./diagnostics";
import type { NDArray } from "./ndarray";
import type { MaybeShape } from "./shape";
import type { Operation, Tensor } from "./graph";

/** Attribute kinds, as in TF's OpDef (`int`, `float`, `type`, `list(int)` ...). */
export type AttrKind =
  | "int"
  | "float"
  | "bool"
  | "string"
  | "type"
  | "shape"
  | "tensor"
  | "list(int)"
  | "list(float)"
  | "list(string)"
  | "list(type)"
  | "list(shape)";

export type AttrValue = number | boolean | string | DType | MaybeShape | NDArray | number[] | string[] | DType[] | MaybeShape[];

export interface AttrSpec {
  kind: AttrKind;
  /** Omitted: the attribute is required. */
  default?: AttrValue;
  /** For string attributes: the allowed values. */
  oneOf?: readonly string[];
}

export type Attrs = Record<string, AttrValue>;

/** Static type of one tensor: dtype and (possibly partial) shape. */
export interface TensorSpec {
  dtype: DType;
  shape: MaybeShape;
  /** The value, when the input is a constant (shape inference reads shape tensors from it). */
  value?: NDArray;
}

/** A variable slot in the session state, handed to kernels through ref inputs. */
export interface VariableSlot {
  readonly name: string;
  get(): NDArray | undefined;
  set(value: NDArray): void;
}

export interface KernelContext {
  /** The operation's name, for error messages. */
  readonly node: string;
  /** Reference kernels allocate float64 when set (finite-difference oracles in tests). */
  readonly highPrecision: boolean;
  /** Storage for `dtype`, float64 under highPrecision. */
  alloc(dtype: DType, size: number): TypedArray;
  /** The variable behind ref input `index` (Assign and friends). */
  ref(index: number): VariableSlot;
  /** The variable created by the VariableV2 op `name`. */
  variable(name: string): VariableSlot;
  /** Session-scoped state for stateful ops (variables, random generators), keyed by op name. */
  readonly state: Map<string, unknown>;
}

/** Everything a gradient rule sees: the forward op and the gradients of its outputs. */
export type GradientRule = (op: Operation, outputGrads: (Tensor | null)[]) => (Tensor | null)[];

/**
 * One op: attribute schema, shape/dtype inference, reference kernel and gradient rule.
 * The type name is TF's (`MatMul`, `FusedBatchNormV3`), so GraphDefs read like TF's.
 */
export interface OpDef {
  type: string;
  attrs?: Record<string, AttrSpec>;
  /** Number of inputs; "variadic" takes any count (attr `N` records it). */
  inputs: number | "variadic";
  /** Input indices that take a variable by reference rather than by value. */
  refInputs?: readonly number[];
  /** Output specs from input specs; throws InvalidArgumentError naming the node. */
  infer(inputs: TensorSpec[], attrs: Attrs, node: string): TensorSpec[];
  /** Reference kernel: the interpreter's implementation and the oracle for every backend. */
  kernel(inputs: NDArray[], attrs: Attrs, ctx: KernelContext): NDArray[];
  /** Gradient rule; absent means not differentiable. */
  gradient?: GradientRule;
  /** Ops with side effects or state: never folded, pruned only when unreachable. */
  stateful?: boolean;
  /** Gradient flows through as zero and the op is not an error to differentiate (shape, argmax ...). */
  nonDifferentiable?: boolean;
}

const registry = new Map<string, OpDef>();

export function registerOp(def: OpDef): OpDef {
  registry.set(def.type, def);
  return def;
}

/** Registers `def` under another TF name too (AddV2 for Add ...). */
export function registerAlias(alias: string, type: string): void {
  const def = registry.get(type);
  if (def) registry.set(alias, def);
}

export function hasOp(type: string): boolean {
  return registry.has(type);
}

export function getOpDef(type: string, node = ""): OpDef {
  const def = registry.get(type);
  if (!def)
    throw notFound({
      code: "unknown-op",
      node,
      message: `op type \`${type}\` is not registered`,
      expected: "a known op type",
      received: type,
      fix: suggestion(type, registry.keys(), "op type"),
    });
  return def;
}

export function registeredOps(): string[] {
  return [...registry.keys()].sort();
}
