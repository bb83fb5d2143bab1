/**
 * TF -> ONNX (opset 13) for the neural-network ops. ONNX convolutions, pools and batch norm work
 * on NCHW, so an NHWC op is wrapped in transposes (transposes that cancel out between two such
 * ops are not written, see builder.ts):
 *
 *   Conv2D NHWC, filter [kh, kw, ci, co]
 *     -> Transpose(x, [0,3,1,2]) -> Conv(W [co, ci, kh, kw], pads from SAME / VALID) -> Transpose([0,2,3,1])
 *   DepthwiseConv2dNative, filter [kh, kw, ci, m]  -> Conv(W [ci·m, 1, kh, kw], group ci)
 *   MaxPool / AvgPool -> MaxPool / AveragePool (count_include_pad 0: TF's SAME average excludes padding)
 *   FusedBatchNorm / V2 / V3 (is_training false) -> BatchNormalization (epsilon)
 *   BatchNormWithGlobalNormalization -> BatchNormalization (scale 1 without scale_after_normalization)
 *   BiasAdd -> Add (NCHW: the bias unsqueezed to [C, 1, 1])    Softmax / LogSoftmax -> axis -1
 *
 * SAME padding is written as explicit pads when the input's spatial size is static (TF puts the
 * odd pixel at the end: pad_before = floor(total / 2)), as auto_pad SAME_UPPER otherwise.
 */
import type { Operation } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { attr, type OnnxBuilder } from "./builder";
import { unimplemented } from "./errors";
import type { Converter } from "./ops-math";
import type { OnnxAttribute } from "./schema";

const isNCHW = (op: Operation) => op.attrs.data_format === "NCHW";

/** The [h, w] entries of a 4-entry TF window attribute (strides, dilations, ksize). */
function spatial(op: Operation, key: string, fallback: number): [number, number] {
  const v = (op.attrs[key] as number[] | undefined) ?? [1, fallback, fallback, 1];
  return isNCHW(op) ? [v[2], v[3]] : [v[1], v[2]];
}

