/**
 * Random conv / depthwise / matmul + batch-norm chains for the batch-norm folding fuzzer: one
 * or two layers, each a producer (any data format, kernel size, stride, padding, channel
 * multiplier), an optional bias (BiasAdd or Add), then a batch norm in one of its forms
 * (FusedBatchNorm V1/V2/V3, BatchNormWithGlobalNormalization, tf.nn.batchNormalization).
 * Some chains carry what must stop the fold: an activation between producer and batch norm,
 * another consumer of the producer, parameters in variables, a batch norm in training mode.
 */
import fc from "fast-check";
import * as tf from "foldflow";
import { apply } from "../../ir/ops/build";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { biasAdd } from "../../ir/ops/nn";
import { randomData } from "../helpers/run";

const PRODUCERS = ["conv", "depthwise", "matmul"] as const;
const FORMS = ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization", "batchNormalization"] as const;
/** What stands in the fold's way (none: it must fold). */
const OBSTACLES = ["none", "none", "none", "activation", "consumer", "variables", "training"] as const;

export interface LayerRecipe {
  producer: (typeof PRODUCERS)[number];
  transposeB: boolean;
  kernel: number;
  stride: number;
  same: boolean;
  multiplier: number;
  channels: number;
  bias: "none" | "BiasAdd" | "Add";
  form: (typeof FORMS)[number];
  epsilon: number;
  obstacle: (typeof OBSTACLES)[number];
  seed: number;
}

export interface BnRecipe {
  nchw: boolean;
  batch: number;
  spatial: number;
  inChannels: number;
  layers: LayerRecipe[];
}

const layer: fc.Arbitrary<LayerRecipe> = fc.record({
  producer: fc.constantFrom(...PRODUCERS),
  transposeB: fc.boolean(),
  kernel: fc.integer({ min: 1, max: 3 }),
  stride: fc.integer({ min: 1, max: 2 }),
  same: fc.boolean(),
  multiplier: fc.integer({ min: 1, max: 2 }),
  channels: fc.integer({ min: 1, max: 4 }),
  bias: fc.constantFrom("none", "BiasAdd", "Add"),
  form: fc.constantFrom(...FORMS),
  epsilon: fc.constantFrom(1e-3, 1.001e-5, 0.1),
  obstacle: fc.constantFrom(...OBSTACLES),
  seed: fc.integer({ min: 1, max: 1e6 }),
});

export const bnRecipe: fc.Arbitrary<BnRecipe> = fc.record({
  nchw: fc.boolean(),
  batch: fc.integer({ min: 1, max: 3 }),
  spatial: fc.integer({ min: 1, max: 5 }),
  inChannels: fc.integer({ min: 1, max: 3 }),
  layers: fc.array(layer, { minLength: 1, maxLength: 2 }),
});

