import { describe, expect, it } from "vitest";
import * as tf from "foldflow";

describe("names, scopes, collections", () => {
  it("uniquifies op names and name scopes like TF", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(tf.constant(1, [], "float32", "dense").op.name).toBe("dense");
      expect(tf.constant(1, [], "float32", "dense").op.name).toBe("dense_1");
      expect(tf.constant(1, [], "float32", "dense").op.name).toBe("dense_2");
      tf.nameScope("block1", () => {
        expect(tf.constant(1).op.name).toBe("block1/Const");
        tf.nameScope("inner", () => expect(tf.constant(1).op.name).toBe("block1/inner/Const"));
      });
      tf.nameScope("block1", () => expect(tf.constant(1).op.name).toBe("block1_1/Const"));
      tf.nameScope("block1/", () => expect(tf.constant(1).op.name).toBe("block1/Const_1"));
      expect(tf.constant(1).name).toBe("Const:0");
    });
  });

  it("variable scopes name variables, honour reuse and AUTO_REUSE", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = tf.variableScope("enc", () => tf.getVariable("w", [2]));
      expect(w.name).toBe("enc/w:0");
      expect(() => tf.variableScope("enc", () => tf.getVariable("w", [2]))).toThrow(tf.errors.AlreadyExistsError);
      const again = tf.variableScope("enc", { reuse: true }, () => tf.getVariable("w", [2]));
      expect(again).toBe(w);
      expect(() => tf.variableScope("enc", { reuse: true }, () => tf.getVariable("v", [2]))).toThrow(/does not exist/);
      const auto1 = tf.variableScope("dec", { reuse: tf.AUTO_REUSE }, () => tf.getVariable("k", [3]));
      const auto2 = tf.variableScope("dec", { reuse: tf.AUTO_REUSE }, () => tf.getVariable("k", [3]));
      expect(auto2).toBe(auto1);
      expect(() => tf.variableScope("dec", { reuse: tf.AUTO_REUSE }, () => tf.getVariable("k", [4]))).toThrow(/another shape/);
      // The name scope of a re-entered variable scope is uniquified, the variable names are not.
      const op = tf.variableScope("enc", { reuse: true }, () => tf.constant(1));
      expect(op.op.name).toMatch(/^enc_\d+\/Const$/);
    });
  });

  it("collections: variables, trainable flags, custom keys", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.getVariable("a", [1]);
      const b = tf.getVariable("b", [1], { trainable: false });
      expect(tf.getCollection(tf.GraphKeys.GLOBAL_VARIABLES)).toEqual([a, b]);
      expect(tf.getCollection(tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual([a]);
      tf.addToCollection("mine", a);
      expect(tf.getCollection("mine")).toEqual([a]);
      expect(tf.getCollection("nothing")).toEqual([]);
      expect(g.getTensorByName("a:0")).toBe(a);
      expect(g.getOperationByName("b")).toBe(b.op);
    });
  });

  it("variables created inside control dependencies or a cond do not inherit them", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const gate = tf.noOp("gate");
      const v = tf.controlDependencies([gate], () => tf.getVariable("v", [1]));
      expect(v.op.controlInputs).toEqual([]);
      expect(v.initializer.controlInputs).toEqual([]);
    });
  });

  it("tensors report name, dtype and static shape", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 784], "x");
      expect(x.name).toBe("x:0");
      expect(x.dtype).toBe("float32");
      expect(x.shape).toEqual([null, 784]);
      const y = tf.add(x, tf.constant(new Float32Array(784), [784]));
      expect(y.shape).toEqual([null, 784]);
      expect(() => tf.add(x, tf.constant(new Float32Array(3), [3]))).toThrow(/cannot be broadcast/);
    });
  });

  it("the default graph can be reset", () => {
    tf.resetDefaultGraph();
    const before = tf.getDefaultGraph();
    tf.constant(1);
    tf.resetDefaultGraph();
    expect(tf.getDefaultGraph()).not.toBe(before);
    expect(tf.getDefaultGraph().operations.length).toBe(0);
  });
});
