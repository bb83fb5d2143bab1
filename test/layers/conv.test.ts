import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as layers from "../../src/layers";
import { expectClose, randomData } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";

beforeAll(() => tfjsReady());

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

const names = (g: tf.Graph, key: string) => g.getCollection<tf.Tensor>(key).map((v) => v.op.name);

describe("tf.layers.conv2d", () => {
  it("creates conv2d/kernel [kh, kw, in, filters] and conv2d/bias; ops conv2d/Conv2D -> BiasAdd -> Relu", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 8, 8, 3], "x");
      const h = layers.conv2d(x, 4, 3, { activation: tf.nn.relu });
      return layers.conv2d(h, 2, [1, 2], { padding: "same", name: "head" });
    });
    expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(["conv2d/kernel", "conv2d/bias", "head/kernel", "head/bias"]);
    expect(g.getTensorByName("conv2d/kernel:0").shape).toEqual([3, 3, 3, 4]);
    expect(g.getTensorByName("head/kernel:0").shape).toEqual([1, 2, 4, 2]);
    expect(g.getOperationByName("conv2d/Conv2D").attrs.padding).toBe("VALID");
    expect(g.getOperationByName("head/Conv2D").attrs.padding).toBe("SAME");
    expect(g.getOperationByName("conv2d/Relu").inputs[0].op.name).toBe("conv2d/BiasAdd");
    expect(y.shape).toEqual([null, 6, 6, 2]);
  });

  for (const c of [
    { padding: "valid" as const, strides: 1, dilationRate: 1 },
    { padding: "same" as const, strides: 2, dilationRate: 1 },
    { padding: "valid" as const, strides: [2, 1], dilationRate: 1 },
    { padding: "same" as const, strides: 1, dilationRate: 2 },
  ])
    it(`matches tfjs: conv2d + bias + relu (${JSON.stringify(c)})`, () => {
      const g = new tf.Graph();
      const xs = randomData(2 * 7 * 6 * 3, 4);
      const bias = [0.1, -0.2, 0.3, 0.05];
      const layer = new layers.Conv2D(4, [3, 2], { ...c, activation: tf.nn.relu, biasInitializer: tf.initializers.constant(bias) });
      const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 7, 6, 3], "x")));
      const sess = session(g);
      const [out, k] = sess.runSync([y, layer.kernel!], { x: xs });
      const strides = typeof c.strides === "number" ? c.strides : (c.strides as [number, number]);
      const expected = tfjs.tidy(() =>
        tfjs.relu(tfjs.add(tfjs.conv2d(tfjs.tensor4d(xs, [2, 7, 6, 3]), tfjs.tensor4d(k.data as Float32Array, [3, 2, 3, 4]), strides, c.padding, "NHWC", c.dilationRate), tfjs.tensor1d(bias))),
      );
      expect(out.shape).toEqual(expected.shape);
      expect(y.shape).toEqual(expected.shape);
      expectClose(out.values(), tfjsValues(expected), 1e-4, 1e-5);
      expected.dispose();
    });

  it("channels_first gives the transposed result of channels_last with the same kernel", () => {
    const g = new tf.Graph();
    const xs = randomData(2 * 5 * 5 * 3, 6);
    const kernel = Array.from(randomData(3 * 3 * 3 * 2, 7));
    const r = g.asDefault(() => {
      const nhwc = tf.constant(xs, [2, 5, 5, 3]);
      const nchw = tf.transpose(nhwc, [0, 3, 1, 2]);
      const init = tf.initializers.constant(kernel);
      const a = layers.conv2d(nhwc, 2, 3, { kernelInitializer: init, biasInitializer: tf.initializers.constant([1, 2]), padding: "same" });
      const b = layers.conv2d(nchw, 2, 3, { kernelInitializer: init, biasInitializer: tf.initializers.constant([1, 2]), padding: "same", dataFormat: "channels_first" });
      return { a, b: tf.transpose(b, [0, 2, 3, 1]) };
    });
    expect(g.getOperationByName("conv2d_1/Conv2D").attrs.data_format).toBe("NCHW");
    expect(g.getOperationByName("conv2d_1/BiasAdd").attrs.data_format).toBe("NCHW");
    const [a, b] = session(g).runSync([r.a, r.b]);
    expectClose(b.values(), a.values(), 1e-5, 1e-6);
  });

  it("bad arguments and inputs are InvalidArgumentErrors naming the layer", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 8, 8, 3], "x");
      expect(() => layers.conv2d(x, 2, 3, { padding: "full" as "same", name: "c1" })).toThrow(/c1.*padding/);
      expect(() => layers.conv2d(x, 2, [3, 3, 3], { name: "c2" })).toThrow(/c2.*kernelSize/);
      expect(() => layers.conv2d(x, 2, 3, { strides: 2, dilationRate: 2, name: "c3" })).toThrow(/c3.*dilation/);
      expect(() => layers.conv2d(x, 0, 3, { name: "c4" })).toThrow(/c4.*filters/);
      expect(() => layers.conv2d(tf.placeholder("float32", [null, 8, 8], "x3"), 2, 3, { name: "c5" })).toThrow(/c5.*rank 4/);
      expect(() => layers.conv2d(tf.placeholder("float32", [null, 8, 8, null], "xc"), 2, 3, { name: "c6" })).toThrow(/c6.*channel/);
      expect(() => layers.conv2d(x, 2, 3, { dataFormat: "NHWC" as "channels_last" })).toThrow(/dataFormat/);
      expect(() => layers.conv2d(x, 2, 3, { padding: "VALID" })).not.toThrow();
    });
  });
});

