/**
 * codegen/wasm: shape-specialized WebAssembly (SIMD128) kernels built with binaryen, one module
 * per program over one planned linear memory. Importing this does not load binaryen:
 * `ensureBinaryen()` (synchronous, about 0.5 s once) or `loadBinaryen()` must come first.
 */
export { ensureBinaryen, loadBinaryen, binaryenLoadError } from "./binaryen";
export { buildModule, type BuiltModule, type ModuleOptions } from "./module";
export { kernelScratchBytes, emitKernel, type Kernel, type CustomKernel } from "./kernels";
export { planLinearMemory, pagesFor, type LinearLifetime, type LinearPlan } from "./memory";
export { WasmProgramBuilder, type WasmProgram, type TensorRole, type ProgramOptions } from "./program";
export { packPanels, packedFloats, DEFAULT_TILE, type GemmKernel, type TileOptions } from "./gemm";
export { packFilter, planConvFilter, type ConvKernel, type ConvFilterPlan } from "./conv";
export type { DepthwiseKernel } from "./depthwise";
export { elementwiseOp, type ElementwiseKernel, type ElementwiseInput } from "./elementwise";
export type { ReduceKernel, MomentsKernel } from "./reduce";
export type { SoftmaxKernel } from "./softmax";
export type { PoolKernel } from "./pool";
export type { EpilogueStep, EpilogueOperand } from "./epilogue";
export { unaryVectorOps, binaryVectorOps, vectorOp, mathImports } from "./simd-ops";
export { nhwcGeometry, paddedExtent } from "./window";
export { wasm, type WasmMemory } from "./host";
