/**
 * One WebAssembly module per compiled program: a function per kernel (`k0`, `k1` ... in
 * order, each exported) and `run`, which calls them all. The memory is imported as
 * `env.memory` (shared when asked, for worker threads), laid out by the planner beforehand.
 * Every module is validated; one that does not validate throws an InternalError naming the op
 * whose kernel is at fault (each kernel is re-validated alone to find it). Then binaryen's
 * optimizer runs (level 3 by default).
 */
import { failedPrecondition, InternalError } from "../../ir/diagnostics";
import { binaryen, binaryenLoadError, ensureBinaryen, features, type Module } from "./binaryen";
import { FunctionBuilder } from "./function-builder";
import { emitKernel, type Kernel } from "./kernels";
import { pagesFor } from "./memory";
import { addMathImports } from "./simd-ops";

export interface ModuleOptions {
  /** Bytes the program's memory holds (the plan's `bytes`). */
  memoryBytes: number;
  /** Import a shared memory (worker threads). */
  shared?: boolean;
  /** binaryen optimize level 0..4 (0: no optimization); default 3. */
  optimizeLevel?: number;
  shrinkLevel?: number;
  /** Keep the text format of the optimized module (debugging). */
  text?: boolean;
}

export interface BuiltModule {
  binary: Uint8Array;
  /** Export name of each kernel's function, in kernel order. */
  functions: string[];
  /** Memory pages the module expects (initial = maximum). */
  pages: number;
  shared: boolean;
  text?: string;
}

function newModule(pages: number, shared: boolean): Module {
  const m = new binaryen.Module();
  m.setFeatures(features());
  m.setMemory(pages, pages, null, [], shared);
  m.addMemoryImport("0", "env", "memory", shared);
  addMathImports(m);
  return m;
}

function addKernel(m: Module, name: string, kernel: Kernel): void {
  const fb = new FunctionBuilder(m);
  fb.finish(name, emitKernel(fb, kernel));
}

/** Runs `fn` with binaryen's printed output (validation messages) captured, best effort. */
function captured<T>(fn: () => T): { value: T; text: string } {
  let text = "";
  const out = process.stdout.write;
  const err = process.stderr.write;
  const grab = ((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = grab;
  process.stderr.write = grab;
  try {
    return { value: fn(), text };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** The kernel whose function alone fails validation, and the validator's words when caught. */
function culprit(kernels: readonly Kernel[], pages: number, shared: boolean): { kernel: Kernel; text: string } | null {
  for (const [i, kernel] of kernels.entries()) {
    const m = newModule(pages, shared);
    try {
      addKernel(m, `k${i}`, kernel);
      const { value, text } = captured(() => m.validate());
      if (!value) return { kernel, text };
    } catch (e) {
      return { kernel, text: e instanceof Error ? e.message : String(e) };
    } finally {
      m.dispose();
    }
  }
  return null;
}

function invalid(kernel: Kernel, text: string): InternalError {
  const first = text.split("\n").find((l) => l.includes("error")) ?? text.split("\n")[0] ?? "";
  return new InternalError({
    code: "wasm-invalid-module",
    node: kernel.op,
    message: `the WebAssembly ${kernel.kind} kernel generated for \`${kernel.op}\` does not validate`,
    expected: "a module binaryen validates",
    received: first.trim() || "a validation failure",
    fix: "this is a foldflow bug: report it with the op and its shapes; the js backend runs the graph meanwhile",
  });
}

export function buildModule(kernels: readonly Kernel[], options: ModuleOptions): BuiltModule {
  if (!ensureBinaryen()) throw binaryenUnavailable();
  const pages = pagesFor(options.memoryBytes);
  const shared = options.shared ?? false;
  const m = newModule(pages, shared);
  try {
    const functions: string[] = [];
    for (const [i, kernel] of kernels.entries()) {
      const name = `k${i}`;
      try {
        addKernel(m, name, kernel);
      } catch (e) {
        if (e instanceof InternalError) throw e;
        throw invalid(kernel, e instanceof Error ? e.message : String(e));
      }
      m.addFunctionExport(name, name);
      functions.push(name);
    }
    m.addFunction("run", binaryen.none, binaryen.none, [], m.block(null, [...functions.map((f) => m.call(f, [], binaryen.none)), m.nop()]));
    m.addFunctionExport("run", "run");
    const { value: valid, text } = captured(() => m.validate());
    if (!valid) {
      const bad = culprit(kernels, pages, shared);
      throw invalid(bad?.kernel ?? kernels[0] ?? { kind: "custom", op: "run", emit: () => [] }, bad?.text ?? text);
    }
    const level = options.optimizeLevel ?? 3;
    if (level > 0) {
      // Kernels stay functions of their own: `run` calls each once, and inlining them would copy them.
      const previous = { optimize: binaryen.getOptimizeLevel(), shrink: binaryen.getShrinkLevel(), oneCaller: binaryen.getOneCallerInlineMaxSize() };
      binaryen.setOptimizeLevel(level);
      binaryen.setShrinkLevel(options.shrinkLevel ?? 0);
      binaryen.setOneCallerInlineMaxSize(0);
      try {
        m.optimize();
      } finally {
        binaryen.setOptimizeLevel(previous.optimize);
        binaryen.setShrinkLevel(previous.shrink);
        binaryen.setOneCallerInlineMaxSize(previous.oneCaller);
      }
    }
    return { binary: m.emitBinary(), functions, pages, shared, text: options.text ? m.emitText() : undefined };
  } finally {
    m.dispose();
  }
}

/** binaryen could not be loaded synchronously (and no awaited load has happened). */
export function binaryenUnavailable(): Error {
  return failedPrecondition({
    code: "wasm-not-loaded",
    message: `the WebAssembly code generator (binaryen) could not be loaded synchronously: ${binaryenLoadError()?.message ?? "not loaded"}`,
    expected: "the binaryen package, loaded synchronously or by an awaited `tf.wasmReady()`",
    received: "a synchronous build before binaryen was loaded",
    fix: "await one `sess.run(...)` (or `await tf.wasmReady()`) before synchronous calls, or reinstall the dependencies (npm install)",
  });
}