describe("tf.layers.maxPooling2d / averagePooling2d", () => {
  for (const padding of ["valid", "same"] as const)
    it(`match tfjs (${padding})`, () => {
      const g = new tf.Graph();
      const xs = randomData(2 * 7 * 5 * 3, 9);
      const r = g.asDefault(() => {
        const x = tf.placeholder("float32", [2, 7, 5, 3], "x");
        return { max: layers.maxPooling2d(x, 3, 2, { padding }), avg: layers.averagePooling2d(x, [2, 3], [2, 1], { padding }) };
      });
      expect(r.max.op.name).toBe("max_pooling2d/MaxPool");
      expect(r.avg.op.name).toBe("average_pooling2d/AvgPool");
      const [max, avg] = session(g).runSync([r.max, r.avg], { x: xs });
      const x4 = tfjs.tensor4d(xs, [2, 7, 5, 3]);
      const eMax = tfjs.maxPool(x4, 3, 2, padding);
      const eAvg = tfjs.avgPool(x4, [2, 3], [2, 1], padding);
      expect(max.shape).toEqual(eMax.shape);
      expect(avg.shape).toEqual(eAvg.shape);
      expectClose(max.values(), tfjsValues(eMax));
      expectClose(avg.values(), tfjsValues(eAvg), 1e-5, 1e-6);
      tfjs.dispose([x4, eMax, eAvg]);
    });

  it("channels_first pools over the last two axes", () => {
    const g = new tf.Graph();
    const xs = randomData(1 * 2 * 4 * 4, 3);
    const r = g.asDefault(() => {
      const nhwc = tf.constant(xs, [1, 4, 4, 2]);
      const a = layers.maxPooling2d(nhwc, 2, 2);
      const b = layers.maxPooling2d(tf.transpose(nhwc, [0, 3, 1, 2]), 2, 2, { dataFormat: "channels_first" });
      return { a, b: tf.transpose(b, [0, 2, 3, 1]) };
    });
    const [a, b] = session(g).runSync([r.a, r.b]);
    expect(b.values()).toEqual(a.values());
  });

  it("refuses inputs that are not 4-D, naming the layer", () => {
    const g = new tf.Graph();
    g.asDefault(() => expect(() => layers.maxPooling2d(tf.placeholder("float32", [null, 4], "x"), 2, 2, { name: "pool" })).toThrow(/pool.*rank 4/));
  });
});
