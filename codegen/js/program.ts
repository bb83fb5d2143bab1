/**
 * Assembles the JS source of a compiled run: a setup section that allocates every buffer once
 * (planned by ./memory), one function per step (a fused group, an op, a fallback call, a
 * liveness flag, a fetch copy) and `run(feeds)`, which calls the steps in order, skipping those
 * of untaken branches. The source is the body of a function of
 *   (C consts, K fallback kernels, V/W/A variable access, E errors, mk fetch copies, DEAD)
 * that returns `run`; the session loads it with `new Function`, the standalone module wraps it.
 */
import type { OpError } from "../../ir/diagnostics";
import { InternalError } from "../../ir/diagnostics";
import type { Operation, Tensor } from "../../ir/graph";
import { getOpDef } from "../../ir/registry";
import { sizeOf } from "../../ir/shape";
import { analyze, type Analysis, type PlanInput, type Step } from "./analysis";
import { getEmitter, type EmitContext, type ScratchKind } from "./emitter";
import { emitGroup, epilogue, type GroupEnv } from "./group";
import { Names } from "./loops";
import { ARRAY_TYPE, planMemory, storageKind, type Lifetime, type MemoryPlan } from "./memory";
import type { ConcreteSpec } from "./specs";
import "./emitters/index";

export const PARAMS = ["C", "K", "V", "W", "A", "E", "mk", "DEAD"] as const;
export const SETUP_MARK = "// --- setup ---";
export const STEPS_MARK = "// --- steps ---";

export interface CompiledProgram {
  analysis: Analysis;
  /** The function body (see the file comment). */
  body: string;
  /** Ops run by their reference kernel, in K order. */
  fallbacks: Operation[];
  /** Node names that V/W/A/E calls refer to by index. */
  nodes: string[];
  errors: ((received: string) => OpError)[];
  /** Shapes that A(k, node, j) gives variable k. */
  assignShapes: number[][];
  fetchSpecs: ConcreteSpec[];
  memory: MemoryPlan;
  /** Liveness flags each op of the plan needs (all set after a run: it ran). */
  opLive: Map<Operation, number[]>;
}

const SCRATCH_TYPE: Record<ScratchKind, string> = { f64: "Float64Array", f32: "Float32Array", i32: "Int32Array", u8: "Uint8Array" };

