/** The wasm module builder (validation, named errors, exports) and the linear-memory planner. */
import { describe, expect, it } from "vitest";
import { InternalError } from "../../ir/diagnostics";
import { binaryen } from "../../codegen/wasm/binaryen";
import type { Kernel } from "../../codegen/wasm/kernels";
import { planLinearMemory, SLACK, type LinearLifetime } from "../../codegen/wasm/memory";
import { buildModule } from "../../codegen/wasm/module";
import { elementwiseOp } from "../../codegen/wasm/elementwise";
import { wasm } from "../../codegen/wasm/host";
import { WasmProgramBuilder } from "../../codegen/wasm/program";
import { expectNear, reference, seeded } from "./wasm-helpers";

/** A kernel whose body adds an i32 to an f32: binaryen's validator rejects it. */
const broken: Kernel = {
  kind: "custom",
  op: "dense/broken_op",
  emit: (fb) => [fb.m.drop(fb.m.f32.add(fb.m.i32.const(1), fb.m.f32.const(2)))],
};

const relu = (offset: number): Kernel => elementwiseOp("dense/Relu", "Relu", [8], [{ offset, shape: [8] }], offset + 64);

describe("wasm module builder", () => {
  it("emits one exported function per kernel and `run`, with SIMD and an imported memory", () => {
    const built = buildModule([relu(0), relu(128)], { memoryBytes: 1024, text: true });
    expect(built.functions).toEqual(["k0", "k1"]);
    expect(wasm.validate(built.binary)).toBe(true);
    expect(built.text).toContain('(import "env" "memory"');
    expect(built.text).toMatch(/f32x4\.pmax|v128/);
    const m = binaryen.readBinary(built.binary);
    m.setFeatures(binaryen.Features.All);
    expect(m.validate()).toBe(1);
    expect([0, 1, 2].map((i) => binaryen.getExportInfo(m.getExportByIndex(i)).name).sort()).toEqual(["k0", "k1", "run"]);
    m.dispose();
  });

  it("a kernel that does not validate is an InternalError naming its op", () => {
    let error: unknown;
    try {
      buildModule([relu(0), broken, relu(128)], { memoryBytes: 1024 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InternalError);
    const e = error as InternalError;
    expect(e.errorCode).toBe("wasm-invalid-module");
    expect(e.nodeName).toBe("dense/broken_op");
    expect(e.message).toContain("`dense/broken_op` does not validate");
  });

  it("an epilogue or elementwise op the target lacks is an InternalError naming the op", () => {
    const gemm: Kernel = { kind: "gemm", op: "dense/MatMul", m: 2, n: 2, k: 2, transposeA: false, transposeB: false, a: 0, b: 16, c: 32, scratch: 48, epilogue: [{ type: "Erfc" }] };
    expect(() => buildModule([gemm], { memoryBytes: 1024 })).toThrow(expect.objectContaining({ nodeName: "dense/MatMul", errorCode: "wasm-epilogue" }));
    const eltwise = elementwiseOp("cmp/Less", "Less", [4], [{ offset: 0, shape: [4] }, { offset: 16, shape: [4] }], 32);
    expect(() => buildModule([eltwise], { memoryBytes: 1024 })).toThrow(expect.objectContaining({ nodeName: "cmp/Less", errorCode: "wasm-elementwise" }));
  });

  it("runs a chain of steps over planned memory with no allocation per run (MatMul → BiasAdd+Relu → Softmax)", () => {
    const x = seeded(6 * 20, 1);
    const w = seeded(20 * 10, 2);
    const b = seeded(10, 3);
    const mm = reference("MatMul", [{ shape: [6, 20], data: x }, { shape: [20, 10], data: w }])[0];
    const biased = reference("BiasAdd", [{ shape: [6, 10], data: mm.data }, { shape: [10], data: b }], { data_format: "NHWC" })[0];
    const act = reference("Relu", [{ shape: [6, 10], data: biased.data }])[0];
    const out = reference("Softmax", [{ shape: [6, 10], data: act.data }])[0];
    const p = new WasmProgramBuilder();
    p.tensor("x", 120, "input", x).tensor("w", 200, "constant", w).tensor("b", 10, "constant", b);
    p.tensor("h", 60, "temp").tensor("y", 60, "output");
    p.step(["x", "w"], ["h"], (at) => ({
      kind: "gemm", op: "MatMul", m: 6, n: 10, k: 20, transposeA: false, transposeB: false, a: at("x"), b: at("w"), c: at("h"),
      epilogue: [{ type: "BiasAdd", operand: { kind: "channel", offset: at("b") } }, { type: "Relu" }],
    }));
    p.step(["h"], ["y"], (at) => ({ kind: "softmax", op: "Softmax", type: "Softmax", rows: 6, columns: 10, x: at("h"), y: at("y") }));
    const program = p.build();
    const before = program.memory.buffer.byteLength;
    for (let i = 0; i < 3; i++) program.run();
    expect(program.memory.buffer.byteLength).toBe(before);
    expectNear(program.view("y"), out.data, 1e-3, 2e-5);
    // A second input: the same program, new values.
    const x2 = seeded(120, 9);
    program.view("x").set(x2);
    program.run();
    const mm2 = reference("MatMul", [{ shape: [6, 20], data: x2 }, { shape: [20, 10], data: w }])[0];
    const biased2 = reference("BiasAdd", [{ shape: [6, 10], data: mm2.data }, { shape: [10], data: b }], { data_format: "NHWC" })[0];
    const act2 = reference("Relu", [{ shape: [6, 10], data: biased2.data }])[0];
    expectNear(program.view("y"), reference("Softmax", [{ shape: [6, 10], data: act2.data }])[0].data, 1e-3, 2e-5);
  });
});

describe("shared memory", () => {
  it("a module over a shared memory (for worker threads) runs the same kernels", () => {
    const x = seeded(5 * 12, 4);
    const w = seeded(12 * 9, 5);
    const p = new WasmProgramBuilder();
    p.tensor("x", 60, "input", x).tensor("w", 108, "input", w).tensor("y", 45, "output");
    p.step(["x", "w"], ["y"], (at) => ({ kind: "gemm", op: "MatMul", m: 5, n: 9, k: 12, transposeA: false, transposeB: false, a: at("x"), b: at("w"), c: at("y") }));
    const program = p.build({ shared: true });
    expect(program.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    program.run();
    expectNear(program.view("y"), reference("MatMul", [{ shape: [5, 12], data: x }, { shape: [12, 9], data: w }])[0].data);
  });
});

describe("linear-memory planner", () => {
  const overlaps = (a: { o: number; e: number }, b: { o: number; e: number }) => a.o < b.e && b.o < a.e;

  it("never overlaps two tensors alive at once, reuses freed bytes, aligns to 16, ends with slack", () => {
    const lifetimes: LinearLifetime[] = [
      { key: "w", kind: "f32", size: 1000, first: 0, last: 0, pinned: true },
      { key: "a", kind: "f32", size: 300, first: 0, last: 1 },
      { key: "b", kind: "f32", size: 300, first: 1, last: 2 },
      { key: "c", kind: "f32", size: 301, first: 2, last: 3 },
      { key: "d", kind: "u8", size: 7, first: 3, last: 4 },
      { key: "e", kind: "i32", size: 500, first: 4, last: 5 },
      { key: "out", kind: "f32", size: 10, first: 5, last: 5, pinned: true },
    ];
    const plan = planLinearMemory(lifetimes);
    const spans = lifetimes.map((t) => ({ t, o: plan.offsets.get(t.key)!, e: plan.offsets.get(t.key)! + t.size * (t.kind === "u8" ? 1 : 4) }));
    for (const s of spans) expect(s.o % 16).toBe(0);
    for (const x of spans)
      for (const y of spans) {
        if (x === y) continue;
        const live = x.t.pinned || y.t.pinned || (x.t.first <= y.t.last && y.t.first <= x.t.last);
        if (live) expect(overlaps(x, y), `${x.t.key} and ${y.t.key}`).toBe(false);
      }
    expect(plan.plannedBytes).toBeLessThan(plan.naiveBytes);
    expect(plan.bytes).toBe(Math.max(...spans.map((s) => Math.ceil(s.e / 16) * 16)) + SLACK);
    // "a" and "c" do not live together: c reuses a's bytes.
    expect(plan.offsets.get("c")).toBe(plan.offsets.get("a"));
  });
});
