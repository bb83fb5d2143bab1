/**
 * The elementwise table (ir/ops/elementwise.ts): every unary and binary row against tfjs-core on
 * the CPU backend (negatives, zeros, broadcasting, int32, bool outputs), dtype and shape errors,
 * and every gradient rule against tfjs's gradients and central finite differences.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as ew from "../../ir/ops/elementwise";
import { getOpDef } from "../../ir/registry";
import { expectClose } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { checkGradients } from "../helpers/gradcheck";

beforeAll(() => tfjsReady());

type TfjsUnary = (x: tfjs.Tensor) => tfjs.Tensor;
type TfjsBinary = (a: tfjs.Tensor, b: tfjs.Tensor) => tfjs.Tensor;
type DType = "float32" | "int32" | "bool";

/** Builds in a fresh graph and runs on the interpreter. */
function run<T extends tf.Tensor | tf.Tensor[]>(build: () => T): T extends tf.Tensor ? tf.NDArray : tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out as tf.Fetch) as T extends tf.Tensor ? tf.NDArray : tf.NDArray[];
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** `n` values cycled from `pool`, so that every case has negatives, zeros and ties. */
const cycle = (pool: number[], n: number, offset = 0) => Array.from({ length: n }, (_, i) => pool[(i + offset) % pool.length]);
const ours = (values: number[], shape: number[], dtype: DType) => tf.constant(tf.ndarray(values, shape, dtype));
const theirs = (values: number[], shape: number[], dtype: DType) =>
  tfjs.tensor(dtype === "bool" ? values.map((v) => v !== 0) : values, shape, dtype);

// ---------------------------------------------------------------------------------------------
// Unary rows.

const UNARY: Record<string, { tfjs: TfjsUnary; int?: boolean; grad?: boolean }> = {
  Neg: { tfjs: tfjs.neg, int: true, grad: true },
  Square: { tfjs: tfjs.square, int: true, grad: true },
  Sqrt: { tfjs: tfjs.sqrt, grad: true },
  Rsqrt: { tfjs: tfjs.rsqrt, grad: true },
  Exp: { tfjs: tfjs.exp, grad: true },
  Log: { tfjs: tfjs.log, grad: true },
  Abs: { tfjs: tfjs.abs, int: true, grad: true },
  Relu: { tfjs: tfjs.relu, int: true, grad: true },
  Relu6: { tfjs: tfjs.relu6, int: true, grad: true },
  Sigmoid: { tfjs: tfjs.sigmoid, grad: true },
  Tanh: { tfjs: tfjs.tanh, grad: true },
  Elu: { tfjs: tfjs.elu, grad: true },
  Reciprocal: { tfjs: tfjs.reciprocal, grad: true },
  Sign: { tfjs: tfjs.sign, int: true, grad: true },
  Floor: { tfjs: tfjs.floor },
};

const FLOATS = [-2.5, -1, -0.5, 0, 0.5, 1, 2, 3.5, 7, -7.25, 6, 0.125];
const INTS = [-7, -3, -1, 0, 1, 2, 5, 6, 9];

describe("unary rows match tfjs", () => {
  it("the test table covers every unary row", () => {
    expect(Object.keys(UNARY).sort()).toEqual(ew.unaryRows.map((r) => r.type).sort());
  });

  for (const [type, spec] of Object.entries(UNARY)) {
    for (const shape of [[3, 4], [12], [], [2, 0, 3]])
      it(`${type} float32 ${JSON.stringify(shape)}`, () => {
        const values = cycle(FLOATS, sizeOf(shape));
        const out = run(() => ew.unary(type, ours(values, shape, "float32")));
        const expected = spec.tfjs(theirs(values, shape, "float32"));
        expect(out.dtype).toBe("float32");
        expect(out.shape).toEqual(expected.shape);
        expectClose(out.data, tfjsValues(expected), 1e-6, 1e-7);
      });
    if (spec.int)
      it(`${type} int32`, () => {
        const out = run(() => ew.unary(type, ours(INTS, [3, 3], "int32")));
        const expected = spec.tfjs(theirs(INTS, [3, 3], "int32"));
        expect(out.dtype).toBe("int32");
        expect(out.data).toBeInstanceOf(Int32Array);
        expect(out.values()).toEqual(tfjsValues(expected));
      });
    else
      it(`${type} rejects int32, naming the node`, () => {
        const g = new tf.Graph();
        g.asDefault(() => {
          const x = tf.placeholder("int32", [2], "ints");
          expect(() => ew.unary(type, x, "my_op")).toThrow(tf.errors.InvalidArgumentError);
          expect(() => ew.unary(type, x, "my_op_1")).toThrow(/my_op_1: .*int32/);
        });
      });
  }

  it("every unary row rejects bool inputs", () => {
    for (const type of Object.keys(UNARY))
      new tf.Graph().asDefault(() => {
        expect(() => ew.unary(type, tf.constant([true, false]), `bool_${type}`)).toThrow(new RegExp(`bool_${type}: `));
      });
  });
});

