/**
 * tf.train.Saver and the checkpoint file: round trips across sessions and graphs, name / dtype
 * / shape checks, corruption and truncation (DataLossError), atomic writes, maxToKeep,
 * globalStep and tf.train.latestCheckpoint.
 */
import fs from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as tf from "foldflow";
import { crc32 } from "../src/checkpoint-file";
import { randomData } from "./helpers/run";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(join(os.tmpdir(), "foldflow-saver-"));
});
afterEach(() => {
  vi.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Model {
  graph: tf.Graph;
  y: tf.Tensor;
  train: tf.Operation;
  init: tf.Operation;
}

/** y = x @ w + b, a step counter and a bool flag; `train` moves w, b and the counter. */
function buildModel(wShape = [2, 3], names = { w: "dense/kernel", b: "dense/bias" }): Model {
  const graph = new tf.Graph();
  return graph.asDefault(() => {
    const x = tf.placeholder("float32", [null, wShape[0]], "x");
    const w = tf.getVariable(names.w, wShape, { initializer: tf.initializers.randomUniform({ seed: 3 }) });
    const b = tf.getVariable(names.b, [wShape[1]], { initializer: tf.initializers.zeros() });
    const step = tf.getVariable("step", [], { dtype: "int32", initializer: tf.initializers.zeros(), trainable: false });
    tf.getVariable("flag", [2], { dtype: "bool", initializer: tf.constant([true, false]), trainable: false });
    const y = tf.add(tf.matmul(x, w), b, "y");
    const train = tf.group([tf.assignAdd(w, tf.fill([wShape[0], wShape[1]], 0.25)).op, tf.assignSub(b, tf.constant([1, 2, 3, 4].slice(0, wShape[1]))).op, tf.assignAdd(step, 1).op], "train");
    return { graph, y, train, init: tf.globalVariablesInitializer() };
  });
}

const values = (sess: tf.Session, name: string) => Array.from(sess.variableValues.get(name)!.data);
const X = [[1, -2], [0.5, 3]];

function trained(): { model: Model; sess: tf.Session } {
  const model = buildModel();
  const sess = new tf.Session({ graph: model.graph });
  sess.runSync(model.init);
  sess.runSync(model.train);
  sess.runSync(model.train);
  return { model, sess };
}

describe("Saver round trips", () => {
  it("restores every variable into a new session of the same graph", async () => {
    const { model, sess } = trained();
    const prefix = await new tf.train.Saver().save(sess, join(dir, "model"));
    expect(prefix).toBe(join(dir, "model"));
    expect(fs.existsSync(`${prefix}.ffckpt`)).toBe(true);
    const expected = sess.runSync(model.y, { x: X });
    const other = new tf.Session({ graph: model.graph });
    await new tf.train.Saver().restore(other, prefix);
    for (const name of ["dense/kernel", "dense/bias", "step", "flag"]) expect(values(other, name)).toEqual(values(sess, name));
    expect(values(other, "step")).toEqual([2]);
    expect(values(other, "flag")).toEqual([1, 0]);
    expect(other.variableValues.get("step")!.dtype).toBe("int32");
    expect(other.runSync(model.y, { x: X }).data).toEqual(expected.data);
  });

  it("restores into a different graph with the same variable names (an imported GraphDef too)", async () => {
    const { model, sess } = trained();
    const prefix = await new tf.train.Saver().save(sess, join(dir, "model"));
    // Variables created in another order, with other ops around them.
    const g = new tf.Graph();
    const out = g.asDefault(() => {
      const flag = tf.getVariable("flag", [2], { dtype: "bool", initializer: tf.constant([false, false]) });
      const b = tf.getVariable("dense/bias", [3], { initializer: tf.initializers.ones() });
      tf.getVariable("step", [], { dtype: "int32", initializer: tf.initializers.zeros() });
      const w = tf.getVariable("dense/kernel", [2, 3], { initializer: tf.initializers.ones() });
      return { sum: tf.reduceSum(tf.mul(w, 2)), b, flag };
    });
    const s2 = new tf.Session({ graph: g });
    await new tf.train.Saver().restore(s2, prefix);
    const w = values(sess, "dense/kernel");
    expect(s2.runSync(out.sum).data[0]).toBeCloseTo(2 * w.reduce((a, v) => a + v, 0), 5);
    // An imported graph has no collections: the saver takes its VariableV2 ops.
    const imported = tf.importGraphDef(model.graph.asGraphDef().toText());
    const s3 = new tf.Session({ graph: imported });
    await new tf.train.Saver().restore(s3, prefix);
    expect(s3.runSync("y:0", { x: X }).data).toEqual(sess.runSync(model.y, { x: X }).data);
  });

  it("saves under custom names with a varList object, and restores a subset", async () => {
    const { model, sess } = trained();
    const w = model.graph.getTensorByName("dense/kernel:0");
    const prefix = await new tf.train.Saver({ varList: { weights: w } }).save(sess, join(dir, "sub"));
    expect(tf.train.listVariables(prefix)).toEqual([{ name: "weights", dtype: "float32", shape: [2, 3] }]);
    expect(Array.from(tf.train.loadVariable(prefix, "weights").data)).toEqual(values(sess, "dense/kernel"));
    const other = new tf.Session({ graph: model.graph });
    await new tf.train.Saver({ varList: { weights: "dense/kernel" } }).restore(other, prefix);
    expect(values(other, "dense/kernel")).toEqual(values(sess, "dense/kernel"));
    expect(other.variableValues.has("dense/bias")).toBe(false);
  });

  it("stores little-endian values after a JSON header whose checksums match", async () => {
    const { sess } = trained();
    const prefix = await new tf.train.Saver({ varList: ["dense/bias"] }).save(sess, join(dir, "m"));
    const bytes = fs.readFileSync(`${prefix}.ffckpt`);
    expect(bytes.subarray(0, 8).toString("latin1")).toBe("FFCKPT01");
    const headerLength = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.subarray(16, 16 + headerLength).toString("utf8"));
    expect(header.variables).toHaveLength(1);
    const [entry] = header.variables;
    expect(entry).toMatchObject({ name: "dense/bias", dtype: "float32", shape: [3], offset: 0, length: 12 });
    const data = bytes.subarray(16 + headerLength);
    expect([0, 1, 2].map((i) => data.readFloatLE(i * 4))).toEqual(values(sess, "dense/bias"));
    expect(entry.crc32).toBe(crc32(data));
    // zlib's CRC-32 of "123456789" is 0xcbf43926.
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});

describe("Saver checks", () => {
  it("a shape or dtype mismatch names the variable, both shapes, and changes nothing", async () => {
    const { sess } = trained();
    const prefix = await new tf.train.Saver().save(sess, join(dir, "model"));
    const wide = buildModel([2, 4]);
    const s2 = new tf.Session({ graph: wide.graph });
    s2.runSync(wide.init);
    const before = values(s2, "step");
    const restore = new tf.train.Saver().restore(s2, prefix);
    await expect(restore).rejects.toThrowError(tf.errors.InvalidArgumentError);
    await expect(new tf.train.Saver().restore(s2, prefix)).rejects.toThrowError(/dense\/kernel: variable `dense\/kernel` does not match its value in checkpoint `.*model` \(expected float32 \[2,4\].*received float32 \[2,3\]/);
    expect(values(s2, "step")).toEqual(before);
    const g = new tf.Graph();
    g.asDefault(() => tf.getVariable("step", [], { dtype: "float32", initializer: tf.initializers.zeros() }));
    await expect(new tf.train.Saver().restore(new tf.Session({ graph: g }), prefix)).rejects.toThrowError(/step: .*expected float32 \[\].*received int32 \[\]/);
  });

  it("a variable missing from the checkpoint is a NotFoundError with the closest saved name", async () => {
    const { sess } = trained();
    const prefix = await new tf.train.Saver().save(sess, join(dir, "model"));
    const other = buildModel([2, 3], { w: "dense/kernal", b: "dense/bias" });
    const restore = new tf.train.Saver().restore(new tf.Session({ graph: other.graph }), prefix);
    await expect(restore).rejects.toThrowError(tf.errors.NotFoundError);
    await expect(new tf.train.Saver().restore(new tf.Session({ graph: other.graph }), prefix)).rejects.toThrowError(/`dense\/kernal` is not in checkpoint.*did you mean `dense\/kernel`/);
    await expect(new tf.train.Saver().restore(sess, join(dir, "modle"))).rejects.toThrowError(/checkpoint `.*modle` not found.*did you mean `.*model`/);
  });

  it("refuses to save an uninitialized variable, and a graph without variables", async () => {
    const model = buildModel();
    await expect(new tf.train.Saver().save(new tf.Session({ graph: model.graph }), join(dir, "m"))).rejects.toThrowError(tf.errors.FailedPreconditionError);
    await expect(new tf.train.Saver().save(new tf.Session({ graph: new tf.Graph() }), join(dir, "m"))).rejects.toThrowError(/no variables to save/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe("damaged checkpoints are a DataLossError", () => {
  async function saved(): Promise<{ file: string; prefix: string; sess: tf.Session }> {
    const { sess } = trained();
    const prefix = await new tf.train.Saver().save(sess, join(dir, "model"));
    return { file: `${prefix}.ffckpt`, prefix, sess };
  }
  const restoreInto = (sess: tf.Session, prefix: string) => new tf.train.Saver().restore(sess, prefix);

  it("a truncated file, cut in its data or in its header", async () => {
    const { file, prefix, sess } = await saved();
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 5));
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(tf.errors.DataLossError);
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(/is truncated: \d+ bytes of \d+/);
    fs.writeFileSync(file, bytes.subarray(0, 40));
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(/is truncated: its header needs/);
    fs.writeFileSync(file, bytes.subarray(0, 5));
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(/is truncated/);
  });

  it("a flipped data byte names the variable; a flipped header byte and a foreign file are caught", async () => {
    const { file, prefix, sess } = await saved();
    const bytes = fs.readFileSync(file);
    const data = Buffer.from(bytes);
    data[data.length - 2] ^= 0x40; // in the last variable's values
    fs.writeFileSync(file, data);
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(tf.errors.DataLossError);
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(/has corrupted data for variable `\w+`/);
    const header = Buffer.from(bytes);
    header[20] ^= 0x01;
    fs.writeFileSync(file, header);
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(/corrupted header/);
    fs.writeFileSync(file, Buffer.from("model_checkpoint_path: \"x\"\n"));
    await expect(restoreInto(sess, prefix)).rejects.toThrowError(/is not a foldflow checkpoint/);
  });
});

describe("atomic writes, maxToKeep, globalStep and latestCheckpoint", () => {
  it("a write that fails midway leaves the earlier checkpoint and index intact, and no temporary file", async () => {
    const { model, sess } = trained();
    const saver = new tf.train.Saver();
    const prefix = await saver.save(sess, join(dir, "model"));
    const before = fs.readFileSync(`${prefix}.ffckpt`);
    const index = fs.readFileSync(join(dir, "checkpoint"), "utf8");
    sess.runSync(model.train);
    const realWrite = fs.writeSync;
    let calls = 0;
    vi.spyOn(fs, "writeSync").mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
      if (++calls === 2) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      return (realWrite as (...a: Parameters<typeof fs.writeSync>) => number)(...args);
    }) as typeof fs.writeSync);
    await expect(saver.save(sess, join(dir, "model"))).rejects.toThrowError(/ENOSPC/);
    expect(calls).toBe(2); // the header went out, the first variable's data failed
    vi.restoreAllMocks();
    expect(fs.readFileSync(`${prefix}.ffckpt`).equals(before)).toBe(true);
    expect(fs.readFileSync(join(dir, "checkpoint"), "utf8")).toBe(index);
    expect(fs.readdirSync(dir).sort()).toEqual(["checkpoint", "model.ffckpt"]);
    const other = new tf.Session({ graph: model.graph });
    await saver.restore(other, prefix);
    expect(values(other, "step")).toEqual([2]);
  });

  it("appends the global step, keeps maxToKeep checkpoints, and latestCheckpoint finds the newest", async () => {
    const { model, sess } = trained();
    expect(tf.train.latestCheckpoint(dir)).toBeNull();
    const saver = new tf.train.Saver({ maxToKeep: 2 });
    const step = model.graph.getTensorByName("step:0");
    const prefixes: string[] = [];
    for (let i = 0; i < 4; i++) {
      prefixes.push(await saver.save(sess, join(dir, "model"), { globalStep: step }));
      sess.runSync(model.train);
    }
    expect(prefixes.map((p) => p.slice(dir.length + 1))).toEqual(["model-2", "model-3", "model-4", "model-5"]);
    expect(fs.readdirSync(dir).sort()).toEqual(["checkpoint", "model-4.ffckpt", "model-5.ffckpt"]);
    expect(saver.lastCheckpoints).toEqual(prefixes.slice(2));
    expect(fs.readFileSync(join(dir, "checkpoint"), "utf8")).toBe(
      'model_checkpoint_path: "model-5"\nall_model_checkpoint_paths: "model-4"\nall_model_checkpoint_paths: "model-5"\n',
    );
    expect(tf.train.latestCheckpoint(dir)).toBe(join(dir, "model-5"));
    const other = new tf.Session({ graph: model.graph });
    await saver.restore(other, tf.train.latestCheckpoint(dir)!);
    expect(values(other, "step")).toEqual([5]);
    expect(await new tf.train.Saver({ maxToKeep: 0 }).save(sess, join(dir, "sub", "m"), { globalStep: 7 })).toBe(join(dir, "sub", "m-7"));
    expect(tf.train.latestCheckpoint(join(dir, "sub"))).toBe(join(dir, "sub", "m-7"));
  });

  it("restores values bit for bit (float32 extremes, negative zero, NaN)", async () => {
    const g = new tf.Graph();
    const special = Float32Array.of(-0, NaN, Infinity, -Infinity, 3.4028234663852886e38, 1.401298464324817e-45, ...randomData(4, 9));
    const init = g.asDefault(() => {
      tf.getVariable("v", [10], { initializer: tf.constant(tf.ndarray(special, [10])) });
      return tf.globalVariablesInitializer();
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(init);
    const prefix = await new tf.train.Saver().save(sess, join(dir, "v"));
    const other = new tf.Session({ graph: g });
    await new tf.train.Saver().restore(other, `${prefix}.ffckpt`);
    const restored = other.variableValues.get("v")!.data as Float32Array;
    expect(new Uint8Array(restored.buffer, restored.byteOffset, 40)).toEqual(new Uint8Array(special.buffer));
  });
});
