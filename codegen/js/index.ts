/**
 * codegen/js: run plans compiled to JS over preallocated typed arrays (the `js` Session
 * backend, src/runtime/js-backend.ts, and `tf.compile`, src/compile.ts).
 *
 *   specs.ts      concrete shapes for the fed shapes; shape arithmetic folded to constants
 *   analysis.ts   storage of every tensor, views, Switch/Merge liveness flags, steps and fusion
 *   fusable.ts    which ops fuse into elementwise loops; elementwise-templates.ts their expressions
 *   group.ts      one loop per fused group, or the epilogue of a MatMul / Conv2D / batch norm
 *   emitters/     one emitter per op type (matmul, conv, pool, reduce, nn, batch-norm, state, array)
 *   memory.ts     the liveness-based memory planner
 *   program.ts    the program's source: setup (all allocation), step functions, run(feeds)
 *   module.ts     the standalone ES module of a frozen program
 *
 * What does not get compiled code:
 * - Ops without an emitter run their reference kernel inside the compiled program (they
 *   allocate their outputs, so a program with one allocates in the steady state; a standalone
 *   module cannot contain them). Today: the random ops (RandomUniform, RandomStandardNormal,
 *   TruncatedNormal — they share the session's generator state), StridedSlice and its grad,
 *   UnsortedSegmentSum, BatchNormWithGlobalNormalization and its grad, InvertPermutation,
 *   ConcatOffset, AllReduce, CheckNumerics, IsVariableInitialized, an unfed Placeholder (whose
 *   kernel raises the missing-feed error),
 *   and any op whose constant inputs (axes, sizes, perm) are not compile-time constants, or whose
 *   shapes do not match (the reference kernel then raises TF's error). `opsWithoutEmitter()`
 *   lists them for the ops registered now.
 * - Plans whose shapes depend on fed values (a fed Reshape shape, a Merge of branches of
 *   different shapes), or that fail while being specialized (an infer error for the fed
 *   shapes), run on the interpreter, which raises the same errors at the same point.
 * - highPrecision sessions use the interpreter.
 */
import { registeredOps } from "../../ir/registry";
import { VIEW_OPS } from "./analysis";
import { emitterTypes } from "./emitter";
import { templateOf } from "./elementwise-templates";

export { compileProgram, PARAMS, SETUP_MARK, STEPS_MARK, type CompiledProgram } from "./program";
export { moduleSource, type ModuleIO } from "./module";
export { planMemory, type Lifetime, type MemoryPlan } from "./memory";
export { Unresolved, type ConcreteSpec } from "./specs";

/** Ops handled without code of their own: constants, variables, views, control. */
const STRUCTURAL = new Set(["Const", "VariableV2", "NoOp", "Shape", "Switch", "Merge", ...VIEW_OPS]);

/** Registered op types that run their reference kernel inside compiled programs. */
export function opsWithoutEmitter(): string[] {
  const emitted = new Set(emitterTypes());
  return registeredOps().filter((type) => !STRUCTURAL.has(type) && !emitted.has(type) && !templateOf(type));
}