// ---------------------------------------------------------------------------------------------
// Binary rows.

interface BinarySpec {
  tfjs: TfjsBinary;
  dtypes: DType[];
  out?: DType;
  grad?: boolean;
  /** Operand pools for float values (Pow wants few negative bases with fractional exponents). */
  pools?: [number[], number[]];
}

const NUMERIC: DType[] = ["float32", "int32"];
const BINARY: Record<string, BinarySpec> = {
  AddV2: { tfjs: tfjs.add, dtypes: NUMERIC, grad: true },
  Sub: { tfjs: tfjs.sub, dtypes: NUMERIC, grad: true },
  Mul: { tfjs: tfjs.mul, dtypes: NUMERIC, grad: true },
  RealDiv: { tfjs: tfjs.div, dtypes: ["float32"], grad: true },
  FloorDiv: { tfjs: tfjs.floorDiv, dtypes: NUMERIC },
  Maximum: { tfjs: tfjs.maximum, dtypes: NUMERIC, grad: true },
  Minimum: { tfjs: tfjs.minimum, dtypes: NUMERIC, grad: true },
  Pow: { tfjs: tfjs.pow, dtypes: NUMERIC, grad: true, pools: [[-2, 1.5, 0, 0.5, 3, -1, 2.5, 4], [2, 0.5, 3, -1, 0, 1.5, -2]] },
  SquaredDifference: { tfjs: tfjs.squaredDifference, dtypes: NUMERIC, grad: true },
  Equal: { tfjs: tfjs.equal, dtypes: ["float32", "int32", "bool"], out: "bool" },
  NotEqual: { tfjs: tfjs.notEqual, dtypes: ["float32", "int32", "bool"], out: "bool" },
  Greater: { tfjs: tfjs.greater, dtypes: NUMERIC, out: "bool" },
  GreaterEqual: { tfjs: tfjs.greaterEqual, dtypes: NUMERIC, out: "bool" },
  Less: { tfjs: tfjs.less, dtypes: NUMERIC, out: "bool" },
  LessEqual: { tfjs: tfjs.lessEqual, dtypes: NUMERIC, out: "bool" },
  LogicalAnd: { tfjs: tfjs.logicalAnd, dtypes: ["bool"], out: "bool" },
  LogicalOr: { tfjs: tfjs.logicalOr, dtypes: ["bool"], out: "bool" },
};

const BROADCASTS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[2, 3], [2, 1]],
  [[2, 3], []],
  [[], [2, 3]],
  [[1, 3], [2, 1]],
  [[3, 1, 2], [4, 1]],
  [[2, 0], [1]],
];

const POOLS: Record<DType, [number[], number[]]> = {
  float32: [[-2, -1.5, 0, 0.5, 1, 3, -0.25, 2.5], [1.5, -2, 0, 0.5, -1, 3, 2.5]],
  int32: [[-7, -2, 0, 3, 5, 1, 4, -1], [2, -3, 1, 3, -1, 4, 5]],
  bool: [[1, 0, 1, 1, 0], [1, 1, 0]],
};

function operands(type: string, spec: BinarySpec, dtype: DType, shapes: [number[], number[]]): [number[], number[]] {
  const [pa, pool] = dtype === "float32" && spec.pools ? spec.pools : POOLS[dtype];
  let pb = pool;
  // Integer division by zero and negative integer powers are errors in TF: keep them out (and
  // tfjs's float floorDiv by zero gives 0 where TF gives ±inf).
  if (type === "FloorDiv") pb = pb.filter((v) => v !== 0);
  if (dtype === "int32" && type === "Pow") pb = pb.filter((v) => v > 0);
  return [cycle(pa, sizeOf(shapes[0])), cycle(pb, sizeOf(shapes[1]), 1)];
}

