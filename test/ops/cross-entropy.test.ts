/**
 * ir/ops/cross-entropy.ts: SoftmaxCrossEntropyWithLogits and its sparse form through the TF1
 * builders — loss and backprop against tfjs-core on the CPU backend, other ranks and class axes,
 * bad-input errors, TF's graph names, and first- and second-order gradients.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as xent from "../../ir/ops/cross-entropy";
import { expectClose } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { checkGradients } from "../helpers/gradcheck";
import { constant, data, expectNodeError, run } from "./nn-helpers";

beforeAll(() => tfjsReady());

/** -sum(labels * logSoftmax(logits)) along the last axis, in tfjs. */
const theirLoss = (labels: tfjs.Tensor, logits: tfjs.Tensor) => tfjs.neg(tfjs.sum(tfjs.mul(labels, tfjs.logSoftmax(logits)), -1));

/** Rows of non-negative labels summing to 1. */
function distribution(shape: number[], seed: number): number[] {
  const raw = data(shape, seed, 0, 1);
  const n = shape[shape.length - 1];
  for (let r = 0; r < raw.length; r += n) {
    const sum = raw.slice(r, r + n).reduce((a, b) => a + b, 0);
    for (let j = r; j < r + n; j++) raw[j] /= sum;
  }
  return raw;
}

