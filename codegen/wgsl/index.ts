/**
 * codegen/wgsl: WGSL compute shaders for foldflow's ops and the dispatch plan of a run.
 *   emitKernel / emitOpKernels   the kernel(s) of one op for concrete shapes (./emit)
 *   emitFused                    one shader for a fused group of elementwise ops (./elementwise)
 *   planDispatches               buffers, shaders and ordered steps for a run plan (./plan)
 * Device layout: one storage buffer per tensor, 4-byte elements (f32, i32, bool as u32).
 */
export { emitKernel, emitOpKernels, hasWgslEmitter, wgslOpTypes } from "./emit";
export { emitFused, type FusedGroup, type FusedInput, type FusedNode, type FusedRef } from "./elementwise";
export { planDispatches, type DispatchPlan, type PlanBuffer, type PlanShader, type PlanStep, type TensorPlace } from "./plan";
export type { EmitOptions, KernelBinding, KernelOp, OpKernels, WgslKernel } from "./common";
