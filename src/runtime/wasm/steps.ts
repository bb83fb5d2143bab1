/**
 * The structure of a wasm-compiled run: regions of the one linear memory (every tensor the run
 * keeps, keyed by name), and the run's steps in order — a kernel of the module, or a host step
 * that the JS side performs between kernel calls (a reference kernel on views of the memory, a
 * copy, the Switch / Merge liveness flags, a variable check, a fetch). Both the session backend
 * (./program.ts) and the standalone module (./module-source.ts) execute this list.
 */
import type { DType, TypedArray } from "../../../ir/dtype";
import type { Operation } from "../../../ir/graph";
import type { Kernel } from "../../../codegen/wasm/kernels";
import type { StorageKind } from "../../../codegen/js/memory";

export interface Region {
  key: string;
  kind: StorageKind;
  dtype: DType;
  /** Elements. */
  size: number;
  /** Alive for the whole program (variables, constants). */
  pinned?: boolean;
  /** Written once when the program is instantiated (constants, packed weights). */
  data?: ArrayLike<number>;
  /** A feed: written by the host before the first step. */
  feed?: number;
}

/** A value a host step reads: a region of the memory, or one of the analysis' constants. */
export type Operand = { region: Region } | { constant: number };

interface Base {
  /** Liveness flags that must all be set for the step to run (Switch / Merge atoms). */
  live: number[];
  /** Region keys read and written (for the memory planner's lifetimes). */
  reads: string[];
  writes: string[];
}

export type WasmStep =
  | (Base & {
      kind: "kernel";
      op: string;
      make: (at: (key: string) => number) => Kernel;
      /** Variables (indices) that must be initialized first, and variables the kernel writes. */
      requires: number[];
      assigns: number[];
      /** Parts of one split op share a group: they run at the same time on worker threads (./split.ts). */
      group?: number;
      /**
       * A kernel with run-time checks traps (`unreachable`) when one fails; this gives the error
       * the trap stands for (the reference kernel's), reading the regions of the memory by key.
       */
      onTrap?: TrapError;
    })
  | (Base & { kind: "fallback"; op: Operation; inputs: (Operand | null)[]; outputs: (Region | null)[]; refs: number[] })
  | (Base & { kind: "copy"; op: Operation; from: Operand; to: Region })
  | (Base & { kind: "merge"; op: Operation; atom: number; controls: number[]; inputs: { live: number[]; from: Operand }[]; out: Region | null; index: Region | null })
  | (Base & { kind: "switch"; op: Operation; base: number[]; atoms: (number | undefined)[]; pred: Operand })
  | (Base & { kind: "check"; op: Operation; variable: number })
  | (Base & { kind: "fetch"; slot: number; from: Operand; dtype: DType; shape: number[] });

/** The error of a kernel's failed run-time check, from the regions it read (a view of each by key). */
export type TrapError = (view: (key: string) => TypedArray) => Error;

export const KIND_OF: Record<DType, StorageKind> = { float32: "f32", int32: "i32", bool: "u8" };