describe("SoftmaxCrossEntropyWithLogits", () => {
  it("loss and backprop match tfjs; the op takes the scope's name like TF", () => {
    const logits = data([4, 5], 1);
    const labels = distribution([4, 5], 2);
    const g = new tf.Graph();
    const loss = g.asDefault(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: constant(labels, [4, 5]), logits: constant(logits, [4, 5]) }));
    expect(loss.op.name).toBe("softmax_cross_entropy_with_logits");
    expect(loss.op.type).toBe("SoftmaxCrossEntropyWithLogits");
    expect(loss.shape).toEqual([4]);
    const [l, backprop] = new tf.Session({ graph: g }).runSync([loss, loss.op.outputs[1]]);
    const tl = tfjs.tensor(labels, [4, 5]);
    const tz = tfjs.tensor(logits, [4, 5]);
    expectClose(l.data, tfjsValues(theirLoss(tl, tz)), 1e-5, 1e-6);
    expectClose(backprop.data, tfjsValues(tfjs.sub(tfjs.softmax(tz), tl)), 1e-5, 1e-6);
    g.asDefault(() => {
      const again = xent.softmaxCrossEntropyWithLogitsV2({ labels: constant(labels, [4, 5]), logits: constant(logits, [4, 5]) });
      expect(again.op.name).toBe("softmax_cross_entropy_with_logits_1");
      const named = xent.softmaxCrossEntropyWithLogitsV2({ labels: tf.ndarray(labels, [4, 5]), logits: tf.ndarray(logits, [4, 5]), name: "xent" });
      expect(named.op.name).toBe("xent");
      expect(g.getOperationByName("xent/labels").type).toBe("Const");
      expect(g.getOperationByName("xent/logits").type).toBe("Const");
    });
  });

  it("is stable for large logits and one-hot labels", () => {
    const logits = [1000, 0, -1000, 50, 51, 52];
    const labels = [0, 0, 1, 1, 0, 0];
    const l = run(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: constant(labels, [2, 3]), logits: constant(logits, [2, 3]) }));
    expectClose(l.data, tfjsValues(theirLoss(tfjs.tensor(labels, [2, 3]), tfjs.tensor(logits, [2, 3]))), 1e-5, 1e-6);
    expect(l.data[0]).toBeCloseTo(2000, 3);
  });

  for (const { shape, axis } of [
    { shape: [2, 3, 4], axis: -1 },
    { shape: [2, 3, 4], axis: 1 },
    { shape: [3, 2], axis: 0 },
    { shape: [5], axis: -1 },
    { shape: [2, 1, 3], axis: 2 },
  ])
    it(`rank ${shape.length} axis ${axis}: reshaped (and transposed) around the rank-2 op`, () => {
      const a = axis < 0 ? axis + shape.length : axis;
      const perm = shape.map((_, i) => i);
      [perm[a], perm[shape.length - 1]] = [shape.length - 1, a];
      const moved = perm.map((p) => shape[p]);
      const labelsMoved = distribution(moved, 3);
      const logits = data(shape, 4);
      const labels = tfjsValues(tfjs.transpose(tfjs.tensor(labelsMoved, moved), perm));
      const l = run(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: constant(labels, shape), logits: constant(logits, shape), axis }));
      const expected = theirLoss(tfjs.tensor(labelsMoved, moved), tfjs.transpose(tfjs.tensor(logits, shape), perm));
      expect(l.shape).toEqual(shape.filter((_, i) => i !== a));
      expectClose(l.data, tfjsValues(expected), 1e-5, 1e-6);
    });

  it("unknown dims: batch and classes fed at run time", () => {
    const logits = data([3, 4], 5);
    const labels = distribution([3, 4], 6);
    const g = new tf.Graph();
    const [l2, l3] = g.asDefault(() => {
      const z = tf.placeholder("float32", [null, 4], "z");
      const y = tf.placeholder("float32", [null, 4], "y");
      const z3 = tf.placeholder("float32", [1, null, null], "z3");
      const y3 = tf.placeholder("float32", [1, null, null], "y3");
      return [xent.softmaxCrossEntropyWithLogitsV2({ labels: y, logits: z }), xent.softmaxCrossEntropyWithLogitsV2({ labels: y3, logits: z3 })];
    });
    expect(l2.shape).toEqual([null]);
    // TF would set_shape([1, ?]) on the reshaped loss; foldflow's Reshape over a Shape slice knows less.
    expect(l3.shape).toEqual([null, null]);
    const [a, b] = new tf.Session({ graph: g }).runSync([l2, l3], { z: tf.ndarray(logits, [3, 4]), y: tf.ndarray(labels, [3, 4]), z3: tf.ndarray(logits, [1, 3, 4]), y3: tf.ndarray(labels, [1, 3, 4]) });
    const expected = tfjsValues(theirLoss(tfjs.tensor(labels, [3, 4]), tfjs.tensor(logits, [3, 4])));
    expectClose(a.data, expected, 1e-5, 1e-6);
    expect(b.shape).toEqual([1, 3]);
    expectClose(b.data, expected, 1e-5, 1e-6);
  });

  it("bad inputs name the node", () => {
    new tf.Graph().asDefault(() => {
      const z = tf.placeholder("float32", [2, 3]);
      expectNodeError(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: tf.placeholder("float32", [2, 4]), logits: z }), "softmax_cross_entropy_with_logits", /same shape/);
      expectNodeError(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: tf.constant(1), logits: tf.constant(2), name: "s" }), "s", /scalars/);
      expectNodeError(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: z, logits: z, axis: 2, name: "ax" }), "ax", /axis 2 is out of range/);
      expectNodeError(() => xent.softmaxCrossEntropyWithLogitsV2({ labels: tf.placeholder("int32", [2, 3], "int_labels"), logits: z }), "int_labels:0", /expected float32, received int32/);
      const raw = (inputs: tf.Tensor[], name: string) => tf.getDefaultGraph().addOp({ type: "SoftmaxCrossEntropyWithLogits", inputs, name });
      expectNodeError(() => raw([tf.placeholder("float32", [2, 3, 4]), tf.placeholder("float32", [2, 3, 4])], "rank3"), "rank3", /matrix \[batch, classes\]/);
    });
  });

  it("gradients for logits and labels match tfjs", () => {
    const logits = data([3, 4], 7);
    const labels = distribution([3, 4], 8);
    const dy = data([3], 9);
    const [gz, gy] = run(() => {
      const z = constant(logits, [3, 4]);
      const y = constant(labels, [3, 4]);
      return tf.gradients(xent.softmaxCrossEntropyWithLogitsV2({ labels: y, logits: z }), [z, y], constant(dy, [3])) as tf.Tensor[];
    });
    const [wz, wy] = tfjs.grads((z: tfjs.Tensor, y: tfjs.Tensor) => theirLoss(y, z))([tfjs.tensor(logits, [3, 4]), tfjs.tensor(labels, [3, 4])], tfjs.tensor(dy, [3]));
    expectClose(gz.data, tfjsValues(wz), 1e-5, 1e-6);
    expectClose(gy.data, tfjsValues(wy), 1e-5, 1e-6);
  });

  // The labels are distributions along the class axis: TF's backprop (softmax - labels) assumes it.
  for (const { shape, axis } of [{ shape: [3, 4], axis: -1 }, { shape: [2, 3, 2], axis: 1 }])
    it(`gradients ${JSON.stringify(shape)} axis ${axis} against finite differences`, () => {
      const perm = axis === 1 ? [0, 2, 1] : [0, 1];
      const moved = perm.map((p) => shape[p]);
      const labels = tfjsValues(tfjs.transpose(tfjs.tensor(distribution(moved, 11), moved), perm));
      checkGradients(() => {
        const z = tf.placeholder("float32", shape, "z");
        const y = tf.placeholder("float32", shape, "y");
        return { y: xent.softmaxCrossEntropyWithLogitsV2({ labels: y, logits: z, axis }), xs: [z, y] };
      }, { z: data(shape, 10), y: labels });
    });

  it("second order: the gradient of the logits gradient, against finite differences", () => {
    checkGradients(() => {
      const z = tf.placeholder("float32", [2, 3], "z");
      const y = tf.placeholder("float32", [2, 3], "y");
      const [gz] = tf.gradients(xent.softmaxCrossEntropyWithLogitsV2({ labels: y, logits: z }), [z]);
      return { y: gz!, xs: [z, y] };
    }, { z: data([2, 3], 12), y: distribution([2, 3], 13) });
  });
});

// ---------------------------------------------------------------------------------------------

