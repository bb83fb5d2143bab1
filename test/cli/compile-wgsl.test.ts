/**
 * `foldflow compile model.pbtxt --target wgsl -o out/` as a subprocess: one `.wgsl` file per
 * shader, each validated with Dawn's null backend, beside `<model>.js`, the module that runs them;
 * that module runs under Deno on llvmpipe and matches the session (1e-4). `foldflow export
 * --format wgsl` writes the shaders alone. An op without a WGSL kernel is one line naming it.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { requireGpuRuntime } from "../helpers/deno-gpu";
import { runDenoPrograms } from "../helpers/deno-program";
import { expectClose } from "../helpers/run";
import { closeValidator, validateWgsl } from "../helpers/wgsl-validate";
import { expectOneLineError, expectSuccess, leftoverTemporaries, runCli, tempDir } from "./helpers";
import { cnnInput, cnnModel } from "./models";

const dir = tempDir({ "cnn.pbtxt": cnnModel(), "unpack.pbtxt": unpackModel() });
const path = (name: string) => join(dir, name);
afterAll(closeValidator);

function unpackModel(): string {
  const g = new tf.Graph();
  g.asDefault(() => {
    const x = tf.placeholder("float32", [2, 3], "x");
    const [a, b] = tf.unstack(x, { num: 2 }, "parts");
    tf.add(a, b, "sum");
  });
  return g.asGraphDef().toText();
}

describe("foldflow compile --target wgsl", () => {
  const out = path("out");
  let shaderFiles: string[] = [];

  it("writes one .wgsl file per shader and the module that dispatches them; every shader validates", async () => {
    const r = runCli(["compile", path("cnn.pbtxt"), "--outputs", "probs,logits", "--target", "wgsl", "-o", out, "--input-shape", "x=2,6,6,2"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/\[3\/4\] generating WGSL\n/);
    const files = fs.readdirSync(out).sort();
    shaderFiles = files.filter((f) => f.endsWith(".wgsl"));
    expect(files).toEqual([...shaderFiles, "cnn.js"].sort());
    expect(shaderFiles.length).toBeGreaterThanOrEqual(8);
    for (const f of files) expect(r.stdout).toContain(`wrote ${join(out, f)}`);
    // Folded: no batch-norm kernel is left.
    expect(shaderFiles.some((f) => /BatchNorm/.test(f))).toBe(false);
    const problems: string[] = [];
    for (const f of shaderFiles) for (const e of await validateWgsl(fs.readFileSync(join(out, f), "utf8"))) problems.push(`${f}: ${e}`);
    expect(problems, problems.join("\n")).toEqual([]);
    // The module lists the same shaders (it imports nothing and touches no GPU when imported).
    const mod = (await import(pathToFileURL(join(out, "cnn.js")).href)) as { shaders: Record<string, string>; inputs: { name: string; shape: number[] }[] };
    expect(Object.keys(mod.shaders).map((n) => `${n}.wgsl`).sort()).toEqual(shaderFiles);
    for (const f of shaderFiles) expect(mod.shaders[f.replace(/\.wgsl$/, "")]).toBe(fs.readFileSync(join(out, f), "utf8"));
    expect(mod.inputs).toEqual([{ name: "x", dtype: "float32", shape: [2, 6, 6, 2] }]);
  });

  const rt = requireGpuRuntime();
  it.skipIf(rt.skip)("the written module runs under Deno on llvmpipe and matches the session", () => {
    const x = cnnInput(2);
    const [result] = runDenoPrograms([{ label: "cnn.js", source: fs.readFileSync(join(out, "cnn.js"), "utf8"), feeds: { x } }]).results;
    expect(result.error).toBeUndefined();
    const want = new tf.Session({ graph: tf.importGraphDef(cnnModel()), backend: "interpreter" }).runSync(["probs", "logits"], { x }) as tf.NDArray[];
    expectClose(result.runs[0].probs.data, want[0].data, 1e-4, 1e-5);
    expectClose(result.runs[0].logits.data, want[1].data, 1e-4, 1e-5);
  });

  it("export --format wgsl writes the shaders only, each section a module that validates", async () => {
    expectSuccess(runCli(["export", path("cnn.pbtxt"), "--format", "wgsl", "--outputs", "probs", "-o", path("cnn.wgsl"), "-q"]));
    const text = fs.readFileSync(path("cnn.wgsl"), "utf8");
    expect(text).not.toMatch(/export async function|createProgram/);
    const sections = text.split(/^\/\/ ---- .*\.wgsl ----$/m).filter((s) => s.trim());
    expect(sections.length).toBeGreaterThanOrEqual(8);
    for (const s of sections) expect(await validateWgsl(s)).toEqual([]);
  });

  it("an op without a WGSL kernel is one line naming it, and nothing is written", () => {
    const line = expectOneLineError(runCli(["compile", path("unpack.pbtxt"), "--outputs", "sum", "--target", "wgsl", "-o", path("none"), "-q"]));
    expect(line).toMatch(/parts.*the WGSL backend cannot compile Unpack/);
    expect(fs.existsSync(path("none"))).toBe(false);
    expect(leftoverTemporaries(dir)).toEqual([]);
  });
});