describe("binary rows match tfjs", () => {
  it("the test table covers every binary row", () => {
    expect(Object.keys(BINARY).sort()).toEqual(ew.binaryRows.map((r) => r.type).sort());
  });

  for (const [type, spec] of Object.entries(BINARY))
    for (const dtype of spec.dtypes)
      for (const shapes of BROADCASTS)
        it(`${type} ${dtype} ${JSON.stringify(shapes[0])} with ${JSON.stringify(shapes[1])}`, () => {
          const [a, b] = operands(type, spec, dtype, shapes);
          const out = run(() => ew.binary(type, ours(a, shapes[0], dtype), ours(b, shapes[1], dtype)));
          const expected = spec.tfjs(theirs(a, shapes[0], dtype), theirs(b, shapes[1], dtype));
          expect(out.dtype).toBe(spec.out ?? dtype);
          expect(out.shape).toEqual(expected.shape);
          if (dtype === "float32" && !spec.out) expectClose(out.data, tfjsValues(expected), 1e-6, 1e-7);
          else expect(out.values()).toEqual(tfjsValues(expected));
        });

  it("comparisons give bool tensors, statically and at run time", () => {
    new tf.Graph().asDefault(() => {
      for (const [type, spec] of Object.entries(BINARY))
        if (spec.out === "bool") {
          const dtype = spec.dtypes[0];
          const t = ew.binary(type, tf.placeholder(dtype, [null, 3]), tf.placeholder(dtype, [3]));
          expect(t.dtype).toBe("bool");
          expect(t.shape).toEqual([null, 3]);
        }
    });
    const out = run(() => tf.greater(tf.constant([[1, 5, 3]]), 2));
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(out.toArray()).toEqual([[false, true, true]]);
  });

  it("builders convert number literals to the tensor operand's dtype", () => {
    const out = run(() => [tf.add(tf.constant([1, 2], [2], "int32"), 3), tf.sub(10, tf.constant([1.5, 2]))]);
    expect(out[0].dtype).toBe("int32");
    expect(out[0].values()).toEqual([4, 5]);
    expect(out[1].values()).toEqual([8.5, 8]);
  });

  it("unknown dims broadcast statically", () => {
    new tf.Graph().asDefault(() => {
      expect(tf.mul(tf.placeholder("float32", [null, 1]), tf.placeholder("float32", [4])).shape).toEqual([null, 4]);
      expect(tf.mul(tf.placeholder("float32", null), tf.placeholder("float32", [4])).shape).toBeNull();
      expect(tf.mul(tf.placeholder("float32", [null, 3]), tf.placeholder("float32", [null, 1])).shape).toEqual([null, 3]);
    });
  });
});

describe("binary op errors name the node", () => {
  it("dtype mismatch", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const n = tf.placeholder("int32", [2], "n");
      let error: unknown;
      try {
        tf.add(x, n, "my_add");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
      const err = error as InstanceType<typeof tf.errors.InvalidArgumentError>;
      expect(err.nodeName).toBe("my_add");
      expect(err.errorCode).toBe("dtype-mismatch");
      expect(err.message).toMatch(/^my_add: .*expected float32, received int32/);
    });
  });

  it("dtypes a row does not accept", () => {
    new tf.Graph().asDefault(() => {
      const n = tf.placeholder("int32", [2], "n");
      const x = tf.placeholder("float32", [2], "x");
      const b = tf.placeholder("bool", [2], "b");
      expect(() => tf.realdiv(n, n, "int_div")).toThrow(/^int_div: RealDiv does not accept int32/);
      expect(() => tf.logicalAnd(x, x, "float_and")).toThrow(/^float_and: LogicalAnd does not accept float32/);
      expect(() => tf.greater(b, b, "bool_greater")).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.mul(b, b, "bool_mul")).toThrow(/bool_mul/);
    });
  });

  it("shapes that do not broadcast", () => {
    new tf.Graph().asDefault(() => {
      const a = tf.placeholder("float32", [2, 3], "a");
      const b = tf.placeholder("float32", [4], "b");
      expect(() => tf.sub(a, b, "bad_sub")).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.sub(a, b, "bad_sub")).toThrow(/^bad_sub(_\d+)?: shapes \[2,3\] and \[4\] cannot be broadcast/);
    });
  });

  it("run-time broadcast failures name the node too", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.mul(tf.placeholder("float32", [null], "p"), tf.placeholder("float32", [null], "q"), "late_mul"));
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(y, { p: [1, 2, 3], q: [1, 2] })).toThrow(/late_mul/);
  });
});

// ---------------------------------------------------------------------------------------------
// Gradient rules.

/** Gradients of sum(dy * f(xs)) through tf.gradients (the driver reduces broadcasts). */
function oursGrad(build: (xs: tf.Tensor[]) => tf.Tensor, values: number[][], shapes: number[][], dy: number[]): tf.NDArray[] {
  return run(() => {
    const xs = values.map((v, i) => tf.placeholderWithDefault(tf.ndarray(v, shapes[i]), shapes[i], `x${i}`));
    const y = build(xs);
    const grads = tf.gradients(y, xs, tf.constant(tf.ndarray(dy, y.shape as number[])));
    return grads.map((g, i) => g ?? tf.constant(0, shapes[i]));
  });
}

