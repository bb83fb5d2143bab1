/**
 * `wgslSuite(name, cases)`: the standard test of one op family's WGSL kernels:
 *   - every emitted shader compiles and forms a pipeline under Dawn's null backend;
 *   - all cases run in one Deno process on llvmpipe and match the interpreter
 *     (skipped outside CI when Deno or the Vulkan driver is missing, failing in CI).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireGpuRuntime } from "./deno-gpu";
import { closeValidator } from "./wgsl-validate";
import { executeCases, expectCaseClose, prepare, validateCases, type CaseResult, type OpCase, type PreparedCase } from "./wgsl-cases";

export function wgslSuite(name: string, specs: OpCase[]): void {
  const labels = new Set<string>();
  for (const s of specs) {
    if (labels.has(s.label)) throw new Error(`duplicate case label ${s.label}`);
    labels.add(s.label);
  }
  let cases: PreparedCase[] = [];

  describe(`${name}: WGSL kernels`, () => {
    beforeAll(() => {
      cases = specs.map(prepare);
    });
    afterAll(closeValidator);

    it("emits shaders that Dawn's null backend validates", async () => {
      expect(cases.length).toBe(specs.length);
      const problems = await validateCases(cases);
      expect(problems, problems.join("\n\n")).toEqual([]);
    });

    const rt = requireGpuRuntime();
    describe.skipIf(rt.skip)("executed under Deno on llvmpipe", () => {
      let results: CaseResult[] = [];
      beforeAll(() => {
        const run = executeCases(cases);
        results = run.results;
        console.info(`${name}: ${cases.length} cases, ${cases.reduce((n, c) => n + c.kernels.kernels.length, 0)} dispatches on ${run.adapter} in ${Math.round(run.wallMs)} ms (slowest: ${run.slowest.join(", ")})`);
      }, 120_000);
      it.each(specs.map((s, i) => [s.label, i] as const))("%s matches the interpreter", (_, i) => {
        expectCaseClose(cases[i], results[i]);
      });
    });
  });
}
