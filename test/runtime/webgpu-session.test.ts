/**
 * `new tf.Session({ backend: "webgpu" })` executing on a real adapter: one Deno process
 * (deno-session-runner.js, importing foldflow from source) runs training scenarios on llvmpipe
 * beside interpreter sessions from the same variables, and this test compares the two (1e-4):
 * momentum and Adam steps, fused batch norm, the MNIST example specialized for training,
 * variables changed between device runs (a restore, an interpreter runSync), a training program
 * from tf.compile(..., { target: "wgsl" }) run in-process, and the MNIST example with its tf.cond,
 * which falls back to the interpreter.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DType } from "../../ir/dtype";
import { NDArray } from "../../ir/ndarray";
import { denoBinary, requireGpuRuntime } from "../helpers/deno-gpu";
import { spawnDeno } from "../helpers/deno-program";
import { expectClose } from "../helpers/run";
import { scaleOf } from "../helpers/wgsl-models";

const ROOT = resolve(import.meta.dirname, "../..");
const RUNNER = join(ROOT, "test/helpers/deno-session-runner.js");

interface Encoded {
  dtype: DType;
  shape: number[];
  base64: string;
}
interface Scenario {
  label: string;
  error?: string;
  fallbacks: (string | null)[];
  got: Record<string, Encoded>;
  want: Record<string, Encoded>;
}

function decode(v: Encoded): NDArray {
  const copy = new Uint8Array(Buffer.from(v.base64, "base64")).buffer;
  return new NDArray(v.dtype, v.shape, v.dtype === "int32" ? new Int32Array(copy) : v.dtype === "bool" ? new Uint8Array(copy) : new Float32Array(copy));
}

const rt = requireGpuRuntime();
describe.skipIf(rt.skip)("webgpu Sessions under Deno on llvmpipe", () => {
  let scenarios: Scenario[] = [];
  const work = mkdtempSync(join(tmpdir(), "foldflow-sessions-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  beforeAll(() => {
    const deno = denoBinary();
    if (!deno) throw new Error(rt.reason);
    const ms = spawnDeno(deno, work, ["--unstable-sloppy-imports", `--allow-read=${ROOT},${work}`, "--allow-env"], RUNNER, ROOT);
    const out = JSON.parse(readFileSync(join(work, "results.json"), "utf8")) as { adapter: string | null; scenarios: Scenario[] };
    if (!out.adapter) throw new Error(rt.reason);
    scenarios = out.scenarios;
    console.info(`webgpu sessions on ${out.adapter}: ${Math.round(ms)} ms in Deno`);
  }, 240_000);

  const compare = (s: Scenario) => {
    expect(s.error).toBeUndefined();
    const names = Object.keys(s.want);
    expect(Object.keys(s.got).sort()).toEqual(names.sort());
    expect(names.length).toBeGreaterThan(2);
    for (const name of names) {
      const got = decode(s.got[name]);
      const want = decode(s.want[name]);
      expect(got.shape, `${s.label}: ${name}`).toEqual(want.shape);
      expectClose(got.data, want.data, 1e-4, 1e-5 * scaleOf(want));
    }
  };

  it.each([
    [0, "dense net, momentum"],
    [1, "dense net, variables set between steps"],
    [2, "conv net, fused batch norm, Adam"],
    [3, "MNIST example specialized for training"],
    [4, "tf.compile target wgsl"],
  ] as const)("scenario %i (%s) runs on the device and matches the interpreter", (k, label) => {
    const s = scenarios[k];
    expect(s.label).toContain(label);
    compare(s);
    expect(s.fallbacks.every((f) => f === null), s.fallbacks.join("; ")).toBe(true);
    const losses = decode(s.got.losses).data;
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
  });

  it("the MNIST example with its phase placeholder falls back to the interpreter (tf.cond on a fed predicate)", () => {
    const s = scenarios[5];
    compare(s);
    expect(s.fallbacks[0]).toMatch(/control flow/);
  });
});
