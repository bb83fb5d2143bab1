/**
 * Plain float64 reference for batch-normalization tests: per-channel statistics over flat
 * data, normalization and moving-average updates, written out with loops (no foldflow).
 */

/** Channel of flat index i: channels last ([..., C]) or channels first ([N, C, inner]). */
export function channelsLast(C: number): (i: number) => number {
  return (i) => i % C;
}
export function channelsFirst(C: number, inner: number): (i: number) => number {
  return (i) => Math.floor(i / inner) % C;
}

export interface Stats {
  mean: number[];
  /** Biased (divided by the count, or the weight sum). */
  variance: number[];
  count: number[];
}

/** Per-channel mean and biased variance; `weight(i)` counts element i that many times. */
export function channelStats(x: ArrayLike<number>, C: number, channelOf: (i: number) => number, weight: (i: number) => number = () => 1): Stats {
  const sw = new Array<number>(C).fill(0);
  const swx = new Array<number>(C).fill(0);
  const count = new Array<number>(C).fill(0);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i);
    sw[c] += weight(i);
    swx[c] += weight(i) * x[i];
    count[c]++;
  }
  const mean = swx.map((s, c) => s / sw[c]);
  const sq = new Array<number>(C).fill(0);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i);
    sq[c] += weight(i) * (x[i] - mean[c]) ** 2;
  }
  return { mean, variance: sq.map((s, c) => s / sw[c]), count };
}

/** gamma·(x - mean)/sqrt(variance + ε) + beta per element. */
export function normalize(
  x: ArrayLike<number>,
  channelOf: (i: number) => number,
  mean: number[],
  variance: number[],
  gamma: number[] | null,
  beta: number[] | null,
  epsilon: number,
): number[] {
  return Array.from(x, (v, i) => {
    const c = channelOf(i);
    return ((v - mean[c]) / Math.sqrt(variance[c] + epsilon)) * (gamma ? gamma[c] : 1) + (beta ? beta[c] : 0);
  });
}

/** moving -= (moving - value)·(1 - momentum). */
export function movingUpdate(moving: number[], value: number[], momentum: number): number[] {
  return moving.map((m, c) => m - (m - value[c]) * (1 - momentum));
}

/** n/(n-1)·variance (the Bessel-corrected variance FusedBatchNorm returns). */
export function bessel(variance: number[], n: number): number[] {
  return variance.map((v) => (v * n) / (n - 1));
}

/** Transposes NHWC data [N, H, W, C] to NCHW. */
export function nhwcToNchw(x: ArrayLike<number>, [N, H, W, C]: number[]): number[] {
  const out = new Array<number>(N * C * H * W);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = x[((n * H + h) * W + w) * C + c];
  return out;
}

/** Deterministic data with a per-channel scale and shift: value(i) = shift[c] + scale[c]·u(i). */
export function channelData(n: number, C: number, seed: number, scale: number[], shift: number[]): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u = (s >>> 0) / 4294967296 - 0.5;
    out[i] = shift[i % C] + scale[i % C] * u;
  }
  return out;
}
