/**
 * Shared plumbing of the fuzz tests: how many cases each property tries (a few thousand in all
 * under `npm test`; FOLDFLOW_FUZZ_RUNS=100000 under `npm run fuzz`, split between the files by
 * weight), the seed (FOLDFLOW_FUZZ_SEED reproduces a run; fast-check prints it on failure),
 * the acceptance rule for a thrown value (an OpError subclass with a non-empty message, nothing
 * else), a per-case time budget, and the one-line summary each file prints.
 * FOLDFLOW_FUZZ_COLLECT=1 keeps going past crashes and prints each distinct one (by the place
 * it was thrown from) at the end, for triage; the test still fails when there was one.
 */
import * as tf from "foldflow";

/** The total number of cases asked for by FOLDFLOW_FUZZ_RUNS, or undefined for the defaults. */
const requestedTotal = (() => {
  const raw = process.env.FOLDFLOW_FUZZ_RUNS;
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`FOLDFLOW_FUZZ_RUNS must be a positive number, not ${JSON.stringify(raw)}`);
  return Math.floor(n);
})();

/** Whether this run is the long one (`npm run fuzz`). */
export const longRun = requestedTotal !== undefined;

/**
 * Cases for one property: `defaultRuns` under `npm test`; a `share` (0..1) of FOLDFLOW_FUZZ_RUNS
 * when it is set. The shares of all properties of the three files add up to 1.
 */
export function runsFor(defaultRuns: number, share: number): number {
  return requestedTotal === undefined ? defaultRuns : Math.max(1, Math.round(requestedTotal * share));
}

/** The time limit of one fuzz test: vitest's default of 60 s, or half an hour for `npm run fuzz`. */
export const fuzzTimeout = longRun ? 30 * 60_000 : 60_000;

/**
 * The fast-check seed: FOLDFLOW_FUZZ_SEED when set; a fresh one for `npm run fuzz` (printed in
 * the summary); a fixed one under `npm test`, so that CI is reproducible (a fresh seed there
 * once failed on a case the generator itself could not write).
 */
export function fuzzSeed(): number {
  const raw = process.env.FOLDFLOW_FUZZ_SEED;
  if (raw !== undefined && raw !== "") return Number(raw) | 0;
  return longRun ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : 20261124;
}

/** Keep going past crashes and list the distinct ones (FOLDFLOW_FUZZ_COLLECT=1). */
export const collectCrashes = process.env.FOLDFLOW_FUZZ_COLLECT === "1";

/** Where an error was thrown from: its type and the first stack frame outside node_modules. */
function signature(e: unknown): string {
  if (!(e instanceof Error)) return typeof e;
  const frames = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l) && !l.includes("node_modules")).slice(0, 2);
  return `${e.constructor.name}: ${e.message.slice(0, 80)} ${frames.map((f) => f.trim()).join(" < ")}`;
}

/** Why a thrown value is not an acceptable rejection, or undefined when it is one. */
export function crashReason(e: unknown): string | undefined {
  if (!(e instanceof tf.errors.OpError)) {
    const what = e instanceof Error ? `${e.constructor.name}: ${e.message}` : `a thrown ${typeof e}: ${String(e)}`;
    return `raw exception (not a tf.errors.OpError): ${what}\n${e instanceof Error ? e.stack : ""}`;
  }
  if (typeof e.message !== "string" || e.message.trim() === "") return `${e.name} with an empty message`;
  if (e.name === "OpError" || e.name === "Error") return `a bare ${e.name}, not a named subclass`;
  return undefined;
}

/** Counts of what the cases did, for the summary line. */
export class Outcomes {
  cases = 0;
  accepted = 0;
  crashes = 0;
  readonly rejected = new Map<string, number>();
  /** Rejections by error class and diagnostic code (printed in collect mode). */
  readonly codes = new Map<string, number>();
  /** One example per rejection code (collect mode). */
  readonly examples = new Map<string, string>();
  slowestMs = 0;
  /** Distinct crashes (collect mode): signature -> the first case's description. */
  readonly distinct = new Map<string, string>();
  private readonly started = performance.now();

  constructor(readonly name: string, readonly budgetMs: number) {}

  /**
   * Runs one case: `body` returns normally (accepted) or throws an OpError (rejected). Anything
   * else, or a case over the time budget, is a crash: counted, then rethrown for fast-check.
   */
  run(body: () => void, describe: () => string = () => ""): void {
    this.cases++;
    const t0 = performance.now();
    let error: unknown;
    let threw = false;
    try {
      body();
    } catch (e) {
      threw = true;
      error = e;
    }
    const ms = performance.now() - t0;
    if (ms > this.slowestMs) this.slowestMs = ms;
    if (threw) {
      const reason = crashReason(error);
      if (reason !== undefined) {
        this.crashes++;
        if (collectCrashes) {
          const key = signature(error);
          if (!this.distinct.has(key)) this.distinct.set(key, `${reason.split("\n")[0]}\n${describe().slice(0, 600)}`);
          return;
        }
        throw new Error(`${this.name}: ${reason}\ncase: ${describe()}`, { cause: error });
      }
      const name = (error as Error).name;
      this.rejected.set(name, (this.rejected.get(name) ?? 0) + 1);
      const code = `${name}/${(error as InstanceType<typeof tf.errors.OpError>).errorCode}`;
      this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
      if (collectCrashes && !this.examples.has(code)) this.examples.set(code, `${(error as Error).message.slice(0, 300)}\n  ${describe().slice(0, 400)}\n  thrown ${signature(error)}`);
    } else this.accepted++;
    if (ms > this.budgetMs) {
      this.crashes++;
      if (collectCrashes) {
        this.distinct.set(`slow case ${this.crashes}`, describe().slice(0, 600));
        return;
      }
      throw new Error(`${this.name}: one case took ${ms.toFixed(0)} ms, over its budget of ${this.budgetMs} ms\ncase: ${describe()}`);
    }
  }

  /** Collect mode: rejections by code with one example each, then the distinct crashes, one paragraph each. */
  report(): string {
    const codes = [...this.codes.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
    const crashes = [...this.distinct.entries()].map(([k, v]) => `* ${k}\n  ${v.replace(/\n/g, "\n  ")}`);
    const examples = [...this.examples.entries()].map(([k, v]) => `- ${k}: ${v}`);
    return [`rejections by code: ${codes}`, ...examples, ...crashes].join("\n");
  }

  /** `fuzz importer: 3000 cases, 0 crashes (1200 imported, rejected: InvalidArgumentError 1700, ...; 4.1 s, slowest case 35 ms, seed 123)`. */
  summary(acceptedLabel: string, seed: number): string {
    const rejected = [...this.rejected.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    return `fuzz ${this.name}: ${this.cases} cases, ${this.crashes} crashes (${this.accepted} ${acceptedLabel}${rejected ? `, rejected: ${rejected}` : ""}; ${seconds} s, slowest case ${this.slowestMs.toFixed(0)} ms, seed ${seed})`;
  }
}
