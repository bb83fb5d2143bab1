/**
 * `npm start`: the end-to-end example — the TF1 batch-norm MNIST network trained on real digits,
 * linted, frozen and folded (examples/mnist-batchnorm.ts). Flags pass through:
 * `npm start -- --epochs 2`, `--full`, `--backend interpreter|js`.
 */
import { run } from "./mnist-batchnorm";

await run(process.argv.slice(2));
