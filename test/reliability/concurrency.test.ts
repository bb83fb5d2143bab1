import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { RunQueue } from "../../src/runtime/run-queue";
import { randomData } from "../helpers/run";

function fresh<T>(fn: () => T): { g: tf.Graph; r: T } {
  const g = new tf.Graph();
  return { g, r: g.asDefault(fn) };
}

function counterGraph() {
  return fresh(() => {
    const counter = tf.getVariable("counter", [], { initializer: tf.initializers.zeros() });
    const inc = tf.assignAdd(counter, 1);
    // A read ordered after the increment, and a value computed from it.
    const read = tf.controlDependencies([inc], () => tf.identity(counter, "read"));
    const scaled = tf.mul(read, 10, "scaled");
    return { counter, inc, read, scaled };
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe("concurrent sess.run", () => {
  for (const backend of ["interpreter", "js"] as const) {
    it(`50 concurrent counter runs give the sequential results (${backend})`, async () => {
      const N = 50;
      const sequential = counterGraph();
      const seqSess = new tf.Session({ graph: sequential.g, backend });
      await seqSess.run(sequential.g.asDefault(() => tf.globalVariablesInitializer()));
      const expected: number[][] = [];
      for (let i = 0; i < N; i++) {
        const [read, scaled] = await seqSess.run([sequential.r.read, sequential.r.scaled]);
        expected.push([read.scalar(), scaled.scalar()]);
      }

      const { g, r } = counterGraph();
      const sess = new tf.Session({ graph: g, backend });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const results = await Promise.all(Array.from({ length: N }, () => sess.run([r.read, r.scaled])));
      const got = results.map(([read, scaled]) => [read.scalar(), scaled.scalar()]);
      expect(got).toEqual(expected);
      // Each run saw its own increment: the reads are 1..50, all different.
      expect(new Set(got.map(([read]) => read)).size).toBe(N);
      expect((await sess.run(r.counter)).scalar()).toBe(N);
      // The fetched arrays are the runs' own: later runs did not overwrite them.
      expect(results[0][0].scalar()).toBe(expected[0][0]);
    });
  }

  it("concurrent inference runs with different feeds get their own outputs", async () => {
    const build = () => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const w = tf.constant(Array.from(randomData(12, 4)), [3, 4], "float32");
      return tf.nn.relu(tf.matmul(x, w), "y");
    };
    const { g, r } = fresh(build);
    const feeds = Array.from({ length: 20 }, (_, i) => randomData(3 * (1 + (i % 4)), 100 + i));
    // Each feed alone, in a session of its own.
    const alone = feeds.map((x) => {
      const other = fresh(build);
      return new tf.Session({ graph: other.g }).runSync(other.r, { x }).values();
    });
    const sess = new tf.Session({ graph: g });
    const together = await Promise.all(feeds.map((x) => sess.run(r, { x })));
    expect(together.map((a) => a.values())).toEqual(alone);
    expect(together.map((a) => a.shape[0])).toEqual(feeds.map((x) => x.length / 3));
  });

  it("keeps call order between un-awaited runs and runSync", async () => {
    const { g, r } = counterGraph();
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    const first = sess.run(r.read);
    const second = sess.runSync(r.read);
    const third = sess.run(r.read);
    expect([(await first).scalar(), second.scalar(), (await third).scalar()]).toEqual([1, 2, 3]);
  });

  it("a failing run rejects its own promise and the others still run", async () => {
    const { g, r } = fresh(() => ({ x: tf.placeholder("float32", [2], "x"), y: tf.mul(tf.placeholder("float32", [2], "x2"), 2) }));
    const sess = new tf.Session({ graph: g });
    const runs = [sess.run(r.y, { x2: [1, 2] }), sess.run(r.y), sess.run(r.y, { x2: [3, 4] })];
    const settled = await Promise.allSettled(runs);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((settled[2] as PromiseFulfilledResult<tf.NDArray>).value.values()).toEqual([6, 8]);
  });
});

describe("RunQueue", () => {
  it("runs asynchronous tasks one at a time, in call order", async () => {
    const queue = new RunQueue();
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const task = (id: number, ms: number) => async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${id}`);
      await sleep(ms);
      log.push(`end ${id}`);
      active--;
      return id;
    };
    // Later tasks are shorter: without the queue they would finish first.
    const results = await Promise.all([30, 20, 10, 0].map((ms, id) => queue.run(task(id, ms))));
    expect(results).toEqual([0, 1, 2, 3]);
    expect(maxActive).toBe(1);
    expect(log).toEqual(["start 0", "end 0", "start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
    expect(queue.busy).toBe(false);
  });

  it("runs a task at once when idle, and goes on after a failure", async () => {
    const queue = new RunQueue();
    let ran = false;
    const p = queue.run(() => {
      ran = true;
      return 1;
    });
    expect(ran).toBe(true);
    expect(queue.busy).toBe(false);
    const failing = queue.run(async () => {
      await sleep(5);
      throw new Error("boom");
    });
    expect(queue.busy).toBe(true);
    const after = queue.run(() => 3);
    await expect(failing).rejects.toThrow("boom");
    expect(await after).toBe(3);
    expect(await p).toBe(1);
    await sleep(0);
    expect(queue.busy).toBe(false);
  });
});
