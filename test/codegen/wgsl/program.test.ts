/**
 * tf.compile(..., { target: "wgsl" }): the example models compiled to WGSL programs — the MNIST
 * training graph (train op among the outputs, variables updated in place), the folded conv net
 * and the folded MNIST inference graph. Every shader validates with Dawn's null backend; the
 * programs' sources run as ES modules under Deno on llvmpipe (one Deno process) and match the
 * interpreter (1e-4), and a shader broken on purpose fails there with its line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { compile } from "../../../src/compile";
import type { CompiledWgslModel } from "../../../src/compile-wgsl";
import { buildModel } from "../../../examples/mnist-batchnorm";
import { requireGpuRuntime } from "../../helpers/deno-gpu";
import { runDenoPrograms, type ProgramResult } from "../../helpers/deno-program";
import { closeValidator, validateWgsl } from "../../helpers/wgsl-validate";
import { expectClose } from "../../helpers/run";
import { foldedCnn, mnistInference, mnistTraining, scaleOf, type InferenceCase, type TrainingCase } from "../../helpers/wgsl-models";

const BATCH = 16;
let training: TrainingCase;
let cnn: InferenceCase;
let inference: InferenceCase;
const programs: Record<"training" | "cnn" | "inference" | "io", CompiledWgslModel> = {} as never;
/** bool, int32 and float32 inputs and outputs: the loader's conversions (bool ↔ u32). */
const io = {
  feeds: {
    b: tf.ndarray([true, false, true, true, false]),
    x: tf.ndarray([1.5, -2, 0.25, -0.5, 3]),
    k: tf.ndarray(Int32Array.from([3, -7, 0, 12, 2147483647]), [5], "int32"),
  },
  graph(): tf.Graph {
    const g = new tf.Graph();
    g.asDefault(() => {
      const b = tf.placeholder("bool", [5], "b");
      const x = tf.placeholder("float32", [5], "x");
      const k = tf.placeholder("int32", [5], "k");
      tf.where(b, x, tf.neg(x), "sel");
      tf.greater(x, 0, "pos");
      tf.sub(k, 1, "k1");
      tf.cast(b, "float32", "bf");
    });
    return g;
  },
};

beforeAll(() => {
  training = mnistTraining(BATCH, 3);
  cnn = foldedCnn(3);
  inference = mnistInference(8);
  programs.training = compile(training.graph, {
    outputs: [training.loss, training.train],
    target: "wgsl",
    inputs: { x: [BATCH, 784], y: [BATCH, 10] },
    variables: training.variables,
  });
  programs.cnn = compile(cnn.graphDef, { outputs: cnn.outputs, target: "wgsl", inputs: { x: cnn.x.shape } });
  programs.io = compile(io.graph(), { outputs: ["sel", "pos", "k1", "bf"], target: "wgsl" });
  programs.inference = compile(inference.graphDef, { outputs: inference.outputs, target: "wgsl", inputs: { x: inference.x.shape } });
}, 60_000);
afterAll(closeValidator);