/** pads / auto_pad for TF's padding over input `index` with window `kernel`. */
function padding(op: Operation, kernel: [number, number] | null, strides: [number, number], dilations: [number, number]): OnnxAttribute[] {
  if (op.attrs.padding === "VALID") return [attr.ints("pads", [0, 0, 0, 0])];
  if (op.attrs.padding !== "SAME") throw unimplemented(op, `padding \`${String(op.attrs.padding)}\` is not SAME or VALID`, "use SAME or VALID padding");
  const shape = op.inputs[0].shape;
  const dims = shape && shape.length === 4 ? (isNCHW(op) ? [shape[2], shape[3]] : [shape[1], shape[2]]) : [null, null];
  if (!kernel || dims[0] === null || dims[1] === null) return [attr.string("auto_pad", "SAME_UPPER")];
  const before: number[] = [];
  const after: number[] = [];
  for (let a = 0; a < 2; a++) {
    const size = dims[a] as number;
    const out = Math.ceil(size / strides[a]);
    const total = Math.max((out - 1) * strides[a] + (kernel[a] - 1) * dilations[a] + 1 - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [attr.ints("pads", [...before, ...after])];
}

/** Runs `body` on the NCHW form of input 0 and writes its result as `output` in the op's layout. */
function inNCHW(op: Operation, b: OnnxBuilder, output: string, body: (x: string, y: string) => void): void {
  const x = b.input(op.inputs[0]);
  if (isNCHW(op)) return body(x, output);
  const y = b.fresh(`${output}/nchw`);
  body(b.toNCHW(x), y);
  b.fromNCHW(y, output);
}

/** TF filter [kh, kw, ci, co] (depthwise: [kh, kw, ci, m]) as ONNX's [co, ci, kh, kw] ([ci·m, 1, kh, kw]). */
function filterValue(w: NDArray, depthwise: boolean): NDArray {
  const [kh, kw, ci, co] = w.shape;
  const out = new Float32Array(w.size);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < ci; c++)
        for (let o = 0; o < co; o++) {
          const src = ((i * kw + j) * ci + c) * co + o;
          // Depthwise output channel c·m + o has one input channel: ONNX's [ci·m, 1, kh, kw].
          const dst = depthwise ? ((c * co + o) * kh + i) * kw + j : ((o * ci + c) * kh + i) * kw + j;
          out[dst] = w.data[src];
        }
  return new NDArray("float32", depthwise ? [ci * co, 1, kh, kw] : [co, ci, kh, kw], out);
}

function convolution(depthwise: boolean): Converter {
  return (op, b, out) => {
    const wTensor = op.inputs[1];
    const value = b.constant(wTensor);
    const wShape = value?.shape ?? wTensor.shape;
    const known = wShape !== null && wShape.every((d) => d !== null);
    let w: string;
    if (value) w = b.initializer(b.fresh(`${wTensor.op.name}/onnx`), filterValue(value, depthwise));
    else if (!depthwise) w = b.emit("Transpose", [b.input(wTensor)], `${b.valueName(wTensor)}/oihw`, [attr.ints("perm", [3, 2, 0, 1])]);
    else {
      const t = b.emit("Transpose", [b.input(wTensor)], `${b.valueName(wTensor)}/cmhw`, [attr.ints("perm", [2, 3, 0, 1])]);
      w = b.emit("Reshape", [t, b.int64s(`${op.name}/filter_shape`, [-1, 1, 0, 0])], `${b.valueName(wTensor)}/oihw`);
    }
    const kernel: [number, number] | null = known ? [wShape[0] as number, wShape[1] as number] : null;
    const strides = spatial(op, "strides", 1);
    const dilations = spatial(op, "dilations", 1);
    const attrs = [attr.ints("strides", strides), attr.ints("dilations", dilations), ...padding(op, kernel, strides, dilations)];
    if (kernel) attrs.push(attr.ints("kernel_shape", kernel));
    if (depthwise) {
      const channels = wShape?.[2] ?? null;
      if (channels === null) throw unimplemented(op, "the number of input channels of its filter is not known statically", "give the filter a static shape");
      attrs.push(attr.int("group", channels));
    }
    inNCHW(op, b, out[0], (x, y) => void b.node("Conv", [x, w], [y], attrs));
  };
}

function pool(onnxType: "MaxPool" | "AveragePool"): Converter {
  return (op, b, out) => {
    const kernel = spatial(op, "ksize", 1);
    const strides = spatial(op, "strides", 1);
    const attrs = [attr.ints("kernel_shape", kernel), attr.ints("strides", strides), ...padding(op, kernel, strides, [1, 1])];
    if (onnxType === "AveragePool") attrs.push(attr.int("count_include_pad", 0));
    inNCHW(op, b, out[0], (x, y) => void b.node(onnxType, [x], [y], attrs));
  };
}

const fusedBatchNorm: Converter = (op, b, out) => {
  if (op.attrs.is_training !== false)
    throw unimplemented(op, "the batch norm is in training mode (is_training: true)", "export an inference graph: freeze it and fold or specialize the batch norms with training false (foldflow fold)");
  const [, scale, offset, mean, variance] = op.inputs.map((t) => b.input(t));
  const eps = attr.float("epsilon", op.attrs.epsilon as number);
  inNCHW(op, b, out[0], (x, y) => void b.node("BatchNormalization", [x, scale, offset, mean, variance], [y], [eps]));
  // In inference, batch_mean / reserve_space_1 are the mean, batch_variance / reserve_space_2 the variance.
  op.outputs.slice(1).forEach((t, k) => {
    if (t.consumers().length === 0 && !b.isRequested(out[k + 1])) return;
    if (k === 4) throw unimplemented(op, "its output reserve_space_3 is used", "use only the batch norm's first four outputs");
    b.node("Identity", [k % 2 === 0 ? mean : variance], [out[k + 1]]);
  });
};

const globalBatchNorm: Converter = (op, b, out) => {
  const [, mean, variance, beta, gamma] = op.inputs.map((t) => b.input(t));
  let scale = gamma;
  if (op.attrs.scale_after_normalization !== true) {
    const c = op.inputs[1].shape?.[0] ?? null;
    if (c === null) throw unimplemented(op, "the number of channels is not known statically", "give the mean a static shape");
    scale = b.floats(`${op.name}/scale`, new Float32Array(c).fill(1), [c]);
  }
  const eps = attr.float("epsilon", op.attrs.variance_epsilon as number);
  // BatchNormWithGlobalNormalization is NHWC only.
  const y = b.fresh(`${out[0]}/nchw`);
  b.node("BatchNormalization", [b.toNCHW(b.input(op.inputs[0])), scale, beta, mean, variance], [y], [eps]);
  b.fromNCHW(y, out[0]);
};

const biasAdd: Converter = (op, b, out) => {
  const x = b.input(op.inputs[0]);
  const twin = isNCHW(op) ? undefined : b.nchwTwin(x);
  if (twin !== undefined) {
    // The NHWC input was a transposed NCHW value: add the bias as [C, 1, 1] to that value instead.
    const value = b.constant(op.inputs[1]);
    const column = value
      ? b.initializer(b.fresh(`${op.inputs[1].op.name}/nchw`), new NDArray(value.dtype, [value.size, 1, 1], value.data))
      : b.emit("Unsqueeze", [b.input(op.inputs[1]), b.int64s(`${op.name}/axes`, [1, 2])], `${op.name}/bias`);
    b.fromNCHW(b.emit("Add", [twin, column], `${out[0]}/nchw`), out[0]);
    return;
  }
  let bias = b.input(op.inputs[1]);
  if (isNCHW(op)) {
    const r = op.inputs[0].rank;
    if (r === null) throw unimplemented(op, "the rank of its input is not known statically (NCHW bias)", "give the input a static rank");
    if (r > 2) bias = b.emit("Unsqueeze", [bias, b.int64s(`${op.name}/axes`, [...Array(r - 2).keys()].map((i) => i + 1))], `${op.name}/bias`);
  }
  b.node("Add", [x, bias], [out[0]]);
};

export const NN_CONVERTERS: Record<string, Converter> = {
  Conv2D: convolution(false),
  DepthwiseConv2dNative: convolution(true),
  MaxPool: pool("MaxPool"),
  AvgPool: pool("AveragePool"),
  FusedBatchNorm: fusedBatchNorm,
  FusedBatchNormV2: fusedBatchNorm,
  FusedBatchNormV3: fusedBatchNorm,
  BatchNormWithGlobalNormalization: globalBatchNorm,
  BiasAdd: biasAdd,
  Softmax: (op, b, out) => void b.node("Softmax", [b.input(op.inputs[0])], [out[0]], [attr.int("axis", -1)]),
  LogSoftmax: (op, b, out) => void b.node("LogSoftmax", [b.input(op.inputs[0])], [out[0]], [attr.int("axis", -1)]),
};
