/**
 * `tf.train.Saver`: saves a session's variables to a checkpoint and restores them, as TF1 does.
 *
 *   const saver = new tf.train.Saver({ maxToKeep: 5 });
 *   const prefix = await saver.save(sess, "ckpt/model", { globalStep: 1000 });  // "ckpt/model-1000"
 *   await saver.restore(sess, tf.train.latestCheckpoint("ckpt")!);
 *
 * Files (the layout of `<prefix>.ffckpt` is documented in checkpoint-file.ts):
 *   <prefix>.ffckpt      magic "FFCKPT01", a JSON header (per variable: name, dtype, shape,
 *                        byte offset, length, CRC-32), then the little-endian values
 *   <dir>/checkpoint     TF's CheckpointState text proto, listing the saver's checkpoints:
 *                          model_checkpoint_path: "model-1000"
 *                          all_model_checkpoint_paths: "model-900"
 *                          all_model_checkpoint_paths: "model-1000"
 * Both are written atomically (temporary file, fsync, rename). Variables are saved under their
 * op names ("dense/kernel"), or the keys of a `varList` object. Restore checks every variable
 * (present, same dtype, compatible shape, checksum) before it sets any.
 */
import fs from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import { failedPrecondition, invalidArgument, notFound, suggestion } from "../ir/diagnostics";
import { Operation, Tensor, type Graph } from "../ir/graph";
import { parseTextFormat } from "../ir/graphdef/text-parser";
import { fieldValues, utf8String } from "../ir/graphdef/text-tree";
import type { NDArray } from "../ir/ndarray";
import { formatShape, isCompatible, type MaybeShape } from "../ir/shape";
import { CHECKPOINT_SUFFIX, decodeCheckpoint, encodeCheckpoint, writeFileAtomically, type CheckpointEntry } from "./checkpoint-file";
import { GraphKeys } from "./collections";
import type { Session } from "./session";

/** A variable to save: its VariableV2 tensor (a tf.Variable), its op, or the op's name. */
export type SaveableVariable = Tensor | Operation | string;

export interface SaverOptions {
  /** The variables: a list (saved under their op names) or an object from checkpoint name to variable. Default: the graph's global variables (every VariableV2 of an imported graph). */
  varList?: SaveableVariable[] | Record<string, SaveableVariable>;
  /** How many recent checkpoints to keep; older ones are deleted. 0 or null keeps all. Default 5. */
  maxToKeep?: number | null;
}

export interface SaveOptions {
  /** Appended to the prefix as `-<step>`: a number, or a scalar tensor (the global step) to evaluate. */
  globalStep?: number | Tensor;
  /** The name of the index file in the checkpoint's directory. Default "checkpoint". */
  latestFilename?: string;
  /** Write the index file. Default true. */
  writeState?: boolean;
}

interface Resolved {
  /** Checkpoint name -> VariableV2 op. */
  variables: Map<string, Operation>;
}

const stripSuffix = (path: string) => (path.endsWith(CHECKPOINT_SUFFIX) ? path.slice(0, -CHECKPOINT_SUFFIX.length) : path);

export class Saver {
  private readonly varList: SaverOptions["varList"];
  private readonly maxToKeep: number;
  private readonly kept: string[] = [];

  constructor(options: SaverOptions = {}) {
    this.varList = options.varList;
    this.maxToKeep = options.maxToKeep ?? (options.maxToKeep === null ? 0 : 5);
  }

  /** The prefixes this saver wrote and has not deleted, oldest first. */
  get lastCheckpoints(): string[] {
    return [...this.kept];
  }

  /** Saves the variables' values in `sess` to `<savePath>[-step].ffckpt`; returns the prefix. */
  async save(sess: Session, savePath: string, options: SaveOptions = {}): Promise<string> {
    const { variables } = this.resolve(sess.graph);
    const prefix = stripSuffix(savePath) + stepSuffix(sess, options.globalStep);
    const values = new Map<string, NDArray>();
    for (const [name, op] of variables) {
      const value = sess.variableValues.get(op.name);
      if (!value)
        throw failedPrecondition({
          code: "uninitialized-variable",
          node: op.name,
          message: `attempting to save uninitialized variable \`${op.name}\``,
          expected: "an initialized variable",
          received: "a variable without a value in this session",
          fix: "run tf.globalVariablesInitializer() (or restore a checkpoint) before saving",
        });
      values.set(name, value);
    }
    fs.mkdirSync(dirname(prefix) || ".", { recursive: true });
    writeFileAtomically(prefix + CHECKPOINT_SUFFIX, encodeCheckpoint(values));
    this.remember(prefix);
    if (options.writeState ?? true) writeCheckpointState(dirname(prefix), this.kept, options.latestFilename ?? "checkpoint");
    return prefix;
  }

