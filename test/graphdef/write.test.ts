import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { formatDouble, formatFloat32 } from "../../ir/graphdef/text-scalars";
import { escapeBytes } from "../../ir/graphdef/text-tree";
import { toGraphDef, toText } from "../../ir/graphdef/write";
import type { GraphDef } from "../../ir/graphdef/model";

describe("GraphDef text format: scalars as TF's Python writer prints them", () => {
  // Expected strings are what protobuf's Python text_format prints for these float32 values.
  it("prints floats as the shortest float32 decimal in Python's repr style", () => {
    const cases: [number, string][] = [
      [0.1, "0.1"], [1, "1.0"], [-2.5, "-2.5"], [1e-5, "1e-05"], [0.0001, "0.0001"], [6e-5, "6e-05"],
      [1e16, "1e+16"], [1e15, "1000000000000000.0"], [100000, "100000.0"], [123456789, "123456790.0"],
      [3.4e38, "3.4e+38"], [1.4e-45, "1.4013e-45"], [0, "0.0"], [-0, "-0.0"],
      [Infinity, "inf"], [-Infinity, "-inf"], [NaN, "nan"], [1 / 3, "0.33333334"],
      // Ties round to even as printf("%.8g") does: 226634.125 -> 226634.12.
      [226634.125, "226634.12"],
    ];
    for (const [x, s] of cases) expect(formatFloat32(x), String(x)).toBe(s);
  });

  it("prints doubles as Python's repr", () => {
    expect(formatDouble(2 / 3)).toBe("0.6666666666666666");
    expect(formatDouble(1e300)).toBe("1e+300");
    expect(formatDouble(1e-300)).toBe("1e-300");
    expect(formatDouble(0.1)).toBe("0.1");
  });

  it("C-escapes bytes with 3-digit octal for non-printable ones", () => {
    const bytes = Uint8Array.from([0, 1, 10, 13, 9, 34, 39, 92, 63, 65, 127, 128, 255]);
    expect(escapeBytes(bytes)).toBe(String.raw`\000\001\n\r\t\"\'\\?A\177\200\377`);
  });
});

describe("toGraphDef / toText", () => {
  it("writes placeholders, consts and inputs exactly as TF does", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const c = tf.constant([1, 2, 3], [3], "float32", "c");
      tf.mul(x, c, "mul");
    });
    const expected = `node {
  name: "x"
  op: "Placeholder"
  attr {
    key: "dtype"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "shape"
    value {
      shape {
        dim {
          size: -1
        }
        dim {
          size: 3
        }
      }
    }
  }
}
node {
  name: "c"
  op: "Const"
  attr {
    key: "dtype"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "value"
    value {
      tensor {
        dtype: DT_FLOAT
        tensor_shape {
          dim {
            size: 3
          }
        }
        tensor_content: "\\000\\000\\200?\\000\\000\\000@\\000\\000@@"
      }
    }
  }
}
node {
  name: "mul"
  op: "Mul"
  input: "x"
  input: "c"
}
versions {
  producer: 134
}
`;
    expect(g.asGraphDef().toText()).toBe(expected);
  });

  it("writes scalars as *_val, an empty tensor_shape, unknown-rank shapes, and int32 tensor_content little-endian", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      tf.constant(0.5, [], "float32", "f");
      tf.constant(-3, [], "int32", "i");
      tf.constant([1, -1], [2], "int32", "iv");
      tf.constant([true, false], [2], "bool", "bv");
      tf.placeholder("int32", null, "p");
    });
    const gd = toGraphDef(g);
    const attr = (name: string, key: string) => gd.node.find((n) => n.name === name)!.attr[key];
    expect(attr("f", "value")).toEqual({ tensor: { dtype: "DT_FLOAT", tensorShape: { dim: [] }, floatVal: [0.5] } });
    expect(attr("i", "value")).toEqual({ tensor: { dtype: "DT_INT32", tensorShape: { dim: [] }, intVal: [-3] } });
    expect(attr("iv", "value")).toEqual({ tensor: { dtype: "DT_INT32", tensorShape: { dim: [{ size: 2 }] }, tensorContent: Uint8Array.from([1, 0, 0, 0, 255, 255, 255, 255]) } });
    expect(attr("bv", "value")).toEqual({ tensor: { dtype: "DT_BOOL", tensorShape: { dim: [{ size: 2 }] }, boolVal: [true, false] } });
    expect(attr("p", "shape")).toEqual({ shape: { dim: [], unknownRank: true } });
    const text = toText(gd);
    expect(text).toContain("        tensor_shape {\n        }\n        float_val: 0.5\n");
    expect(text).toContain("        int_val: -3\n");
    expect(text).toContain('        tensor_content: "\\001\\000\\000\\000\\377\\377\\377\\377"\n');
    expect(text).toContain("      shape {\n        unknown_rank: true\n      }\n");
  });

  it("writes control inputs after data inputs, output indices, and sorted attrs", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const a = tf.constant(1, [], "float32", "a");
      const n = tf.noOp("first");
      tf.controlDependencies([n], () => tf.cond(p, () => tf.identity(a), () => tf.neg(a)));
    });
    const gd = toGraphDef(g);
    const merge = gd.node.find((n) => n.op === "Merge")!;
    expect(merge.attr.N).toEqual({ i: 2 });
    const switched = gd.node.filter((n) => n.op === "Switch");
    expect(switched.length).toBeGreaterThan(0);
    const consumersOfTrue = gd.node.filter((n) => n.input.some((i) => /^cond\/switch_t:1$/.test(i)));
    expect(consumersOfTrue.length).toBe(1);
    for (const node of gd.node) {
      const firstControl = node.input.findIndex((i) => i.startsWith("^"));
      if (firstControl >= 0) expect(node.input.slice(firstControl).every((i) => i.startsWith("^")), node.name).toBe(true);
    }
    expect(gd.node.some((n) => n.input.includes("^first"))).toBe(true);
  });

  it("converts attrs outside the op schema by their JS value", () => {
    const g = new tf.Graph();
    g.addOp({
      type: "NoOp",
      name: "n",
      attrs: { T: "float32", _class: ["loc:@w"], epsilon: 0.001, N: 2, flag: false, sizes: [1, 2], shape: [2, null], Tlist: ["int32", "bool"], label: "SAME" },
    });
    const attr = toGraphDef(g).node[0].attr;
    expect(attr).toEqual({
      T: { type: "DT_FLOAT" },
      _class: { list: { s: ["loc:@w"] } },
      epsilon: { f: 0.001 },
      N: { i: 2 },
      flag: { b: false },
      sizes: { list: { i: [1, 2] } },
      shape: { shape: { dim: [{ size: 2 }, { size: -1 }] } },
      Tlist: { list: { type: ["DT_INT32", "DT_BOOL"] } },
      label: { s: "SAME" },
    });
    const text = toText({ node: toGraphDef(g).node });
    expect(text.indexOf('key: "N"')).toBeLessThan(text.indexOf('key: "T"'));
    expect(text.indexOf('key: "T"')).toBeLessThan(text.indexOf('key: "_class"'));
    expect(text).toContain("      f: 0.001\n");
  });

  it("writes the GraphDef library back unchanged", () => {
    const gd: GraphDef = tf.importGraphDef("").asGraphDef();
    expect(gd.node).toEqual([]);
    const withLibrary = toText({ node: [], library: { fields: [{ name: "function", value: { kind: "message", message: { fields: [] } } }] } });
    expect(withLibrary).toBe("library {\n  function {\n  }\n}\n");
  });
});
