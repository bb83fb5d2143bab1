/**
 * The ops a wasm program runs as kernels of its module, each from its concrete shapes: GEMM,
 * Conv2D and depthwise (NHWC, constant weights packed at compile time, fused epilogue),
 * reductions over adjacent axes (Sum, Mean, Max, Min, BiasAddGrad, SumToShape), Softmax /
 * LogSoftmax, MaxPool / AvgPool (NHWC), (sparse) softmax cross entropy (./native-loss.ts),
 * ArgMax / ArgMin (./native-typed.ts), the variable updates as elementwise kernels over the
 * variable's region (int32 / bool ones as typed kernels), and the training ops of
 * ./native-training.ts (conv and depthwise backprops, pooling gradients, fused batch norm and
 * its gradient). An op outside these (or an instance they do
 * not cover: NCHW, int32, mismatched shapes that must raise TF's error) gives null and runs its
 * reference kernel.
 */
import type { Operation, Tensor } from "../../../ir/graph";
import { spatialAttr, type Padding } from "../../../ir/ops/pool";
import { normalizeAxis, sizeOf } from "../../../ir/shape";
import type { EpilogueStep } from "../../../codegen/wasm/epilogue";
import type { Kernel } from "../../../codegen/wasm/kernels";
import { ElementwiseBuilder, type Ref } from "./elementwise";
import type { Lowering } from "./lower";
import type { TrapError } from "./steps";
import { crossEntropyKernel } from "./native-loss";
import { argReduceKernel, typedUpdate } from "./native-typed";
import { batchNormKernel, isBatchNorm, trainingKernel } from "./native-training";

export interface EpilogueSpec {
  type: string;
  operand?: { kind: "channel"; key: string } | { kind: "tensor"; key: string } | { kind: "scalar"; value: number };
  operandFirst?: boolean;
}

