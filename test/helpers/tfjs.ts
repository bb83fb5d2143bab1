/** tfjs-core on its CPU backend: the op-level oracle for reference kernels. */
import * as tfjs from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-core/dist/register_all_gradients";

let ready: Promise<void> | null = null;
export function tfjsReady(): Promise<void> {
  ready ??= tfjs.setBackend("cpu").then(() => tfjs.ready());
  return ready;
}
export { tfjs };

/** Values of a tfjs tensor as a flat number array (bools as 0/1). */
export function tfjsValues(t: tfjs.Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>, (v) => Number(v));
}