  /** Restores every variable from the checkpoint at `savePath` (a prefix, as save returned). */
  async restore(sess: Session, savePath: string): Promise<void> {
    const { variables } = this.resolve(sess.graph);
    const prefix = stripSuffix(savePath);
    const reader = openCheckpoint(prefix);
    const byName = new Map(reader.entries.map((e) => [e.name, e]));
    const restored: [Operation, NDArray][] = [];
    for (const [name, op] of variables) {
      const entry = byName.get(name);
      if (!entry)
        throw notFound({
          code: "missing-in-checkpoint",
          node: op.name,
          message: `variable \`${name}\` is not in checkpoint \`${prefix}\``,
          expected: "a checkpoint that holds every variable restored",
          received: `${reader.entries.length} variable(s): ${reader.entries.slice(0, 8).map((e) => e.name).join(", ")}${reader.entries.length > 8 ? ", ..." : ""}`,
          fix: `${suggestion(name, byName.keys(), "variable name")}; or restore a subset with new tf.train.Saver({ varList })`,
        });
      checkEntry(entry, op, prefix);
      restored.push([op, reader.read(entry)]);
    }
    for (const [op, value] of restored) sess.setVariableValue(op.name, value);
  }

  private remember(prefix: string): void {
    const at = this.kept.indexOf(prefix);
    if (at >= 0) this.kept.splice(at, 1);
    this.kept.push(prefix);
    while (this.maxToKeep > 0 && this.kept.length > this.maxToKeep) fs.rmSync(this.kept.shift()! + CHECKPOINT_SUFFIX, { force: true });
  }

  private resolve(graph: Graph): Resolved {
    const variables = new Map<string, Operation>();
    const add = (name: string, v: SaveableVariable) => {
      const op = variableOp(graph, v);
      if (variables.has(name))
        throw invalidArgument({ code: "duplicate-variable", node: op.name, message: `the saver's var list names \`${name}\` twice`, fix: "list each variable once" });
      variables.set(name, op);
    };
    if (Array.isArray(this.varList)) for (const v of this.varList) add(variableOp(graph, v).name, v);
    else if (this.varList) for (const [name, v] of Object.entries(this.varList)) add(name, v);
    else {
      const collected = graph.getCollection<Tensor>(GraphKeys.GLOBAL_VARIABLES);
      const ops = collected.length ? collected.map((v) => v.op) : graph.operations.filter((op) => op.type === "VariableV2");
      for (const op of ops) add(op.name, op);
    }
    if (variables.size === 0)
      throw invalidArgument({ code: "no-variables", message: "no variables to save", expected: "a graph with variables, or a varList", fix: "create variables first, or pass { varList }" });
    return { variables };
  }
}

function variableOp(graph: Graph, v: SaveableVariable): Operation {
  const op = typeof v === "string" ? graph.getOperationByName(v.replace(/:0$/, "")) : v instanceof Tensor ? v.op : v;
  if (op.graph !== graph || op.type !== "VariableV2")
    throw invalidArgument({
      code: "not-a-variable",
      node: op.name,
      message: op.graph !== graph ? `\`${op.name}\` belongs to another graph than the session's` : `\`${op.name}\` (${op.type}) is not a variable`,
      expected: "a VariableV2 of the session's graph",
      received: op.type,
      fix: "list the graph's variables (tf.globalVariables()) in varList",
    });
  return op;
}

function stepSuffix(sess: Session, step: number | Tensor | undefined): string {
  if (step === undefined) return "";
  const value = typeof step === "number" ? step : sess.runSync(step).data[0];
  if (!Number.isInteger(value))
    throw invalidArgument({ code: "bad-global-step", message: "the global step must be an integer", received: String(value), fix: "pass an integer step or an int32 scalar tensor" });
  return `-${value}`;
}

