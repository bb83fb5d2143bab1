/**
 * `npm start`: the end-to-end example — the TF1 batch-norm MNIST network trained on real digits,
 * linted, frozen, folded and compiled to wasm and js modules in build/ (examples/mnist-batchnorm.ts,
 * examples/mnist-inference.ts, examples/mnist-compile.ts). Flags pass through:
 * `npm start -- --epochs 2`, `--full`, `--backend interpreter|js|wasm`.
 */
import { run } from "./mnist-batchnorm";

await run(process.argv.slice(2));