export interface BuiltChain {
  graph: tf.Graph;
  outputs: string[];
  feeds: Record<string, tf.NDArray>;
  /** Names of the batch norms that must fold (no obstacle), and of those that must not. */
  mustFold: string[];
  mustNotFold: string[];
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Builds the chain; layers after a matmul or after the first are matmuls when the rank is 2. */
export function buildChain(recipe: BnRecipe): BuiltChain {
  const graph = new tf.Graph();
  let seed = 1;
  const values = (shape: number[], lo: number, hi: number, s: number) => tf.ndarray(randomData(size(shape), s * 31 + seed++, lo, hi), shape);
  const mustFold: string[] = [];
  const mustNotFold: string[] = [];
  const outputs: string[] = [];
  const format = recipe.nchw ? "NCHW" : "NHWC";
  const rank4 = recipe.layers[0].producer !== "matmul";
  const inShape = rank4 ? (recipe.nchw ? [recipe.batch, recipe.inChannels, recipe.spatial, recipe.spatial] : [recipe.batch, recipe.spatial, recipe.spatial, recipe.inChannels]) : [recipe.batch, recipe.inChannels * recipe.spatial];
  const feeds = { x: values(inShape, -2, 2, 1) };
  graph.asDefault(() => {
    let h = tf.placeholder("float32", [null, ...inShape.slice(1)], "x");
    recipe.layers.forEach((l, i) => {
      const scope = `layer${i}`;
      const shape = h.shape as number[];
      const channelAxis = rank4 ? (recipe.nchw ? 1 : 3) : 1;
      const inC = shape[channelAxis];
      const param = (what: string, lo: number, hi: number, n: number) => {
        const p = values([n], lo, hi, l.seed);
        return l.obstacle === "variables" ? new tf.Variable(p, { name: `${scope}/${what}` }) : tf.constant(p, [n], "float32", `${scope}/${what}`);
      };
      let y: tf.Tensor;
      let channels: number;
      if (!rank4) {
        channels = l.channels;
        const w = tf.constant(values(l.transposeB ? [channels, inC] : [inC, channels], -1, 1, l.seed), undefined, "float32", `${scope}/w`);
        y = tf.matmul(h, w, { transposeB: l.transposeB, name: `${scope}/producer` });
      } else {
        const spatial = recipe.nchw ? shape[2] : shape[1];
        const kernel = l.same ? l.kernel : Math.min(l.kernel, spatial);
        const padding = l.same ? "SAME" : "VALID";
        if (l.producer === "depthwise") {
          channels = inC * l.multiplier;
          const w = tf.constant(values([kernel, kernel, inC, l.multiplier], -1, 1, l.seed), undefined, "float32", `${scope}/w`);
          y = tf.nn.depthwiseConv2d(h, w, l.stride, padding, { dataFormat: format, name: `${scope}/producer` });
        } else {
          channels = l.channels;
          const w = tf.constant(values([kernel, kernel, inC, channels], -1, 1, l.seed), undefined, "float32", `${scope}/w`);
          y = tf.nn.conv2d(h, w, l.stride, padding, { dataFormat: format, name: `${scope}/producer` });
        }
      }
      if (l.obstacle === "consumer") outputs.push(tf.nn.relu(y, `${scope}/side`).name);
      const perChannel = (t: tf.Tensor) => (rank4 && recipe.nchw ? tf.reshape(t, [channels, 1, 1]) : t);
      if (l.bias === "BiasAdd") y = biasAdd(y, param("bias", -1, 1, channels), rank4 ? format : "NHWC", `${scope}/bias`);
      else if (l.bias === "Add") y = tf.add(y, perChannel(param("bias", -1, 1, channels)), `${scope}/bias`);
      if (l.obstacle === "activation") y = tf.nn.relu(y, `${scope}/act`);
      const [gamma, beta, mean, variance] = [param("gamma", 0.5, 1.5, channels), param("beta", -1, 1, channels), param("mean", -1, 1, channels), param("variance", 0.2, 2, channels)];
      // Fused ops need 4-D input; the global-normalization op is NHWC only.
      const form = !rank4 ? "batchNormalization" : l.form === "BatchNormWithGlobalNormalization" && recipe.nchw ? "FusedBatchNormV3" : l.form;
      const name = `${scope}/bn`;
      let out: tf.Tensor;
      if (form === "batchNormalization") {
        out = tf.nn.batchNormalization(y, perChannel(mean), perChannel(variance), perChannel(beta), perChannel(gamma), l.epsilon, name);
      } else if (form === "BatchNormWithGlobalNormalization") {
        out = apply("BatchNormWithGlobalNormalization", [y, mean, variance, beta, gamma], { variance_epsilon: l.epsilon, scale_after_normalization: true }, name).outputs[0];
      } else {
        const version = form === "FusedBatchNorm" ? 1 : form === "FusedBatchNormV2" ? 2 : 3;
        const training = l.obstacle === "training";
        const op = fusedBatchNormOp(y, gamma, beta, training ? [] : mean, training ? [] : variance, { version, isTraining: training, epsilon: l.epsilon, dataFormat: format, name });
        out = op.outputs[0];
      }
      (l.obstacle === "none" ? mustFold : mustNotFold).push(out.op.name);
      h = out;
    });
    outputs.push(tf.identity(h, "out").name);
  });
  return { graph, outputs, feeds, mustFold, mustNotFold };
}