function theirGrad(f: (...xs: tfjs.Tensor[]) => tfjs.Tensor, values: number[][], shapes: number[][], dy: number[], outShape: number[]): number[][] {
  const grads = tfjs.grads(f as (...args: tfjs.Tensor[]) => tfjs.Tensor)(values.map((v, i) => tfjs.tensor(v, shapes[i])), tfjs.tensor(dy, outShape));
  return grads.map(tfjsValues);
}

describe("unary gradients match tfjs", () => {
  // Away from the kinks where TF and tfjs pick different subgradients (Abs at 0, Relu6 at 6).
  const values = [-2.5, -1, -0.5, 0.25, 0.5, 1, 2, 3.5, 7, -7.25, 5.5, 0.125];
  const dy = cycle([1, -0.5, 2, 0.25, -3], values.length);
  for (const [type, spec] of Object.entries(UNARY))
    if (spec.grad)
      it(`${type}`, () => {
        const [got] = oursGrad(([x]) => ew.unary(type, x), [values], [[3, 4]], dy);
        const [want] = theirGrad(spec.tfjs, [values], [[3, 4]], dy, [3, 4]);
        expect(got.shape).toEqual([3, 4]);
        expectClose(got.data, want, 1e-5, 1e-6);
      });

  it("Sign's gradient is zeros, and Floor's is none", () => {
    const [sign] = oursGrad(([x]) => tf.sign(x), [values], [[12]], dy);
    expect(sign.values()).toEqual(new Array(12).fill(0));
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [3]);
      expect(tf.gradients(ew.floor(x), x)).toEqual([null]);
      expect(tf.gradients(tf.add(ew.floor(x), x), x)[0]).not.toBeNull();
    });
  });
});

describe("binary gradients match tfjs, with broadcasting", () => {
  const pools: [number[], number[]] = [[-2, -1.5, 0.5, 1, 3, -0.25, 2.5, 0.75], [1.5, -2, 0.5, 2, -1, 3, 2.5]];
  for (const [type, spec] of Object.entries(BINARY))
    if (spec.grad)
      for (const shapes of BROADCASTS.slice(0, 7))
        it(`${type} ${JSON.stringify(shapes[0])} with ${JSON.stringify(shapes[1])}`, () => {
          const [pa, pb] = type === "Pow" ? [[0.5, 1.5, 2, 3, 0.25, 1.25], [2, 0.5, 3, -1, 1.5, -2]] : pools;
          const values = [cycle(pa, sizeOf(shapes[0])), cycle(pb, sizeOf(shapes[1]), 2)];
          const outShape = tfjs.add(tfjs.zeros(shapes[0]), tfjs.zeros(shapes[1])).shape;
          const dy = cycle([1, -0.5, 2, 0.25, -3], sizeOf(outShape));
          const got = oursGrad((xs) => ew.binary(type, xs[0], xs[1]), values, shapes, dy);
          // tfjs's Maximum, Minimum and SquaredDifference gradients do not reduce broadcasts:
          // broadcast the operands first (BroadcastTo's gradient sums).
          const broadcastFirst = (a: tfjs.Tensor, b: tfjs.Tensor) => spec.tfjs(tfjs.broadcastTo(a, outShape), tfjs.broadcastTo(b, outShape));
          const want = theirGrad(broadcastFirst, values, shapes, dy, outShape);
          got.forEach((g, i) => {
            expect(g.shape).toEqual(shapes[i]);
            expectClose(g.data, want[i], 1e-5, 1e-6);
          });
        });

  it("Maximum and Minimum send ties to x, like TF", () => {
    const [mx, my] = oursGrad(([a, b]) => tf.maximum(a, b), [[1, 2, 3], [1, 5, 0]], [[3], [3]], [1, 1, 1]);
    expect([mx.values(), my.values()]).toEqual([[1, 0, 1], [0, 1, 0]]);
    const [nx, ny] = oursGrad(([a, b]) => tf.minimum(a, b), [[1, 2, 3], [1, 5, 0]], [[3], [3]], [1, 1, 1]);
    expect([nx.values(), ny.values()]).toEqual([[1, 1, 0], [0, 0, 1]]);
  });

  it("Pow's exponent gradient is 0 where the base is not positive", () => {
    const [, gy] = oursGrad(([a, b]) => tf.pow(a, b), [[-2, 0, 2], [2, 2, 2]], [[3], [3]], [1, 1, 1]);
    expectClose(gy.data, [0, 0, 4 * Math.log(2)]);
  });

  it("FloorDiv, comparisons and logical ops let no gradient through", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [3]);
      expect(tf.gradients(tf.floorDiv(x, 2), x)).toEqual([null]);
      for (const type of ["Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr"])
        expect(getOpDef(type).nonDifferentiable, type).toBe(true);
    });
  });
});

