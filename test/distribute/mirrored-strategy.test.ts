/**
 * tf.distribute.MirroredStrategy: splitting the batch, replica contexts and name scopes,
 * variables shared across replicas, the cross-replica all-reduce (one AllReduce op built at
 * the rendezvous), reduce / experimentalLocalResults, and the errors.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as distribute from "../../src/distribute";
import { expectClose, randomData } from "../helpers/run";

const xData = Float32Array.from({ length: 24 }, (_, i) => i - 7.5);
const rows = (from: number, to: number) => Array.from(xData.slice(from * 3, to * 3));

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
  return sess;
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("MirroredStrategy basics", () => {
  it("counts replicas from numReplicas or devices and rejects bad counts", () => {
    expect(new distribute.MirroredStrategy({ numReplicas: 4 }).numReplicasInSync).toBe(4);
    expect(new distribute.MirroredStrategy({ numReplicas: 3 }).numReplicas).toBe(3);
    expect(new distribute.MirroredStrategy({ devices: ["/gpu:0", "/gpu:1"] }).numReplicasInSync).toBe(2);
    expect(new distribute.MirroredStrategy().numReplicasInSync).toBe(1);
    for (const bad of [0, -1, 1.5])
      expect(() => new distribute.MirroredStrategy({ numReplicas: bad })).toThrow(tf.errors.InvalidArgumentError);
  });

  it("splits each tensor argument along axis 0 and returns one result per replica", () => {
    const g = new tf.Graph();
    const { out, shapes } = g.asDefault(() => {
      const x = tf.placeholder("float32", [8, 3], "x");
      const shapes: (number | null)[][] = [];
      const s = new distribute.MirroredStrategy({ numReplicas: 4 });
      const out = s.run((xs) => {
        shapes.push(xs.shape as (number | null)[]);
        return tf.mul(xs, 2);
      }, [x]);
      return { out, shapes };
    });
    expect(out).toBeInstanceOf(distribute.PerReplica);
    expect(out.values.length).toBe(4);
    expect(shapes).toEqual([[2, 3], [2, 3], [2, 3], [2, 3]]);
    const values = session(g).runSync([...out.values], { x: tf.ndarray(xData, [8, 3]) }) as tf.NDArray[];
    values.forEach((v, r) => expectClose(v.data, rows(2 * r, 2 * r + 2).map((a) => 2 * a)));
  });

  it("runs fn in a replica context with the replica's id, under name scope replica_<i> (replica 0 unprefixed)", () => {
    const g = new tf.Graph();
    const seen: { id: number; n: number; strategy: unknown; scope: string }[] = [];
    const s = new distribute.MirroredStrategy({ numReplicas: 3 });
    const out = g.asDefault(() => {
      expect(distribute.getReplicaContext()).toBeNull();
      expect(distribute.inCrossReplicaContext()).toBe(false);
      const x = tf.placeholder("float32", [3, 2], "x");
      return tf.nameScope("outer", () =>
        s.run((xs) => {
          const ctx = distribute.getReplicaContext()!;
          seen.push({ id: ctx.replicaIdInSync, n: ctx.numReplicasInSync, strategy: distribute.getStrategy(), scope: g.nameScopeValue });
          return tf.identity(xs, "y");
        }, [x]),
      );
    });
    expect(seen.map((e) => e.id).sort()).toEqual([0, 1, 2]);
    for (const e of seen) {
      expect(e.n).toBe(3);
      expect(e.strategy).toBe(s);
      expect(e.scope).toBe(e.id === 0 ? "outer" : `outer/replica_${e.id}`);
    }
    expect(out.values.map((t) => t.op.name)).toEqual(["outer/y", "outer/replica_1/y", "outer/replica_2/y"]);
    expect(distribute.getReplicaContext()).toBeNull();
    expect(g.nameScopeValue).toBe("");
  });

  it("reports a batch that does not divide into the replicas, naming the tensor", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 4 });
    const err = thrown(() => g.asDefault(() => s.run((xs) => xs, [tf.placeholder("float32", [10, 3], "images")])));
    expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(err.message).toMatch(/images:0/);
    expect(err.message).toMatch(/batch of 10.*4 equal per-replica shards/);
    expect(err.message).toMatch(/multiple of 4/);
    expect(thrown(() => g.asDefault(() => s.run((xs) => xs, [tf.constant(3, [], "float32", "scalar")]))).message).toMatch(/scalar:0/);
  });

  it("checks a batch known only at run time when the split runs", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 4 });
    const out = g.asDefault(() => s.run((xs) => tf.mul(xs, 1), [tf.placeholder("float32", [null, 3], "x")]));
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(out.values[0], { x: tf.ndarray(xData.slice(0, 15), [5, 3]) })).toThrow(/x_split: .*5 into 4 equal pieces/);
    const ok = sess.runSync(out.values[3], { x: tf.ndarray(xData, [8, 3]) }) as tf.NDArray;
    expectClose(ok.data, rows(6, 8));
  });

  it("gives PerReplica arguments to their replicas, so runs chain", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 2 });
    const out = g.asDefault(() => {
      const first = s.run((xs) => tf.reduceSum(xs, [0]), [tf.constant(xData, [8, 3])]);
      return s.run((part) => distribute.getReplicaContext()!.allReduce("SUM", part), [first]);
    });
    const values = session(g).runSync([...out.values]) as tf.NDArray[];
    const total = [0, 1, 2].map((c) => rows(0, 8).filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0));
    for (const v of values) expectClose(v.data, total, 1e-6, 1e-5);
  });
});

describe("strategy.scope", () => {
  it("makes the strategy current in cross-replica context", () => {
    const s = new distribute.MirroredStrategy({ numReplicas: 2 });
    expect(distribute.hasStrategy()).toBe(false);
    s.scope(() => {
      expect(distribute.getStrategy()).toBe(s);
      expect(distribute.inCrossReplicaContext()).toBe(true);
      expect(distribute.getReplicaContext()).toBeNull();
    });
    expect(distribute.getStrategy()).toBeNull();
  });
});

describe("variables are shared across replicas", () => {
  it("tf.getVariable inside fn creates one variable that every replica uses", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 4 });
    const vars: tf.Variable[] = [];
    g.asDefault(() =>
      s.run((xs) => {
        const w = tf.getVariable("w", [3], { initializer: tf.initializers.ones() });
        vars.push(w);
        return tf.mul(xs, w);
      }, [tf.placeholder("float32", [8, 3], "x")]),
    );
    expect(new Set(vars).size).toBe(1);
    expect(g.operations.filter((op) => op.type === "VariableV2").map((op) => op.name)).toEqual(["w"]);
    expect(tf.globalVariables(g).length).toBe(1);
  });

  it("layers created inside fn share their weights, named as without a strategy; values match one big batch", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 4 });
    const layers: tf.layers.Dense[] = [];
    const { out, whole } = g.asDefault(() => {
      const x = tf.placeholder("float32", [8, 3], "x");
      const out = s.run((xs) => {
        const layer = new tf.layers.Dense(2, { kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: tf.initializers.constant(0.5) });
        layers.push(layer);
        return layer.apply(xs);
      }, [x]);
      const whole = tf.add(tf.matmul(x, layers[0].variables[0]), layers[0].variables[1]);
      return { out, whole };
    });
    expect(g.operations.filter((op) => op.type === "VariableV2").map((op) => op.name).sort()).toEqual(["dense/bias", "dense/kernel"]);
    for (const layer of layers) expect(layer.variables).toEqual(layers[0].variables);
    const sess = session(g);
    const feed = { x: tf.ndarray(xData, [8, 3]) };
    const replicas = sess.runSync([...out.values], feed) as tf.NDArray[];
    const expected = sess.runSync(whole, feed) as tf.NDArray;
    expectClose(replicas.flatMap((r) => Array.from(r.data)), expected.data, 1e-6, 1e-6);
    expect(out.values.map((t) => t.op.name)).toEqual(["dense/BiasAdd", "replica_1/dense/BiasAdd", "replica_2/dense/BiasAdd", "replica_3/dense/BiasAdd"]);
  });

  it("a layer created before run is built once and shared", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 2 });
    g.asDefault(() => {
      tf.layers.dense(tf.placeholder("float32", [4, 3], "before"), 2);
      const shared = new tf.layers.Dense(2);
      s.run((xs) => tf.layers.dense(shared.apply(xs), 1), [tf.placeholder("float32", [4, 3], "x")]);
    });
    expect(g.operations.filter((op) => op.type === "VariableV2").map((op) => op.name).sort()).toEqual([
      "dense/bias", "dense/kernel", "dense_1/bias", "dense_1/kernel", "dense_2/bias", "dense_2/kernel",
    ]);
  });

  it("rejects a tf.Variable created by each replica", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 2 });
    const err = thrown(() => g.asDefault(() => s.run((xs) => tf.mul(xs, new tf.Variable(tf.constant([1, 2, 3]), { name: "own" })), [tf.placeholder("float32", [4, 3])])));
    expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(err.message).toMatch(/replica 0 created its own variable `own`/);
  });

  it("gradients through the replicas equal the gradients of one big batch", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 4 });
    const { distributed, single } = g.asDefault(() => {
      const x = tf.placeholder("float32", [8, 3], "x");
      const losses = s.run((xs) => {
        const w = tf.getVariable("w", [3, 2], { initializer: tf.initializers.glorotUniform({ seed: 5 }) });
        return tf.reduceSum(tf.square(tf.matmul(xs, w)));
      }, [x]);
      const w = tf.globalVariables(g)[0];
      const total = s.reduce("SUM", losses);
      return {
        distributed: tf.gradients(total, [w])[0]!,
        single: tf.gradients(tf.reduceSum(tf.square(tf.matmul(x, w))), [w])[0]!,
      };
    });
    const sess = session(g);
    const feed = { x: tf.ndarray(randomData(24, 9), [8, 3]) };
    const [a, b] = sess.runSync([distributed, single], feed) as tf.NDArray[];
    expectClose(a.data, b.data, 1e-5, 1e-6);
  });
});

describe("replicaContext.allReduce", () => {
  function build(numReplicas: number, fn: (xs: tf.Tensor, ctx: distribute.ReplicaContext) => tf.Tensor) {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas });
    const out = g.asDefault(() => s.run((xs) => fn(xs, distribute.getReplicaContext()!), [tf.constant(xData, [8, 3], "float32", "x")]));
    return { g, out, values: session(g).runSync([...out.values]) as tf.NDArray[] };
  }
  const columnSums = [0, 1, 2].map((c) => rows(0, 8).filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0));

  for (const n of [1, 2, 4])
    it(`SUM over ${n} replica(s): every replica gets the total, through one AllReduce op`, () => {
      const { g, values } = build(n, (xs, ctx) => ctx.allReduce("SUM", tf.reduceSum(xs, [0])));
      for (const v of values) expectClose(v.data, columnSums, 1e-6, 1e-5);
      const ops = g.operations.filter((op) => op.type === "AllReduce");
      expect(ops.length).toBe(1);
      expect(ops[0].inputs.length).toBe(n);
      expect(ops[0].outputs.length).toBe(n);
    });

  it("MEAN divides by the replica count", () => {
    const { values } = build(4, (xs, ctx) => ctx.allReduce("MEAN", tf.reduceSum(xs, [0])));
    for (const v of values) expectClose(v.data, columnSums.map((c) => c / 4), 1e-6, 1e-5);
  });

  it("a list of values is packed into one AllReduce op and unpacked in its shapes", () => {
    const { g, out, values } = build(4, (xs, ctx) => {
      const [sum, count, square] = ctx.allReduce("SUM", [tf.reduceSum(xs, [0]), tf.constant(2, [], "float32"), tf.reshape(tf.reduceSum(tf.square(xs)), [1, 1])]);
      return tf.concat([sum, tf.reshape(count, [1]), tf.reshape(square, [1])], 0);
    });
    expect(g.operations.filter((op) => op.type === "AllReduce").length).toBe(1);
    expect(out.values[0].shape).toEqual([5]);
    const squares = rows(0, 8).reduce((a, b) => a + b * b, 0);
    for (const v of values) expectClose(v.data, [...columnSums, 8, squares], 1e-6, 1e-4);
  });

  it("values of mixed dtypes get one AllReduce op each at the same rendezvous", () => {
    const { g, values } = build(2, (xs, ctx) => {
      const [sum, count] = ctx.allReduce("SUM", [tf.reduceSum(xs), tf.constant(Int32Array.of(3), [], "int32")]);
      return tf.add(sum, tf.cast(count, "float32"));
    });
    expect(g.operations.filter((op) => op.type === "AllReduce").length).toBe(2);
    const total = rows(0, 8).reduce((a, b) => a + b, 0) + 6;
    for (const v of values) expectClose(v.data, [total], 1e-6, 1e-5);
  });

  it("a second all-reduce in one run is reported with the fix", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 2 });
    const err = thrown(() =>
      g.asDefault(() =>
        s.run((xs) => {
          const ctx = distribute.getReplicaContext()!;
          return ctx.allReduce("SUM", ctx.allReduce("SUM", xs));
        }, [tf.placeholder("float32", [4, 3])]),
      ),
    );
    expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(err.message).toMatch(/second cross-replica all-reduce/);
    expect(err.message).toMatch(/strategy\.run\(f2, \[h\]\)/);
    // The failed run left the builder state as it found it.
    expect(g.variableScopes.length).toBe(0);
    expect(g.nameScopeValue).toBe("");
    expect(distribute.getReplicaContext()).toBeNull();
  });

  it("replicas that disagree about the all-reduce are reported", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 3 });
    const onlyOne = thrown(() =>
      g.asDefault(() =>
        s.run((xs) => {
          const ctx = distribute.getReplicaContext()!;
          return ctx.replicaIdInSync === 2 ? ctx.allReduce("SUM", xs) : xs;
        }, [tf.placeholder("float32", [3, 2])]),
      ),
    );
    expect(onlyOne.message).toMatch(/returned without the cross-replica all-reduce/);
    const shapes = thrown(() =>
      g.asDefault(() =>
        s.run((xs) => {
          const ctx = distribute.getReplicaContext()!;
          return ctx.allReduce("SUM", ctx.replicaIdInSync === 0 ? tf.reduceSum(xs) : xs);
        }, [tf.placeholder("float32", [3, 2])]),
      ),
    );
    expect(shapes.message).toMatch(/all-reduces SUM\(float32\[\]\) where another replica all-reduces SUM\(float32\[1,2\]\)/);
  });

  it("rejects a bad ReduceOp and a nested run", () => {
    const g = new tf.Graph();
    const s = new distribute.MirroredStrategy({ numReplicas: 2 });
    expect(() => g.asDefault(() => s.run((xs) => distribute.getReplicaContext()!.allReduce("PROD" as "SUM", xs), [tf.placeholder("float32", [2])]))).toThrow(/"SUM" or "MEAN"/);
    expect(() => g.asDefault(() => s.run((xs) => s.run((ys) => ys, [xs]).values[0], [tf.placeholder("float32", [2])]))).toThrow(/another strategy\.run/);
  });
});

describe("strategy.reduce and experimentalLocalResults", () => {
  const g = new tf.Graph();
  const s = new distribute.MirroredStrategy({ numReplicas: 4 });
  const per = g.asDefault(() => s.run((xs) => tf.mul(xs, 1), [tf.constant(xData, [8, 3])]));
  const sess = new tf.Session({ graph: g });
  const value = (t: tf.Tensor) => Array.from((sess.runSync(t) as tf.NDArray).data);
  const shards = [0, 1, 2, 3].map((r) => rows(2 * r, 2 * r + 2));

  it("SUM and MEAN across replicas", () => {
    const sum = shards.reduce((acc, sh) => acc.map((a, i) => a + sh[i]));
    expectClose(value(s.reduce("SUM", per)), sum, 1e-6, 1e-5);
    expectClose(value(s.reduce("MEAN", per)), sum.map((v) => v / 4), 1e-6, 1e-5);
  });

  it("along an axis too: MEAN counts every element along it", () => {
    const all = rows(0, 8);
    const colTotals = [0, 1, 2].map((c) => all.filter((_, i) => i % 3 === c).reduce((a, b) => a + b, 0));
    expectClose(value(s.reduce("SUM", per, { axis: 0 })), colTotals, 1e-6, 1e-5);
    expectClose(value(s.reduce("MEAN", per, { axis: 0 })), colTotals.map((v) => v / 8), 1e-6, 1e-5);
  });

  it("a plain tensor reduces with MEAN as itself; SUM of it is an error", () => {
    const t = g.asDefault(() => tf.constant([1, 2]));
    expect(s.reduce("MEAN", t)).toBe(t);
    expect(() => s.reduce("SUM", t)).toThrow(tf.errors.InvalidArgumentError);
  });

  it("takes tf.distribute.ReduceOp values", () => {
    expectClose(value(s.reduce(distribute.ReduceOp.MEAN, per)), value(s.reduce("MEAN", per)));
    expect(distribute.ReduceOp.SUM).toBe("SUM");
  });

  it("experimentalLocalResults lists the per-replica values", () => {
    expect(s.experimentalLocalResults(per)).toEqual([...per.values]);
    expect(s.experimentalLocalResults(per).length).toBe(4);
  });
});
