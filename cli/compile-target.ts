/**
 * What `foldflow compile` and `foldflow export --format js|wasm|wgsl` check before loading the
 * code generators: the target, the options, and `--input-shape` values.
 */
import { invalidArgument } from "../ir/diagnostics";

export type Target = "js" | "wasm" | "wgsl";

/** The targets `foldflow compile --target` accepts, in the order the help and errors list them. */
export const TARGETS: readonly Target[] = ["js", "wasm", "wgsl"];

export interface CompileModelOptions {
  outputs?: string[];
  target?: string;
  /** false: compile without folding batch norms first. */
  fold?: boolean;
  training?: string;
  /** `name=d0,d1,...`: concrete input shapes for the generated code. */
  inputShape?: string[];
}

export const COMPILE_STEPS = 4;

/** The targets tf.compile accepts, checked before any work. */
export function checkTarget(target: string | undefined): Target {
  const t = target ?? "js";
  if (!(TARGETS as readonly string[]).includes(t))
    throw invalidArgument({ code: "bad-target", message: `unknown target \`${t}\``, expected: "js, wasm or wgsl", received: t, fix: "pass --target js, --target wasm or --target wgsl" });
  return t as Target;
}

/** `--input-shape x=8,28,28,1` -> { x: [8, 28, 28, 1] }. */
export function parseInputShapes(specs: readonly string[]): Record<string, number[]> | undefined {
  if (specs.length === 0) return undefined;
  const shapes: Record<string, number[]> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const dims = eq > 0 ? spec.slice(eq + 1).split(",").map((d) => Number(d.trim())) : [];
    if (eq <= 0 || dims.some((d) => !Number.isInteger(d) || d < 0) || spec.slice(eq + 1).trim() === "")
      throw invalidArgument({ code: "bad-option", message: `--input-shape \`${spec}\` is not name=d0,d1,...`, fix: "pass --input-shape x=8,28,28,1" });
    shapes[spec.slice(0, eq)] = dims;
  }
  return shapes;
}
