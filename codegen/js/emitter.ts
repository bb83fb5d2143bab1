/**
 * What an op emitter sees and returns. Emitters are keyed by op type (like the registry's
 * OpDefs); each returns the JS statements of one op over preallocated typed arrays, with every
 * shape a compile-time constant. An op type without an emitter runs its reference kernel.
 */
import type { OpError } from "../../ir/diagnostics";
import type { Operation } from "../../ir/graph";
import type { ConcreteSpec } from "./specs";
import type { Names } from "./loops";

export type ScratchKind = "f64" | "f32" | "i32" | "u8";

export interface EmitContext {
  readonly op: Operation;
  readonly names: Names;
  inSpec(i: number): ConcreteSpec;
  outSpec(i: number): ConcreteSpec;
  /** The typed array holding input `i` (a local name). */
  input(i: number): string;
  /** The typed array to write output `i` into. */
  output(i: number): string;
  /** Whether output `i` is read by anything (fetch, consumer); others may be skipped. */
  needed(i: number): boolean;
  /**
   * The statement writing `value` at flat `index` of output `i`. Emitters that support epilogues
   * write output 0 only through this (the fused elementwise ops then run on each element).
   */
  store(i: number, index: string, value: string): string;
  /** A preallocated scratch array of at least `size` elements, private to this step. */
  scratch(kind: ScratchKind, size: number): string;
  /** A constant table, built once in the program's setup. */
  table(kind: ScratchKind, values: ArrayLike<number>): string;
  /** The data array of the variable behind ref input `i`, owned by the session, for in-place writes. */
  variable(i: number, mode: "update" | "assign"): string;
  /** A statement that throws the error `make(received)` naming this op, `received` a JS expression. */
  fail(make: (received: string) => OpError, received: string): string;
}

export interface Emitter {
  /** Whether this instance can be emitted (shapes, dtypes, attributes); default: yes. */
  supports?(op: Operation, spec: (t: { name: string }) => ConcreteSpec): boolean;
  /** Output 0 is written through `ctx.store` only, one final value per element: elementwise ops may fuse after it. */
  epilogue?: boolean;
  emit(ctx: EmitContext): string;
}

const emitters = new Map<string, Emitter>();

export function registerEmitter(types: string | readonly string[], emitter: Emitter): void {
  for (const t of typeof types === "string" ? [types] : types) emitters.set(t, emitter);
}

export function getEmitter(type: string): Emitter | undefined {
  return emitters.get(type);
}

export function emitterTypes(): string[] {
  return [...emitters.keys()].sort();
}

/** Formats a number as a JS literal that reads back exactly. */
export function literal(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  if (Object.is(v, -0)) return "-0";
  return String(v);
}
