/**
 * The array / shape op family, TF's array_ops: one family, split over ir/ops/array/ to keep
 * files small. Importing this module registers every op and re-exports the builders.
 *
 *   reshape.ts  Reshape, Squeeze, ExpandDims, Shape, Fill, ZerosLike, OnesLike, Cast
 *   slice.ts    Transpose, InvertPermutation, Slice, Pad
 *   pad.ts      PadV2, MirrorPad, MirrorPadGrad, and tf.pad (which picks Pad, PadV2 or MirrorPad)
 *   shape.ts    Rank, Size, ShapeN
 *   join.ts     ConcatV2, ConcatOffset, Pack, Unpack, Split, SplitV, Tile
 *   gather.ts   GatherV2, UnsortedSegmentSum, OneHot, SelectV2
 *   strided-slice.ts  StridedSlice, StridedSliceGrad
 *
 * Inputs that TF passes as tensors (shapes, axes, perms, multiples, paddings ...) are int32
 * inputs, built as Consts named `<op>/<arg>` like TF; shape inference reads them when constant.
 */
export { reshape, squeeze, expandDims, shape, fill, zerosLike, onesLike, cast } from "./array/reshape";
export { transpose, invertPermutation, slice } from "./array/slice";
export { pad } from "./array/pad";
export type { PadMode } from "./array/pad";
export { rank, size, shapeN } from "./array/shape";
export { concat, stack, unstack, split, tile } from "./array/join";
export { gather, unsortedSegmentSum, oneHot, where } from "./array/gather";
export type { OneHotOptions } from "./array/gather";
export { stridedSlice, stridedSliceGrad } from "./array/strided-slice";
export type { StridedSliceOptions } from "./array/strided-slice";