describe("gradients against finite differences (float64 kernels)", () => {
  const x = Float64Array.from([-1.3, -0.4, 0.3, 0.7, 1.6, 2.2]);
  const positive = Float64Array.from([0.3, 0.7, 1.1, 1.6, 2.2, 3.1]);
  for (const [type, spec] of Object.entries(UNARY))
    if (spec.grad && type !== "Sign")
      it(`${type}`, () => {
        const domain = ["Sqrt", "Rsqrt", "Log"].includes(type) ? positive : x;
        checkGradients(() => {
          const p = tf.placeholder("float32", [2, 3], "x");
          return { y: ew.unary(type, p), xs: [p] };
        }, { x: domain });
      });
  for (const [type, spec] of Object.entries(BINARY))
    if (spec.grad)
      it(`${type} [2,3] with [3]`, () => {
        checkGradients(() => {
          const a = tf.placeholder("float32", [2, 3], "a");
          const b = tf.placeholder("float32", [3], "b");
          return { y: ew.binary(type, a, b), xs: [a, b] };
        }, { a: type === "Pow" ? positive : x, b: [0.9, -1.7, 2.4] });
      });
});

describe("the gradient ops", () => {
  const y = [-0.9, -0.3, 0, 0.4, 0.8, 2, 5.5, 6, 7];
  const dy = [1, -2, 0.5, 3, -1, 0.25, 2, -4, 1.5];
  const formulas: Record<string, (a: number, b: number) => number> = {
    ReluGrad: (g, f) => (f > 0 ? g : 0),
    Relu6Grad: (g, f) => (f > 0 && f < 6 ? g : 0),
    EluGrad: (g, out) => (out < 0 ? g * (out + 1) : g),
    SigmoidGrad: (s, g) => g * s * (1 - s),
    TanhGrad: (t, g) => g * (1 - t * t),
    SqrtGrad: (r, g) => (0.5 * g) / r,
    RsqrtGrad: (r, g) => -0.5 * g * r * r * r,
    ReciprocalGrad: (r, g) => -g * r * r,
  };
  it("the test table covers every gradient row", () => {
    expect(Object.keys(formulas).sort()).toEqual(ew.gradientRows.map((r) => r.type).sort());
  });
  for (const [type, formula] of Object.entries(formulas))
    it(`${type} computes TF's formula`, () => {
      const [first, second] = type.startsWith("Relu") || type === "EluGrad" ? [dy, y] : [y, dy];
      const out = run(() => ew.binary(type, tf.constant(first), tf.constant(second)));
      expectClose(out.data, first.map((a, i) => formula(a, second[i])), 1e-6, 1e-7);
    });

  // Second order: differentiate the first-order gradient (through these ops) again, in x and in dy.
  const activations: [string, (t: tf.Tensor) => tf.Tensor, number[]][] = [
    ["Relu", tf.nn.relu, [-1.2, -0.3, 0.4, 1.7, 2.5, -2]],
    ["Relu6", tf.nn.relu6, [-1.2, -0.3, 0.4, 1.7, 6.5, 5.2]],
    ["Elu", tf.nn.elu, [-1.2, -0.3, 0.4, 1.7, 2.5, -2]],
    ["Sigmoid", tf.sigmoid, [-1.2, -0.3, 0.4, 1.7, 2.5, -2]],
    ["Tanh", tf.tanh, [-1.2, -0.3, 0.4, 1.7, 2.5, -2]],
    ["Sqrt", tf.sqrt, [0.3, 0.6, 1.2, 1.7, 2.5, 4]],
    ["Rsqrt", tf.rsqrt, [0.3, 0.6, 1.2, 1.7, 2.5, 4]],
    ["Reciprocal", tf.reciprocal, [0.3, -0.6, 1.2, -1.7, 2.5, 4]],
  ];
  for (const [name, f, values] of activations)
    it(`second-order gradient through ${name}'s gradient op`, () => {
      checkGradients(() => {
        const x = tf.placeholder("float32", [6], "x");
        const v = tf.placeholder("float32", [6], "v");
        const [g] = tf.gradients(f(x), x, v);
        return { y: g!, xs: [x, v] };
      }, { x: values, v: [0.5, -1.5, 2, 1, -0.7, 1.3] });
    });
});