export function compileProgram(input: PlanInput): CompiledProgram {
  const a = analyze(input);
  const names = new Names();
  const nodes: string[] = [];
  const nodeIndex = new Map<string, number>();
  const node = (op: Operation) => {
    let i = nodeIndex.get(op.name);
    if (i === undefined) {
      i = nodes.length;
      nodes.push(op.name);
      nodeIndex.set(op.name, i);
    }
    return i;
  };
  const spec = (t: { name: string }) => a.specs.get(t.name)!;
  const rootOf = (name: string) => a.roots.get(name) ?? name;
  const storageOf = (t: Tensor) => a.storage.get(rootOf(t.name))!;
  const refs = (op: Operation) => getOpDef(op.type, op.name).refInputs ?? [];

  // Buffer-backed tensors get a view name each.
  const views = new Map<string, string>();
  for (const [name, s] of a.storage) if (s.kind === "buffer" && !a.roots.has(name)) views.set(name, `T${views.size}`);

  const errors: ((received: string) => OpError)[] = [];
  const assignShapes: number[][] = [];
  const fallbacks: Operation[] = [];
  const tables: string[] = [];
  const scratchSizes = new Map<string, { kind: ScratchKind; size: number }>();
  const functions: string[] = [];
  const calls: string[] = [];
  const liveExpr = (live: readonly number[]) => (live.length ? live.map((l) => `L[${l}]`).join(" && ") : "");

  /** Per-step state: the variable reads and writes hoisted to the step function's top. */
  const stepScope = (op: Operation | null) => {
    const prologue: string[] = [];
    const hoisted = new Map<string, string>();
    const counters = new Map<ScratchKind, number>();
    const hoist = (key: string, code: (local: string) => string, prefix: string) => {
      let local = hoisted.get(key);
      if (!local) {
        local = names.next(prefix);
        hoisted.set(key, local);
        prologue.push(code(local));
      }
      return local;
    };
    const array = (t: Tensor): string => {
      const s = storageOf(t);
      switch (s.kind) {
        case "feed":
          return `F${s.index}`;
        case "const":
          return `C${s.index}`;
        case "buffer":
          return views.get(rootOf(t.name))!;
        case "variable":
          return hoist(`v${s.index}`, (l) => `const ${l} = V(${s.index}, ${node(op ?? t.op)});`, "v");
        case "none":
          throw new InternalError({ code: "fused-read", node: t.name, message: `\`${t.name}\` was fused away but is read` });
      }
    };
    const scratch = (kind: ScratchKind, size: number) => {
      const n = counters.get(kind) ?? 0;
      counters.set(kind, n + 1);
      const key = `S${kind}${n}`;
      const prev = scratchSizes.get(key);
      scratchSizes.set(key, { kind, size: Math.max(prev?.size ?? 0, size, 1) });
      return key;
    };
    return { prologue, hoist, array, scratch };
  };

  const target = (t: Tensor): string | null => (a.storage.get(t.name)?.kind === "buffer" && !a.roots.has(t.name) ? views.get(t.name)! : null);
  const needed = (t: Tensor) => target(t) !== null && (a.fetched.has(t.name) || (a.consumers.get(t.name)?.length ?? 0) > 0);

  const opContext = (op: Operation, scope: ReturnType<typeof stepScope>, store0?: (index: string, value: string) => string): EmitContext => ({
    op,
    names,
    inSpec: (i) => spec(op.inputs[i]),
    outSpec: (i) => spec(op.outputs[i]),
    input: (i) => scope.array(op.inputs[i]),
    output: (i) => {
      const name = target(op.outputs[i]);
      if (!name) throw new InternalError({ code: "no-output-array", node: op.name, message: `output ${i} of ${op.type} has no array` });
      return name;
    },
    needed: (i) => (i === 0 && store0 ? true : needed(op.outputs[i])),
    store: (i, index, value) => (i === 0 && store0 ? store0(index, value) : `${target(op.outputs[i])}[${index}] = ${value};`),
    scratch: scope.scratch,
    table: (kind, values) => {
      const name = `X${tables.length}`;
      tables.push(`const ${name} = new ${SCRATCH_TYPE[kind]}([${Array.from(values).join(", ")}]);`);
      return name;
    },
    variable: (i, mode) => {
      const k = a.variables.indexOf(op.inputs[i].op);
      if (mode === "update") return scope.hoist(`w${k}`, (l) => `const ${l} = W(${k}, ${node(op)});`, "w");
      assignShapes.push(spec(op.outputs[0]).shape);
      return scope.hoist(`w${k}`, (l) => `const ${l} = A(${k}, ${node(op)}, ${assignShapes.length - 1});`, "w");
    },
    fail: (make, received) => {
      errors.push(make);
      return `throw E(${errors.length - 1}, ${node(op)}, ${received});`;
    },
  });

  const emitStep = (step: Step): string => {
    const scope = stepScope(step.kind === "fetch" ? null : step.kind === "ops" ? (step.producer ?? step.ops[0]) : step.op);
    let code: string;
    switch (step.kind) {
      case "ops": {
        const env: GroupEnv = { names, spec, array: scope.array, target };
        if (step.producer) {
          const store0 = epilogue(env, step.ops, step.producer);
          code = getEmitter(step.producer.type)!.emit(opContext(step.producer, scope, store0));
        } else if (step.elementwise) code = emitGroup(env, step.ops);
        else code = getEmitter(step.ops[0].type)!.emit(opContext(step.ops[0], scope));
        break;
      }
      case "fallback": {
        const op = step.op;
        fallbacks.push(op);
        const args = op.inputs.map((t, i) => (refs(op).includes(i) ? "null" : scope.array(t)));
        const outs = op.outputs.map((t, i) => (target(t) ? `${target(t)}.set(o[${i}]);` : "")).join(" ");
        code = `const o = K[${fallbacks.length - 1}]([${args.join(", ")}]);\n${outs}`;
        break;
      }
      case "copy":
        code = `${target(step.op.outputs[0])}.set(${scope.array(step.op.inputs[0])});`;
        break;
      case "merge": {
        const atom = a.atoms[step.live[0]];
        if (atom.kind !== "merge") throw new InternalError({ code: "merge-atom", node: step.op.name, message: "bad merge flag" });
        const any = atom.inputs.map((l) => `(${liveExpr(l) || "true"})`).join(" || ");
        const lines = [`L[${atom.id}] = ${atom.controls.length ? `${liveExpr(atom.controls)} && ` : ""}(${any}) ? 1 : 0;`];
        const [out, index] = step.op.outputs.map(target);
        atom.inputs.forEach((l, i) => {
          const copy = [out ? `${out}.set(${scope.array(step.op.inputs[i])});` : "", index ? `${index}[0] = ${i};` : ""].join(" ");
          lines.push(`${i ? "else " : ""}if (L[${atom.id}] && ${liveExpr(l) || "true"}) { ${copy} }`);
        });
        code = lines.join("\n");
        break;
      }
      case "switch": {
        const base = liveExpr(a.opLive.get(step.op)!);
        const pred = scope.array(step.op.inputs[1]);
        code = step.atoms
          .map((id, branch) => `L[${id}] = ${base ? `${base} && ` : ""}${pred}[0] ${branch ? "!==" : "==="} 0 ? 1 : 0;`)
          .join("\n");
        break;
      }
      case "check":
        code = `V(${step.variable}, ${node(step.op)});`;
        break;
      case "fetch": {
        const live = liveExpr(step.live);
        const copy = `mk(${step.slot}, ${scope.array(step.tensor)})`;
        code = `R[${step.slot}] = ${live ? `${live} ? ${copy} : DEAD` : copy};`;
        break;
      }
    }
    return [...scope.prologue, code].join("\n");
  };

  a.steps.forEach((step, i) => {
    functions.push(`function s${i}() {\n${emitStep(step)}\n}`);
    const guarded = step.kind === "ops" || step.kind === "fallback" || step.kind === "copy" || step.kind === "check";
    const live = guarded ? liveExpr(step.live) : "";
    calls.push(live ? `if (${live}) s${i}();` : `s${i}();`);
  });

  const memory = planMemory(lifetimes(a, views, rootOf, refs, spec));
  const setup: string[] = [SETUP_MARK];
  memory.buffers.forEach((b, i) => setup.push(`const B${i} = new ${ARRAY_TYPE[b.kind]}(${b.size});`));
  for (const [name, view] of views) setup.push(`const ${view} = B${memory.assignment.get(name)}.subarray(0, ${sizeOf(spec({ name }).shape)});`);
  for (const [key, s] of scratchSizes) setup.push(`const ${key} = new ${SCRATCH_TYPE[s.kind]}(${s.size});`);
  setup.push(...tables);
  a.consts.forEach((_, i) => setup.push(`const C${i} = C[${i}];`));
  a.feeds.forEach((_, i) => setup.push(`let F${i} = null;`));
  setup.push(`const L = new Uint8Array(${Math.max(a.atoms.length, 1)});`);
  setup.push(`const R = new Array(${input.fetches.length}).fill(DEAD);`);
  const run = [
    "function run(feeds) {",
    ...a.feeds.map((_, i) => `F${i} = feeds[${i}];`),
    ...calls,
    "return R;",
    "}",
  ];
  const body = ['"use strict";', ...setup, STEPS_MARK, ...functions, ...run, "run.flags = L;", "return run;"].join("\n");
  return {
    analysis: a,
    body,
    fallbacks,
    nodes,
    errors,
    assignShapes,
    fetchSpecs: input.fetches.map(spec),
    memory,
    opLive: a.opLive,
  };
}

