/** The WGSL test harness itself: Dawn's validator reports errors, Deno + llvmpipe executes. */
import { afterAll, describe, expect, it } from "vitest";
import { closeValidator, validateWgsl, wgslMessages } from "../../helpers/wgsl-validate";
import { requireGpuRuntime, runGpuJobs } from "../../helpers/deno-gpu";
import { randomData } from "../../helpers/run";

const ADD = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= arrayLength(&out)) { return; }
  out[i] = a[i] + b[i];
}
`;
const LAYOUT = [
  { binding: 0, type: "read-only-storage" as const },
  { binding: 1, type: "read-only-storage" as const },
  { binding: 2, type: "storage" as const },
];

afterAll(closeValidator);

describe("WGSL validation with Dawn's null backend", () => {
  it("accepts a valid shader and its pipeline", async () => {
    expect(await validateWgsl(ADD, { entryPoint: "main", layout: LAYOUT })).toEqual([]);
  });

  it("reports a type error with its line and column", async () => {
    const broken = ADD.replace("out[i] = a[i] + b[i];", "let wrong: f32 = 1u;\n  out[i] = a[i];");
    const errors = await validateWgsl(broken);
    expect(errors.length).toBe(1);
    const line = broken.split("\n").findIndex((l) => l.includes("let wrong")) + 1;
    expect(errors[0]).toMatch(new RegExp(`^${line}:\\d+: .*'f32'.*'u32'`));
    const messages = await wgslMessages(broken);
    expect(messages[0]).toMatchObject({ type: "error", line });
  });

  it("reports an unknown identifier", async () => {
    const errors = await validateWgsl(ADD.replace("b[i]", "c[i]"));
    expect(errors.join("\n")).toMatch(/unresolved value 'c'/);
  });

  it("reports a pipeline whose layout does not match the shader", async () => {
    const errors = await validateWgsl(ADD, { entryPoint: "main", layout: LAYOUT.map((b) => ({ ...b, type: "storage" as const })).slice(0, 2) });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^pipeline: /);
  });

  it("reports workgroup memory over the default limit", async () => {
    const big = `var<workgroup> tile: array<f32, 8192>;\n@compute @workgroup_size(1) fn main() { tile[0] = 1.0; }`;
    const errors = await validateWgsl(big, { entryPoint: "main", layout: [] });
    expect(errors.join("\n")).toMatch(/workgroup/i);
  });
});

const rt = requireGpuRuntime();

describe("WGSL execution under Deno", () => {
  it("has Deno and a WebGPU adapter (required in CI)", () => {
    if (rt.skip) return;
    expect(rt.available, rt.reason).toBe(true);
  });

  it.skipIf(rt.skip)("runs an add kernel on llvmpipe and reads the result back", () => {
    const n = 1000;
    const a = randomData(n, 1);
    const b = randomData(n, 2);
    const result = runGpuJobs([{ code: ADD, entryPoint: "main", layout: LAYOUT }], [
      {
        label: "add",
        buffers: [{ size: n * 4, data: a }, { size: n * 4, data: b }, { size: n * 4 }],
        steps: [{ shader: 0, bindings: [0, 1, 2].map((i) => ({ binding: i, buffer: i })), workgroupCount: [Math.ceil(n / 64), 1, 1] }],
        reads: [2],
      },
      {
        label: "copy then add",
        buffers: [{ size: n * 4, data: a }, { size: n * 4 }, { size: n * 4 }],
        steps: [
          { copy: { src: 0, srcOffset: 0, dst: 1, dstOffset: 0, size: n * 4 } },
          { shader: 0, bindings: [0, 1, 2].map((i) => ({ binding: i, buffer: i })), workgroupCount: [Math.ceil(n / 64), 1, 1] },
        ],
        reads: [2],
      },
    ]);
    expect(result.jobs.map((j) => j.error)).toEqual([undefined, undefined]);
    const sum = new Float32Array(result.jobs[0].outputs[0].buffer);
    const twice = new Float32Array(result.jobs[1].outputs[0].buffer);
    for (let i = 0; i < n; i++) {
      expect(sum[i]).toBe(Math.fround(a[i] + b[i]));
      expect(twice[i]).toBe(Math.fround(a[i] + a[i]));
    }
  });

  it.skipIf(rt.skip)("reports a shader that fails to compile as the job's error", () => {
    const result = runGpuJobs([{ code: ADD.replace("b[i]", "c[i]"), entryPoint: "main", layout: LAYOUT }], [
      {
        label: "broken",
        buffers: [{ size: 16 }, { size: 16 }, { size: 16 }],
        steps: [{ shader: 0, bindings: [0, 1, 2].map((i) => ({ binding: i, buffer: i })), workgroupCount: [1, 1, 1] }],
        reads: [2],
      },
    ]);
    expect(result.jobs[0].error).toMatch(/c/);
  });
});
