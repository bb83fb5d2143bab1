/**
 * What the training benchmarks ((1) MNIST, (4) conv net) share: a trainer (one step, and the
 * sanity steps from the initial values) and the tfjs side's variables made from foldflow's
 * initial values, with the wrapper that resets them for the sanity steps.
 */
import { ndarray } from "foldflow";
import type * as tf from "foldflow";
import { reason } from "./foldflow";
import { tfc, useTfjs, type TfjsBackend } from "./peers";

/** What the sanity steps leave behind: the loss and every variable, by foldflow's variable name. */
export interface StepResult {
  loss: number;
  variables: Map<string, Float32Array>;
}

export interface Trainer {
  impl: string;
  step(): number;
  /** The sanity steps from the initial values: the last loss and the variables. */
  checkSteps(): StepResult;
  before?: () => Promise<void>;
}

/** tfjs variables (named `${prefix}/${name}`) holding foldflow's initial values; moving statistics are not trainable. */
export function tfjsVariables(initial: ReadonlyMap<string, tf.NDArray>, prefix: string): { vars: Map<string, tfc.Variable>; v(name: string): tfc.Variable; trainable: tfc.Variable[] } {
  const names = [...initial.keys()];
  const vars = new Map(
    names.map((name) => {
      const value = initial.get(name)!;
      return [name, tfc.variable(tfc.tensor(Float32Array.from(value.data), value.shape), !/moving_/.test(name), `${prefix}/${name}`)] as const;
    }),
  );
  const v = (name: string) => {
    const variable = vars.get(name);
    if (!variable) throw new Error(`no variable ${name} (have ${names.join(", ")})`);
    return variable;
  };
  return { vars, v, trainable: names.filter((n) => !/moving_/.test(n)).map(v) };
}

/** The tfjs trainer around `step`: its sanity steps start again from the initial values. */
export function tfjsTrainerOf(backend: TfjsBackend, initial: ReadonlyMap<string, tf.NDArray>, vars: ReadonlyMap<string, tfc.Variable>, step: () => number, checkSteps: number): Trainer {
  return {
    impl: `tfjs-${backend}`,
    step,
    checkSteps: () => {
      for (const [name, variable] of vars) variable.assign(tfc.tensor(Float32Array.from(initial.get(name)!.data), initial.get(name)!.shape));
      let loss = NaN;
      for (let i = 0; i < checkSteps; i++) loss = step();
      return { loss, variables: new Map([...vars].map(([name, variable]) => [name, Float32Array.from(variable.dataSync())])) };
    },
    before: () => useTfjs(backend),
  };
}

/**
 * The foldflow trainer around `step` on `sess`: the first step is awaited (the wasm backend's
 * code generator loads then; a failure is the reason returned), and its sanity steps start again
 * from the initial values (running the initializers again would draw new ones).
 */
export async function foldflowTrainerOf(
  backend: string,
  sess: tf.Session,
  init: tf.Operation,
  first: () => Promise<unknown>,
  step: () => number,
  initial: ReadonlyMap<string, tf.NDArray>,
  checkSteps: number,
): Promise<Trainer | string> {
  try {
    await sess.run(init);
    await first();
  } catch (e) {
    return `first run failed: ${reason(e)}`;
  }
  return {
    impl: `foldflow ${backend}`,
    step,
    checkSteps: () => {
      for (const [name, value] of initial) sess.setVariableValue(name, ndarray(Float32Array.from(value.data), value.shape));
      let loss = NaN;
      for (let i = 0; i < checkSteps; i++) loss = step();
      return { loss, variables: new Map([...sess.variableValues].map(([name, v]) => [name, Float32Array.from(v.data)])) };
    },
  };
}