/** Lifetimes of the buffer-backed tensors over the steps. */
function lifetimes(
  a: Analysis,
  views: Map<string, string>,
  rootOf: (n: string) => string,
  refs: (op: Operation) => readonly number[],
  spec: (t: { name: string }) => ConcreteSpec,
): Lifetime[] {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const read = (t: Tensor, s: number) => {
    const r = rootOf(t.name);
    if (views.has(r)) last.set(r, Math.max(last.get(r) ?? s, s));
  };
  const write = (t: Tensor, s: number) => {
    if (views.has(t.name) && !first.has(t.name)) first.set(t.name, s);
  };
  const dataInputs = (op: Operation) => op.inputs.filter((_, i) => !refs(op).includes(i));
  a.steps.forEach((step, s) => {
    switch (step.kind) {
      case "ops": {
        const inside = step.producer ? [step.producer, ...step.ops] : step.ops;
        const produced = new Set(inside.flatMap((op) => op.outputs.map((t) => t.name)));
        for (const op of inside) {
          for (const t of dataInputs(op)) if (!produced.has(rootOf(t.name))) read(t, s);
          for (const t of op.outputs) write(t, s);
        }
        break;
      }
      case "fallback":
      case "merge":
        dataInputs(step.op).forEach((t) => read(t, s));
        step.op.outputs.forEach((t) => write(t, s));
        break;
      case "copy":
        read(step.op.inputs[0], s);
        write(step.op.outputs[0], s);
        break;
      case "switch":
        read(step.op.inputs[1], s);
        break;
      case "fetch":
        read(step.tensor, s);
        break;
    }
  });
  return [...views.keys()].map((key) => {
    const sp = spec({ name: key });
    const f = first.get(key) ?? 0;
    return { key, kind: storageKind(sp.dtype), size: sizeOf(sp.shape), first: f, last: Math.max(last.get(key) ?? f, f) };
  });
}