function checkEntry(entry: CheckpointEntry, op: Operation, prefix: string): void {
  const dtype = op.outputs[0].dtype;
  const shape = op.attrs.shape as MaybeShape;
  if (entry.dtype !== dtype || !isCompatible(entry.shape, shape))
    throw invalidArgument({
      code: "checkpoint-mismatch",
      node: op.name,
      message: `variable \`${op.name}\` does not match its value in checkpoint \`${prefix}\`${entry.name === op.name ? "" : ` (saved as \`${entry.name}\`)`}`,
      expected: `${dtype} ${formatShape(shape)} (the graph's variable)`,
      received: `${entry.dtype} ${formatShape(entry.shape)} (the checkpoint's)`,
      fix: "restore into a graph built like the one that was saved, or leave this variable out of varList",
    });
}

function openCheckpoint(prefix: string) {
  const file = prefix + CHECKPOINT_SUFFIX;
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const dir = dirname(file);
    const nearby = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(CHECKPOINT_SUFFIX)).map((f) => join(dir, f.slice(0, -CHECKPOINT_SUFFIX.length))) : [];
    throw notFound({
      code: "missing-checkpoint",
      message: `checkpoint \`${prefix}\` not found (no file \`${file}\`: ${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      fix: nearby.length ? suggestion(prefix, nearby, "checkpoint prefix") : "save one first, or find the latest with tf.train.latestCheckpoint(dir)",
    });
  }
  return decodeCheckpoint(bytes, file);
}

/** The variables a checkpoint holds, as tf.train.list_variables: [name, shape] pairs, with dtypes. */
export function listVariables(checkpointPrefix: string): { name: string; dtype: string; shape: number[] }[] {
  return openCheckpoint(stripSuffix(checkpointPrefix)).entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape] }));
}

/** One variable's value from a checkpoint, as tf.train.load_variable. */
export function loadVariable(checkpointPrefix: string, name: string): NDArray {
  const prefix = stripSuffix(checkpointPrefix);
  const reader = openCheckpoint(prefix);
  const entry = reader.entries.find((e) => e.name === name);
  if (!entry)
    throw notFound({ code: "missing-in-checkpoint", node: name, message: `variable \`${name}\` is not in checkpoint \`${prefix}\``, fix: suggestion(name, reader.entries.map((e) => e.name), "variable name") });
  return reader.read(entry);
}

function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Writes TF's CheckpointState (`model_checkpoint_path` + `all_model_checkpoint_paths`), paths relative to `dir` when inside it. */
function writeCheckpointState(dir: string, prefixes: string[], filename: string): void {
  const rel = (p: string) => {
    const r = relative(dir, p);
    return r.startsWith("..") || isAbsolute(r) ? p : r;
  };
  const lines = [`model_checkpoint_path: ${quote(rel(prefixes[prefixes.length - 1]))}`, ...prefixes.map((p) => `all_model_checkpoint_paths: ${quote(rel(p))}`)];
  writeFileAtomically(join(dir, filename), [new TextEncoder().encode(`${lines.join("\n")}\n`)]);
}

/** The paths a `checkpoint` index file lists, resolved against its directory; null when it is missing or unreadable. */
export function getCheckpointState(checkpointDir: string, latestFilename = "checkpoint"): { modelCheckpointPath: string; allModelCheckpointPaths: string[] } | null {
  let text: string;
  try {
    text = fs.readFileSync(join(checkpointDir, latestFilename), "utf8");
  } catch {
    return null;
  }
  const parsed = parseTextFormat(text);
  if (!parsed.ok) return null;
  const strings = (field: string) =>
    fieldValues(parsed.message, field).flatMap((v) => (v.kind === "string" ? [utf8String(v.bytes)] : [])).map((p) => (isAbsolute(p) ? p : join(checkpointDir, p)));
  const latest = strings("model_checkpoint_path");
  if (latest.length === 0) return null;
  return { modelCheckpointPath: latest[latest.length - 1], allModelCheckpointPaths: strings("all_model_checkpoint_paths") };
}

/** `tf.train.latestCheckpoint(dir)`: the prefix of the newest checkpoint listed in `dir/checkpoint`, or null. */
export function latestCheckpoint(checkpointDir: string, latestFilename = "checkpoint"): string | null {
  const state = getCheckpointState(checkpointDir, latestFilename);
  if (!state || !fs.existsSync(state.modelCheckpointPath + CHECKPOINT_SUFFIX)) return null;
  return state.modelCheckpointPath;
}

/** Whether a checkpoint with this prefix exists (tf.train.checkpoint_exists). */
export function checkpointExists(checkpointPrefix: string): boolean {
  return fs.existsSync(stripSuffix(checkpointPrefix) + CHECKPOINT_SUFFIX);
}