describe("SparseSoftmaxCrossEntropyWithLogits", () => {
  const oneHot = (labels: number[], classes: number) => tfjs.cast(tfjs.oneHot(tfjs.tensor1d(labels, "int32"), classes), "float32");

  it("loss and backprop match tfjs; op named like TF", () => {
    const logits = data([4, 3], 14);
    const labels = [2, 0, 1, 2];
    const g = new tf.Graph();
    const loss = g.asDefault(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels, logits: constant(logits, [4, 3]) }));
    expect(loss.op.name).toBe("SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits");
    expect(loss.op.inputs[1].dtype).toBe("int32");
    expect(loss.shape).toEqual([4]);
    const [l, backprop] = new tf.Session({ graph: g }).runSync([loss, loss.op.outputs[1]]);
    const tz = tfjs.tensor(logits, [4, 3]);
    expectClose(l.data, tfjsValues(theirLoss(oneHot(labels, 3), tz)), 1e-5, 1e-6);
    expectClose(backprop.data, tfjsValues(tfjs.sub(tfjs.softmax(tz), oneHot(labels, 3))), 1e-5, 1e-6);
  });

  it("rank 3 logits with rank 2 labels, and unknown batch dims", () => {
    const logits = data([2, 2, 3], 15);
    const labels = [0, 2, 1, 1];
    const expected = tfjsValues(theirLoss(oneHot(labels, 3), tfjs.tensor(logits, [4, 3])));
    const l = run(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.constant([[0, 2], [1, 1]], [2, 2], "int32"), logits: constant(logits, [2, 2, 3]) }));
    expect(l.shape).toEqual([2, 2]);
    expectClose(l.data, expected, 1e-5, 1e-6);
    const g = new tf.Graph();
    const loss = g.asDefault(() =>
      xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [null, null], "y"), logits: tf.placeholder("float32", [null, null, null], "z") }),
    );
    expect(loss.shape).toEqual([null, null]);
    const out = new tf.Session({ graph: g }).runSync(loss, { y: tf.ndarray(Int32Array.from(labels), [2, 2]), z: tf.ndarray(logits, [2, 2, 3]) });
    expect(out.shape).toEqual([2, 2]);
    expectClose(out.data, expected, 1e-5, 1e-6);
  });

  it("a label out of range fails at run time, naming the node", () => {
    for (const bad of [3, -1]) {
      const g = new tf.Graph();
      const loss = g.asDefault(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [2], "y"), logits: constant(data([2, 3], 1), [2, 3]), name: "xe" }));
      expect(() => new tf.Session({ graph: g }).runSync(loss, { y: tf.ndarray(Int32Array.of(0, bad), [2]) })).toThrow(
        new RegExp(`^xe/SparseSoftmaxCrossEntropyWithLogits: received a label value of ${bad} which is outside the valid range of \\[0, 3\\)`),
      );
    }
  });

  it("bad inputs name the node", () => {
    new tf.Graph().asDefault(() => {
      const z = tf.placeholder("float32", [2, 3]);
      expectNodeError(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [2, 3]), logits: z }), "SparseSoftmaxCrossEntropyWithLogits", /rank of labels/);
      expectNodeError(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: [0, 1, 2], logits: z, name: "n" }), "n", /shape of labels/);
      expectNodeError(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("float32", [2]), logits: z, name: "f" }), "f/SparseSoftmaxCrossEntropyWithLogits", /labels .* must be int32/);
      expectNodeError(() => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.constant(1, [], "int32"), logits: tf.constant(1), name: "s" }), "s", /scalars/);
      expectNodeError(
        () => xent.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [3]), logits: tf.placeholder("float32", [2, null]), name: "b" }),
        "b/SparseSoftmaxCrossEntropyWithLogits",
        /same first dimension/,
      );
    });
  });

  it("logits gradient matches tfjs and labels get none", () => {
    const logits = data([3, 4], 16);
    const labels = [3, 0, 1];
    const dy = data([3], 17);
    new tf.Graph().asDefault(() => {
      const y = tf.placeholder("int32", [3]);
      const z = tf.placeholder("float32", [3, 4]);
      expect(() => tf.gradients(xent.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits: z }), [y])).toThrow(tf.errors.InvalidArgumentError);
    });
    const [gz] = run(() => {
      const z = constant(logits, [3, 4]);
      return tf.gradients(xent.sparseSoftmaxCrossEntropyWithLogits({ labels, logits: z }), [z], constant(dy, [3])) as tf.Tensor[];
    });
    const want = tfjs.grad((z: tfjs.Tensor) => theirLoss(oneHot(labels, 4), z))(tfjs.tensor(logits, [3, 4]), tfjs.tensor(dy, [3]));
    expectClose(gz.data, tfjsValues(want), 1e-5, 1e-6);
  });

  it("first and second order against finite differences", () => {
    const build = (order: 1 | 2) => () => {
      const z = tf.placeholder("float32", [3, 4], "z");
      const loss = xent.sparseSoftmaxCrossEntropyWithLogits({ labels: [1, 3, 0], logits: z });
      return { y: order === 1 ? loss : tf.gradients(loss, [z])[0]!, xs: [z] };
    };
    checkGradients(build(1), { z: data([3, 4], 18) });
    checkGradients(build(2), { z: data([3, 4], 19) });
  });
});
