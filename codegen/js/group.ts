/**
 * One loop for a group of fused elementwise ops. Every op becomes a `const` of the loop body
 * built from its expression template; operands from outside the group are loaded once per
 * element, or hoisted out of the inner loops along the dimensions they broadcast over (a
 * per-channel bias is loaded in the innermost loop, a per-row value once per row). Dimensions
 * that stay contiguous for every operand are merged first, so same-shape groups are one flat loop.
 *
 *   Relu(BiasAdd(x, b)) over [n, c]:
 *     for (d0 < n) { for (d1 < c) { const x0 = X[o + d1]; const x1 = B[d1];
 *       const e0 = Math.fround(x0 + x1); const e1 = (e0 > 0 ? e0 : 0); Y[o + d1] = e1; } }
 *
 * As an epilogue (after MatMul / Conv2D), the same body runs on each value the producer stores.
 */
import type { DType } from "../../ir/dtype";
import type { Operation, Tensor } from "../../ir/graph";
import { stridesOf } from "../../ir/shape";
import { fusable } from "./fusable";
import { broadcastIndexExpr, broadcastStrides, coalesce, nestedLoops, type Names } from "./loops";
import type { ConcreteSpec } from "./specs";

export interface GroupEnv {
  names: Names;
  spec(t: { name: string }): ConcreteSpec;
  /** The array holding `t` (a local name), for tensors computed before the group. */
  array(t: Tensor): string;
  /** The array to store `t` into, or null when nothing outside the group reads it. */
  target(t: Tensor): string | null;
}

interface External {
  array: string;
  view: number[];
  local: string;
}

interface Body {
  externals: External[];
  /** Statements of the loop body, given the load expressions already bound. */
  code: (index: string | null, outOffset: string) => string;
}

function wrap(expr: string, dtype: DType, usedInside: boolean): string {
  if (dtype === "int32") return `((${expr}) | 0)`;
  if (dtype === "float32" && usedInside) return `Math.fround(${expr})`;
  return expr;
}

/** The body shared by both forms: externals to load, then one const per op, then the stores. */
function groupBody(env: GroupEnv, ops: readonly Operation[], producer: { tensor: Tensor; local: string } | null): Body {
  const locals = new Map<string, string>();
  if (producer) locals.set(producer.tensor.name, producer.local);
  const externals: External[] = [];
  const byKey = new Map<string, External>();
  const consumedInside = new Set<string>();
  for (const op of ops) for (const t of op.inputs) consumedInside.add(t.name);
  const lines: string[] = [];
  const stores: [string, string][] = [];
  for (const op of ops) {
    const f = fusable(op, env.spec)!;
    const args = f.operands.map((o) => {
      const t = op.inputs[o.input];
      const local = locals.get(t.name);
      if (local) return local;
      const array = env.array(t);
      const key = `${array}|${o.view.join(",")}`;
      let ext = byKey.get(key);
      if (!ext) {
        ext = { array, view: o.view, local: env.names.next("x") };
        byKey.set(key, ext);
        externals.push(ext);
      }
      return ext.local;
    });
    const out = op.outputs[0];
    const dtype = env.spec(out).dtype;
    const local = env.names.next("e");
    locals.set(out.name, local);
    lines.push(`const ${local} = ${wrap(f.template(args, dtype), dtype, consumedInside.has(out.name))};`);
    const target = env.target(out);
    if (target) stores.push([target, local]);
  }
  return {
    externals,
    code: (_index, outOffset) => [...lines, ...stores.map(([target, local]) => `${target}[${outOffset}] = ${local};`)].join("\n"),
  };
}

/** The whole loop for a standalone group. */
export function emitGroup(env: GroupEnv, ops: readonly Operation[]): string {
  const domain = env.spec(ops[0].outputs[0]).shape;
  if (domain.some((d) => d === 0)) return "";
  const body = groupBody(env, ops, null);
  const lists = [stridesOf(domain), ...body.externals.map((e) => broadcastStrides(e.view, domain))];
  const { sizes, strides } = coalesce(domain, lists);
  const level = body.externals.map((_, j) => {
    let l = -1;
    strides[j + 1].forEach((s, k) => {
      if (s !== 0) l = k;
    });
    return l;
  });
  return nestedLoops(
    env.names,
    sizes,
    strides,
    (offsets) => body.code(null, offsets[0]),
    (k, offsets) =>
      body.externals
        .map((e, j) => (level[j] === k ? `const ${e.local} = ${e.array}[${offsets[j + 1]}];` : ""))
        .filter(Boolean)
        .join("\n"),
  );
}

/**
 * The per-element statement for a group fused after `producer`: `store(index, value)` is what
 * the producer's emitter calls for each element of its output 0.
 */
export function epilogue(env: GroupEnv, ops: readonly Operation[], producer: Operation): (index: string, value: string) => string {
  const tensor = producer.outputs[0];
  const domain = env.spec(tensor).shape;
  const p = env.names.next("p");
  const body = groupBody(env, ops, { tensor, local: p });
  const dtype = env.spec(tensor).dtype;
  const at = env.names.next("at");
  return (index, value) => {
    const loads = body.externals.map((e) => `const ${e.local} = ${e.array}[${broadcastIndexExpr(e.view, domain, at)}];`);
    return `{\nconst ${at} = ${index};\nconst ${p} = ${wrap(value, dtype, true)};\n${loads.join("\n")}\n${body.code(at, at)}\n}`;
  };
}