describe("tf.compile to WGSL", () => {
  it("writes a standalone module: the loader, the plan and the shaders, without imports", () => {
    for (const p of Object.values(programs)) {
      expect(p.target).toBe("wgsl");
      expect(p.source).not.toMatch(/^\s*import\s/m);
      expect(p.source).toMatch(/export async function load\(device\)/);
      expect(p.source).toMatch(/export async function run\(feeds, device\)/);
      expect(Object.keys(p.shaders).length).toBe(p.plan.shaders.length);
      for (const [name, code] of Object.entries(p.shaders)) {
        expect(name).toMatch(/^\d\d-[A-Za-z0-9_.-]+$/);
        expect(p.source).toContain(code);
      }
    }
    // The train op runs but is not an output; the program holds every variable it reads or writes.
    expect(programs.training.outputs.map((o) => o.name)).toEqual([training.loss]);
    expect(programs.training.variables.map((v) => v.name).sort()).toEqual([...training.variables.keys()].sort());
    expect(programs.training.plan.variables.every((v) => v.written && typeof v.init === "string")).toBe(true);
    expect(programs.cnn.outputs).toEqual([
      { name: "probs", dtype: "float32", shape: [3, 5] },
      { name: "logits", dtype: "float32", shape: [3, 5] },
    ]);
    expect(programs.cnn.variables).toEqual([]);
  });

  it("emits shaders that Dawn validates, each forming a pipeline with its bind group layout", async () => {
    const problems: string[] = [];
    let count = 0;
    for (const [label, p] of Object.entries(programs))
      for (const s of p.plan.shaders) {
        count++;
        for (const e of await validateWgsl(s.code, { entryPoint: s.entryPoint, layout: s.layout })) problems.push(`${label} / ${s.name}: ${e}`);
      }
    expect(problems, problems.join("\n")).toEqual([]);
    expect(count).toBeGreaterThan(40);
  });

  it("refuses a variable read without a value, and control flow, naming the node", () => {
    const model = buildModel({ seed: 1 });
    expect(() => compile(training.graph, { outputs: [training.loss], target: "wgsl", inputs: { x: [2, 784], y: [2, 10] } })).toThrow(
      expect.objectContaining({ name: "FailedPreconditionError", message: expect.stringMatching(/reads variable `layer\d\/.*`, which has no value.*variables: sess/) }),
    );
    const init = new tf.Session({ graph: model.graph, backend: "interpreter" });
    init.runSync(model.init);
    expect(() => compile(model.graph, { outputs: [model.loss.name], target: "wgsl", inputs: { x: [2, 784], y: [2, 10], phase: [] }, variables: init })).toThrow(
      /(Switch|Merge).*: the WGSL backend cannot compile (Switch|Merge): control flow/,
    );
  });

  it("refuses an unknown target, naming both", () => {
    expect(() => compile(cnn.graphDef, { outputs: ["probs"], target: "metal" as "js" })).toThrow(/no target "metal".*"js".*"wgsl"/);
  });

  const rt = requireGpuRuntime();
  describe.skipIf(rt.skip)("run as ES modules under Deno on llvmpipe", () => {
    let results: ProgramResult[] = [];
    let brokenLine = "";
    beforeAll(() => {
      // A shader broken on purpose: its `let i` line assigns an undefined name.
      const victim = programs.cnn.plan.shaders[1];
      const lines = victim.code.split("\n");
      const k = lines.findIndex((l) => l.trim().startsWith("let i = "));
      lines[k] = "  let i = no_such_value + 1u;";
      brokenLine = lines[k];
      const broken = programs.cnn.source.replace(victim.code, lines.join("\n"));
      expect(broken).not.toBe(programs.cnn.source);
      const run = runDenoPrograms([
        { label: "MNIST training", source: programs.training.source, runs: 3, feeds: training.feeds, readVariables: true },
        { label: "folded CNN", source: programs.cnn.source, feeds: { x: cnn.x } },
        { label: "folded MNIST inference", source: programs.inference.source, feeds: { x: inference.x }, runs: 2 },
        { label: "broken shader", source: broken, feeds: { x: cnn.x } },
        { label: "bool and int32 inputs and outputs", source: programs.io.source, feeds: io.feeds },
      ]);
      results = run.results;
      console.info(`WGSL programs on ${run.adapter}: ${Math.round(run.wallMs)} ms in Deno (${results.map((r) => `${r.label} ${Math.round(r.ms)} ms`).join(", ")})`);
    }, 240_000);

    it("MNIST training: three steps give the interpreter's losses and variables", () => {
      const r = results[0];
      expect(r.error).toBeUndefined();
      expectClose(r.runs.map((o) => o[training.loss].data[0]), training.expected.losses, 1e-4, 1e-6);
      for (const [name, want] of training.expected.variables) {
        const got = r.variables?.[name];
        expect(got, `variable ${name}`).toBeDefined();
        expect(got!.shape).toEqual(want.shape);
        expectClose(got!.data, want.data, 1e-4, 1e-5 * scaleOf(want));
      }
      // The loss decreases: the variables really were updated between runs.
      expect(r.runs[2][training.loss].data[0]).toBeLessThan(r.runs[0][training.loss].data[0]);
    });

    it("folded conv net and folded MNIST inference match the interpreter", () => {
      for (const [r, c] of [
        [results[1], cnn],
        [results[2], inference],
      ] as const) {
        expect(r.error).toBeUndefined();
        for (const run of r.runs)
          c.outputs.forEach((name, i) => {
            expect(run[name].shape).toEqual(c.expected[i].shape);
            expectClose(run[name].data, c.expected[i].data, 1e-4, 1e-5 * scaleOf(c.expected[i]));
          });
      }
    });

    it("converts bool and int32 inputs and outputs", () => {
      const r = results[4];
      expect(r.error).toBeUndefined();
      const want = new tf.Session({ graph: io.graph(), backend: "interpreter" }).runSync(["sel", "pos", "k1", "bf"], io.feeds) as tf.NDArray[];
      ["sel", "pos", "k1", "bf"].forEach((name, i) => {
        expect(r.runs[0][name].dtype).toBe(want[i].dtype);
        expect(Array.from(r.runs[0][name].data)).toEqual(Array.from(want[i].data));
      });
    });

    it("a shader that fails to compile names the shader, the op and the generated line", () => {
      const r = results[3];
      expect(r.errorCode).toBe("shader-compile");
      expect(r.error).toContain(programs.cnn.plan.shaders[1].label);
      expect(r.error).toMatch(/line \d+:\d+: .*no_such_value/);
      expect(r.error).toContain(brokenLine.trim());
    });
  });
});