export interface NativeKernel {
  make: (at: (key: string) => number) => Kernel;
  reads: string[];
  writes: string[];
  requires: number[];
  assigns: number[];
  /** The error a trap of the kernel stands for (kernels with run-time checks). */
  onTrap?: TrapError;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export function resolveEpilogue(steps: readonly EpilogueSpec[], at: (key: string) => number): EpilogueStep[] {
  return steps.map((s) => {
    const o = s.operand;
    const operand = !o ? undefined : o.kind === "scalar" ? o : { kind: o.kind, offset: at(o.key) };
    return { type: s.type, operand, operandFirst: s.operandFirst };
  });
}
export const epilogueKeys = (steps: readonly EpilogueSpec[]) => steps.flatMap((s) => (s.operand && "key" in s.operand ? [s.operand.key] : []));

/** MatMul / Conv2D / DepthwiseConv2dNative / FusedBatchNorm storing `out` after `epilogue`; null when not covered. */
export function producerKernel(L: Lowering, op: Operation, epilogue: readonly EpilogueSpec[], out: Tensor): NativeKernel | null {
  if (isBatchNorm(op.type)) return batchNormKernel(L, op, epilogue, out);
  const f32 = [...op.inputs, op.outputs[0], out].every((t) => L.spec(t).dtype === "float32");
  if (!f32) return null;
  const outKey = L.regionOf(out).key;
  const base = { requires: [], assigns: [], writes: [outKey] };
  const [x, w] = op.inputs;
  const xs = L.spec(x).shape;
  const ws = L.spec(w).shape;
  const c = L.constantOf(w);
  if (op.type === "MatMul") {
    if (xs.length !== 2 || ws.length !== 2) return null;
    const ta = !!op.attrs.transpose_a;
    const tb = !!op.attrs.transpose_b;
    const [m, k] = ta ? [xs[1], xs[0]] : xs;
    const n = tb ? ws[0] : ws[1];
    const aKey = L.regionOf(x).key;
    const bKey = c === undefined ? L.regionOf(w).key : L.packed(`p:${c}:${tb}`, () => L.W.packPanels(L.a.consts[c].data, k, n, tb)).key;
    return {
      ...base,
      reads: [aKey, bKey, ...epilogueKeys(epilogue)],
      make: (at) => ({
        kind: "gemm", op: op.name, m, n, k, transposeA: ta, transposeB: tb, a: at(aKey), b: at(bKey), c: at(outKey),
        bPacked: c !== undefined, epilogue: resolveEpilogue(epilogue, at),
      }),
    };
  }
  if (op.type !== "Conv2D" && op.type !== "DepthwiseConv2dNative") return null;
  if (op.attrs.data_format !== "NHWC" || xs.length !== 4 || ws.length !== 4) return null;
  const [kH, kW, inC, depth] = ws;
  if (inC !== xs[3]) return null;
  const strides = spatialAttr(op.attrs, "strides", op.type, op.name);
  const dilations = spatialAttr(op.attrs, "dilations", op.type, op.name);
  const geometry = L.W.nhwcGeometry(xs, kH, kW, strides, dilations, op.attrs.padding as Padding, op.name);
  const outC = op.type === "Conv2D" ? depth : inC * depth;
  if (!same([xs[0], geometry.outH, geometry.outW, outC], L.spec(out).shape)) return null;
  const xKey = L.regionOf(x).key;
  if (op.type === "DepthwiseConv2dNative") {
    const wKey = L.regionOf(w).key;
    return {
      ...base,
      reads: [xKey, wKey, ...epilogueKeys(epilogue)],
      make: (at) => ({ kind: "depthwise", op: op.name, geometry, channels: inC, multiplier: depth, x: at(xKey), w: at(wKey), y: at(outKey), epilogue: resolveEpilogue(epilogue, at) }),
    };
  }
  // A filter that is not a constant (a variable in training) is packed, or Winograd-transformed, by the kernel.
  const plan = L.W.planConvFilter(geometry, inC, outC, undefined, c === undefined ? "variable" : "constant");
  const wKey = c === undefined ? L.regionOf(w).key : L.packed(`pf:${c}:${plan.key}`, () => plan.pack(L.a.consts[c].data)).key;
  return {
    ...base,
    reads: [xKey, wKey, ...epilogueKeys(epilogue)],
    make: (at) => ({
      kind: "conv2d", op: op.name, geometry, inC, outC, x: at(xKey), w: at(wKey), y: at(outKey), wPacked: c !== undefined, winograd: plan.winograd, epilogue: resolveEpilogue(epilogue, at),
    }),
  };
}

/** [outer, reduce, inner] of a reduction over `axes` of `shape`, when the reduced axes are adjacent (size-1 axes ignored). */
export function reduceView(shape: readonly number[], axes: ReadonlySet<number>): { outer: number; reduce: number; inner: number } | null {
  const dims = shape.map((d, i) => ({ d, reduced: axes.has(i) })).filter((x) => x.d !== 1);
  const first = dims.findIndex((x) => x.reduced);
  if (first < 0) return { outer: sizeOf([...shape]), reduce: 1, inner: 1 };
  let last = first;
  while (last + 1 < dims.length && dims[last + 1].reduced) last++;
  if (dims.slice(last + 1).some((x) => x.reduced)) return null;
  const product = (xs: { d: number }[]) => xs.reduce((p, x) => p * x.d, 1);
  return { outer: product(dims.slice(0, first)), reduce: product(dims.slice(first, last + 1)), inner: product(dims.slice(last + 1)) };
}

function reduction(L: Lowering, op: Operation): NativeKernel | null {
  const x = op.inputs[0];
  const xs = L.spec(x).shape;
  let axes: number[];
  let type: "Sum" | "Mean" | "Max" | "Min" = "Sum";
  if (op.type === "BiasAddGrad") {
    const channel = op.attrs.data_format === "NCHW" && xs.length > 2 ? 1 : xs.length - 1;
    axes = xs.map((_, i) => i).filter((i) => i !== channel);
  } else if (op.type === "SumToShape") {
    const target = L.spec(op.inputs[1]).value;
    if (!target) return null;
    const t = Array.from(target.data);
    const offset = xs.length - t.length;
    if (offset < 0) return null;
    axes = xs.map((_, i) => i).filter((i) => i < offset || (t[i - offset] === 1 && xs[i] !== 1));
  } else {
    const value = L.spec(op.inputs[1]).value;
    if (!value) return null;
    axes = Array.from(value.data, (a) => normalizeAxis(a, xs.length, op.name));
    type = op.type as typeof type;
  }
  const view = reduceView(xs, new Set(axes));
  if (!view) return null;
  const xKey = L.regionOf(x).key;
  const yKey = L.regionOf(op.outputs[0]).key;
  if (view.reduce === 1 && op.type !== "Max" && op.type !== "Min") {
    // Nothing to add up (a SumToShape of the autodiff driver whose shapes turned out equal):
    // y = x + 0, the reference's 0 + x (−0 becomes +0), in one SIMD pass.
    const b = new ElementwiseBuilder([view.outer * view.inner], op.name);
    b.store(b.op("AddV2", [b.tensor(xKey, [view.outer * view.inner]), b.value(0)]), yKey);
    return { reads: b.reads(), writes: b.writes(), requires: [], assigns: [], make: b.make() };
  }
  return { reads: [xKey], writes: [yKey], requires: [], assigns: [], make: (at) => ({ kind: "reduce", op: op.name, type, ...view, x: at(xKey), y: at(yKey) }) };
}

/** A variable update as an elementwise kernel writing the variable's region (and output 0 when read apart from it). */
function update(L: Lowering, op: Operation): NativeKernel | null {
  const refs = op.type === "ApplyAdam" ? [0, 1, 2] : op.type === "ApplyMomentum" ? [0, 1] : [0];
  const vars = refs.map((i) => op.inputs[i].op);
  if (vars.some((v) => v.type !== "VariableV2")) return null;
  const shape = L.spec(op.inputs[0]).shape;
  const f32 = op.inputs.every((t) => L.spec(t).dtype === "float32");
  const value = op.type === "Assign" || op.type === "AssignAdd" || op.type === "AssignSub" ? 1 : op.type === "ApplyGradientDescent" ? 2 : op.type === "ApplyMomentum" ? 3 : 9;
  if (!f32 || !same(L.spec(op.inputs[value]).shape, shape) || !same(L.spec(op.outputs[0]).shape, shape)) return null;
  if (!refs.every((i) => same(L.spec(op.inputs[i]).shape, shape))) return null;
  const b = new ElementwiseBuilder(shape, op.name);
  const keys = vars.map((v) => L.variableRegion(v).key);
  const input = (i: number): Ref => (refs.includes(i) ? b.tensor(keys[refs.indexOf(i)], shape) : L.kernelInput(b, op.inputs[i], L.spec(op.inputs[i]).shape));
  const [add, sub, mul, div] = ["AddV2", "Sub", "Mul", "RealDiv"].map((t) => (x: Ref, y: Ref) => b.op(t, [x, y]));
  let result: Ref;
  switch (op.type) {
    case "Assign":
      result = input(1);
      break;
    case "AssignAdd":
      result = add(input(0), input(1));
      break;
    case "AssignSub":
      result = sub(input(0), input(1));
      break;
    case "ApplyGradientDescent":
      result = sub(input(0), mul(input(1), input(2)));
      break;
    case "ApplyMomentum": {
      const [lr, grad, momentum] = [input(2), input(3), input(4)];
      const accum = add(mul(input(1), momentum), grad);
      b.store(accum, keys[1]);
      result = op.attrs.use_nesterov ? sub(input(0), add(mul(grad, lr), mul(mul(accum, momentum), lr))) : sub(input(0), mul(accum, lr));
      break;
    }
    case "ApplyAdam": {
      const [b1p, b2p, lr, beta1, beta2, epsilon, grad] = [3, 4, 5, 6, 7, 8, 9].map(input);
      const one = b.value(1);
      const alpha = div(mul(lr, b.op("Sqrt", [sub(one, b2p)])), sub(one, b1p));
      const m = add(input(1), mul(sub(grad, input(1)), sub(one, beta1)));
      const v = add(input(2), mul(sub(mul(grad, grad), input(2)), sub(one, beta2)));
      b.store(m, keys[1]);
      b.store(v, keys[2]);
      const direction = op.attrs.use_nesterov ? add(mul(grad, sub(one, beta1)), mul(beta1, m)) : m;
      result = sub(input(0), div(mul(direction, alpha), add(b.op("Sqrt", [v]), epsilon)));
      break;
    }
    default:
      return null;
  }
  b.store(result, keys[0]);
  const out = op.outputs[0];
  if (L.a.storage.get(out.name)?.kind === "buffer" && L.neededOutside(out, new Set([op]))) b.store(result, L.regionOf(out).key);
  const indices = vars.map((v) => L.variableIndex(v));
  return { make: b.make(), reads: b.reads(), writes: b.writes(), requires: op.type === "Assign" ? [] : indices, assigns: indices };
}

/** The kernel of one op (not fused with others), or null when it runs its reference kernel. */
export function nativeKernel(L: Lowering, op: Operation): NativeKernel | null {
  switch (op.type) {
    case "MatMul":
    case "Conv2D":
    case "DepthwiseConv2dNative":
      return producerKernel(L, op, [], op.outputs[0]);
    case "Assign":
    case "AssignAdd":
    case "AssignSub":
    case "ApplyGradientDescent":
    case "ApplyMomentum":
    case "ApplyAdam":
      return update(L, op) ?? typedUpdate(L, op);
    case "ArgMax":
    case "ArgMin":
      return argReduceKernel(L, op);
    case "SoftmaxCrossEntropyWithLogits":
    case "SparseSoftmaxCrossEntropyWithLogits":
      return crossEntropyKernel(L, op);
  }
  const training = trainingKernel(L, op);
  if (training !== undefined) return training;
  if (!op.inputs.slice(0, 1).every((t) => L.spec(t).dtype === "float32") || L.spec(op.outputs[0]).dtype !== "float32") return null;
  const x = op.inputs[0];
  const xs = L.spec(x).shape;
  switch (op.type) {
    case "Sum":
    case "Mean":
    case "Max":
    case "Min":
    case "BiasAddGrad":
    case "SumToShape":
      return reduction(L, op);
    case "Softmax":
    case "LogSoftmax": {
      if (xs.length === 0) return null;
      const columns = xs[xs.length - 1];
      const rows = columns === 0 ? 0 : sizeOf(xs) / columns;
      const xKey = L.regionOf(x).key;
      const yKey = L.regionOf(op.outputs[0]).key;
      return { reads: [xKey], writes: [yKey], requires: [], assigns: [], make: (at) => ({ kind: "softmax", op: op.name, type: op.type as "Softmax", rows, columns, x: at(xKey), y: at(yKey) }) };
    }
    case "MaxPool":
    case "AvgPool": {
      if (op.attrs.data_format !== "NHWC" || xs.length !== 4) return null;
      const [kH, kW] = spatialAttr(op.attrs, "ksize", op.type, op.name);
      const strides = spatialAttr(op.attrs, "strides", op.type, op.name);
      const geometry = L.W.nhwcGeometry(xs, kH, kW, strides, [1, 1], op.attrs.padding as Padding, op.name);
      if (!same([xs[0], geometry.outH, geometry.outW, xs[3]], L.spec(op.outputs[0]).shape)) return null;
      const xKey = L.regionOf(x).key;
      const yKey = L.regionOf(op.outputs[0]).key;
      return {
        reads: [xKey], writes: [yKey], requires: [], assigns: [],
        make: (at) => ({ kind: "pool", op: op.name, type: op.type as "MaxPool", geometry, channels: xs[3], x: at(xKey), y: at(yKey) }),
      };
    }
  }
  return null;
}
