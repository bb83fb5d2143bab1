/**
 * Intra-op parallelism, the thread side: a pool of worker_threads, each with every parallel
 * program's module instantiated over the program's shared memory. A run stays synchronous: the
 * main thread hands each worker one part of a split op through a control block of Int32s in a
 * SharedArrayBuffer (Atomics.store / notify), runs its own part, and waits (Atomics.wait) until
 * every worker has counted its part done. Workers block in Atomics.wait between parts; to give a
 * worker a new module, the main thread tells it to return to its event loop, posts the module
 * and the memory, and waits for its acknowledgement. Commands are numbered (SEQ): the main thread
 * issues one at a time per worker and waits for it to complete, so none is missed. Workers are
 * unref'd: they never keep the process alive.
 */
import { Worker } from "node:worker_threads";
import { InternalError } from "../../../ir/diagnostics";

/** Control block slots. */
const SEQ = 0;
const CMD = 1;
const PROGRAM = 2;
const FN = 3;
const DONE = 4;
const ACK = 5;
const FAILED = 6;
const RUN = 1;
const YIELD = 2;
const SLOTS = 8;

/** A waiting main thread gives up after this long (a worker that died). */
const TIMEOUT_MS = 120_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ctrl = new Int32Array(workerData.control);
const math = { log: Math.log, tanh: Math.tanh, expm1: Math.expm1, pow: Math.pow };
const programs = [];
function ack() { Atomics.add(ctrl, ${ACK}, 1); Atomics.notify(ctrl, ${ACK}); }
let seen = 0;
function loop() {
  for (;;) {
    Atomics.wait(ctrl, ${SEQ}, seen);
    if (Atomics.load(ctrl, ${SEQ}) === seen) continue;
    seen++;
    if (Atomics.load(ctrl, ${CMD}) === ${YIELD}) { ack(); return; }
    try { programs[Atomics.load(ctrl, ${PROGRAM})][Atomics.load(ctrl, ${FN})](); } catch (e) { Atomics.store(ctrl, ${FAILED}, 1); }
    Atomics.add(ctrl, ${DONE}, 1);
    Atomics.notify(ctrl, ${DONE});
  }
}
parentPort.on("message", (m) => {
  if (m.release !== undefined) programs[m.release] = undefined;
  else {
    const exports = new WebAssembly.Instance(m.module, { env: { memory: m.memory }, math }).exports;
    programs[m.id] = m.names.map((n) => exports[n]);
  }
  ack();
  loop();
});
ack();
loop();
`;

interface Program {
  module: object;
  memory: object;
  functions: readonly string[];
}

interface PoolWorker {
  worker: Worker;
  ctrl: Int32Array;
  acks: number;
  done: number;
}

function waitFor(ctrl: Int32Array, slot: number, target: number, what: string): void {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const value = Atomics.load(ctrl, slot);
    if (value >= target) return;
    if (Date.now() > deadline || Atomics.wait(ctrl, slot, value, TIMEOUT_MS) === "timed-out")
      throw new InternalError({ code: "wasm-thread-timeout", message: `a wasm worker thread did not ${what} within ${TIMEOUT_MS / 1000} s`, fix: "run with intraOpParallelism: 1, and report this" });
  }
}

export class ThreadPool {
  private readonly workers: PoolWorker[] = [];
  private programs = 0;
  /** The live programs, for workers started later (null once released). */
  private readonly instantiated: (Program | null)[] = [];
  /** A program whose main-thread side was collected is dropped by the workers too. */
  private readonly registry = new FinalizationRegistry<number>((id) => this.release(id));

  /** Starts workers until there are `size` (the main thread runs one more part itself). */
  ensure(size: number): this {
    while (this.workers.length < size) {
      const control = new SharedArrayBuffer(SLOTS * 4);
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { control } });
      worker.unref();
      const w = { worker, ctrl: new Int32Array(control), acks: 0, done: 0 };
      waitFor(w.ctrl, ACK, ++w.acks, "start");
      this.workers.push(w);
      this.instantiated.forEach((p, id) => p && this.send(w, { id, module: p.module, memory: p.memory, names: p.functions }));
    }
    return this;
  }

  /** Brings the worker back to its event loop, posts `message`, and waits until it has handled it. */
  private send(w: PoolWorker, message: object): void {
    Atomics.store(w.ctrl, CMD, YIELD);
    Atomics.add(w.ctrl, SEQ, 1);
    Atomics.notify(w.ctrl, SEQ);
    waitFor(w.ctrl, ACK, ++w.acks, "return to its event loop");
    w.worker.postMessage(message);
    waitFor(w.ctrl, ACK, ++w.acks, "handle a message");
  }

  /**
   * Instantiates `module` over `memory` on every worker; returns the program's id for `run`.
   * When `owner` (the main thread's side of the program) is collected, the workers drop it.
   */
  instantiate(module: object, memory: object, functions: readonly string[], owner: object): number {
    const id = this.programs++;
    this.instantiated.push({ module, memory, functions });
    for (const w of this.workers) this.send(w, { id, module, memory, names: functions });
    this.registry.register(owner, id);
    return id;
  }

  private release(id: number): void {
    this.instantiated[id] = null;
    for (const w of this.workers) this.send(w, { release: id });
  }

  /** Runs function `parts[j + 1]` of program `id` on worker j and `main` here; returns when all are done. */
  run(id: number, parts: readonly number[], main: () => void): void {
    this.ensure(parts.length - 1);
    const used = this.workers.slice(0, parts.length - 1);
    used.forEach((w, j) => {
      Atomics.store(w.ctrl, PROGRAM, id);
      Atomics.store(w.ctrl, FN, parts[j + 1]);
      Atomics.store(w.ctrl, CMD, RUN);
      Atomics.add(w.ctrl, SEQ, 1);
      Atomics.notify(w.ctrl, SEQ);
    });
    try {
      main();
    } finally {
      for (const w of used) waitFor(w.ctrl, DONE, ++w.done, "finish its part");
    }
    if (used.some((w) => Atomics.exchange(w.ctrl, FAILED, 0) !== 0))
      throw new InternalError({ code: "wasm-thread-failed", message: "a part of a split kernel failed on a worker thread", fix: "run with intraOpParallelism: 1, and report this" });
  }

}

let shared: ThreadPool | null = null;

/**
 * The process's one pool, with at least `workers` threads. Runs are synchronous on the main
 * thread, so every session shares it; the workers keep every parallel program's instance (the
 * modules and memories of compiled plans stay alive as long as the process).
 */
export function threadPool(workers: number): ThreadPool {
  return (shared ??= new ThreadPool()).ensure(workers);
}
