import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fromText } from "../../ir/graphdef/read";

const floatConst = (name: string, tensor: string) =>
  `node { name: "${name}" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT ${tensor} } } } }\n`;
const identity = (name: string, ...inputs: string[]) => `node { name: "${name}" op: "Identity" ${inputs.map((i) => `input: "${i}"`).join(" ")} }\n`;

function constValue(graph: tf.Graph, name: string): tf.NDArray {
  return graph.getOperationByName(name).attrs.value as tf.NDArray;
}

/** A TF1 graph as tf.io.write_graph prints it: x * w with a variable, its initializer and `T` / `_class` attrs. */
const TF1_TEXT = `node {
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
          size: 2
        }
      }
    }
  }
}
node {
  name: "w/initial_value"
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
            size: 2
          }
        }
        tensor_content: "\\000\\000\\200?\\000\\000\\000@"
      }
    }
  }
}
node {
  name: "w"
  op: "VariableV2"
  attr {
    key: "container"
    value {
      s: ""
    }
  }
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
          size: 2
        }
      }
    }
  }
  attr {
    key: "shared_name"
    value {
      s: ""
    }
  }
}
node {
  name: "w/Assign"
  op: "Assign"
  input: "w"
  input: "w/initial_value"
  attr {
    key: "T"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "_class"
    value {
      list {
        s: "loc:@w"
      }
    }
  }
  attr {
    key: "use_locking"
    value {
      b: true
    }
  }
  attr {
    key: "validate_shape"
    value {
      b: true
    }
  }
}
node {
  name: "w/read"
  op: "Identity"
  input: "w"
  attr {
    key: "T"
    value {
      type: DT_FLOAT
    }
  }
  attr {
    key: "_class"
    value {
      list {
        s: "loc:@w"
      }
    }
  }
}
node {
  name: "mul"
  op: "Mul"
  input: "x"
  input: "w/read"
  attr {
    key: "T"
    value {
      type: DT_FLOAT
    }
  }
}
node {
  name: "init"
  op: "NoOp"
  input: "^w/Assign"
}
versions {
  producer: 134
}
`;

describe("importGraphDef: a TF1-written GraphDef", () => {
  it("imports variables, initializers and attrs outside the op schemas, and runs", () => {
    const g = tf.importGraphDef(TF1_TEXT);
    expect(g.getOperationByName("w/Assign").attrs).toMatchObject({ T: "float32", _class: ["loc:@w"], use_locking: true, validate_shape: true });
    expect(g.getTensorByName("x:0").shape).toEqual([null, 2]);
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.getOperationByName("init"));
    const x = [[1, 1], [2, 3], [-0.5, 4]];
    const w = [1, 2];
    const y = sess.runSync("mul:0", { x });
    expect(y.toArray()).toEqual(x.map((row) => row.map((v, j) => v * w[j])));
  });

  it("writes the same text back (attr kinds outside the schema are remembered)", () => {
    expect(tf.importGraphDef(TF1_TEXT).asGraphDef().toText()).toBe(TF1_TEXT);
  });
});

describe("importGraphDef: tensors and shapes", () => {
  it("reads tensor_content with octal escapes as little-endian values", () => {
    const g = tf.importGraphDef(
      floatConst("f", 'tensor_shape { dim { size: 3 } } tensor_content: "\\000\\000\\200?\\000\\000\\000@\\000\\000@@"') +
        'node { name: "i" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } } tensor_content: "\\001\\000\\000\\000\\377\\377\\377\\377" } } } }',
    );
    expect(Array.from(constValue(g, "f").data)).toEqual([1, 2, 3]);
    expect(Array.from(constValue(g, "i").data)).toEqual([1, -1]);
    expect(constValue(g, "i").dtype).toBe("int32");
  });

  it("pads repeated *_val with the last value to fill the shape, and reads none as zeros", () => {
    const g = tf.importGraphDef(
      floatConst("padded", "tensor_shape { dim { size: 2 } dim { size: 2 } } float_val: 1.5 float_val: -2") +
        floatConst("zeros", "tensor_shape { dim { size: 3 } }") +
        floatConst("scalar", "tensor_shape { } float_val: 1e-05") +
        'node { name: "b" op: "Const" attr { key: "dtype" value { type: DT_BOOL } } attr { key: "value" value { tensor { dtype: DT_BOOL tensor_shape { dim { size: 3 } } bool_val: true } } } }',
    );
    expect(constValue(g, "padded").shape).toEqual([2, 2]);
    expect(Array.from(constValue(g, "padded").data)).toEqual([1.5, -2, -2, -2]);
    expect(Array.from(constValue(g, "zeros").data)).toEqual([0, 0, 0]);
    expect(constValue(g, "scalar").shape).toEqual([]);
    expect(constValue(g, "scalar").data[0]).toBe(Math.fround(1e-5));
    expect(Array.from(constValue(g, "b").data)).toEqual([1, 1, 1]);
  });

  it("rejects a tensor_content whose size does not fit the shape, and too many values", () => {
    expect(() => tf.importGraphDef(floatConst("c", 'tensor_shape { dim { size: 2 } } tensor_content: "\\000\\000\\200?"'))).toThrowError(
      /c: the tensor_content .* does not fit its shape \[2\] \(expected 8 bytes, received 4 bytes\)/,
    );
    expect(() => tf.importGraphDef(floatConst("c", "tensor_shape { dim { size: 1 } } float_val: 1 float_val: 2"))).toThrowError(tf.errors.InvalidArgumentError);
  });

  it("maps dims of -1 to null and unknown_rank to an unknown shape", () => {
    const ph = (name: string, shape: string) => `node { name: "${name}" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "shape" value { shape { ${shape} } } } }\n`;
    const g = tf.importGraphDef(ph("a", "dim { size: -1 } dim { size: 4 }") + ph("b", "unknown_rank: true") + ph("c", ""));
    expect(g.getTensorByName("a:0").shape).toEqual([null, 4]);
    expect(g.getTensorByName("b:0").shape).toBeNull();
    expect(g.getTensorByName("c:0").shape).toEqual([]);
    expect(g.getOperationByName("a").attrs.shape).toEqual([null, 4]);
  });

  it("reports dtypes foldflow does not compute with as UnimplementedError naming the node", () => {
    // DT_INT64 is narrowed to int32 (test/graphdef/tf1-import.test.ts); DT_DOUBLE is refused.
    const text = 'node { name: "big" op: "Const" attr { key: "dtype" value { type: DT_DOUBLE } } attr { key: "value" value { tensor { dtype: DT_DOUBLE tensor_shape { } double_val: 3 } } } }';
    expect(() => tf.importGraphDef(text)).toThrowError(tf.errors.UnimplementedError);
    expect(() => tf.importGraphDef(text)).toThrowError(/big: .*DT_DOUBLE/);
  });
});

describe("importGraphDef: names, order and errors", () => {
  it("builds nodes whose inputs are defined later in the file", () => {
    const text = 'node { name: "y" op: "Mul" input: "a" input: "b" }\n' + identity("b", "c") + floatConst("a", "tensor_shape { } float_val: 2") + floatConst("c", "tensor_shape { } float_val: 3.5");
    const g = tf.importGraphDef(text);
    expect(g.operations.map((o) => o.name)).toEqual(["a", "c", "b", "y"]);
    expect(new tf.Session({ graph: g }).runSync("y:0").data[0]).toBe(2 * 3.5);
  });

  it("reports a cycle with its members", () => {
    const text = floatConst("k", "tensor_shape { } float_val: 1") + identity("a", "c") + identity("b", "a") + identity("c", "b");
    expect(() => tf.importGraphDef(text)).toThrowError(tf.errors.InvalidArgumentError);
    expect(() => tf.importGraphDef(text)).toThrowError(/the GraphDef has a cycle: `[abc]` -> `[abc]` -> `[abc]` -> `[abc]`/);
    expect(() => tf.importGraphDef(identity("self", "self"))).toThrowError(/cycle: `self` -> `self`/);
    const control = floatConst("k", "tensor_shape { } float_val: 1") + identity("p", "k", "^q") + identity("q", "k", "^p");
    expect(() => tf.importGraphDef(control)).toThrowError(/cycle/);
  });

  it("reports an unknown op type with the node and a suggestion", () => {
    const text = floatConst("k", "tensor_shape { } float_val: 1") + 'node { name: "layer/act" op: "Relu7" input: "k" }';
    expect(() => tf.importGraphDef(text)).toThrowError(tf.errors.NotFoundError);
    expect(() => tf.importGraphDef(text)).toThrowError(/layer\/act: op type `Relu7` is not registered.*did you mean `Relu`/);
  });

  it("reports an unknown input with the node and a suggestion", () => {
    const text = floatConst("logits", "tensor_shape { } float_val: 1") + identity("out", "logit:0");
    expect(() => tf.importGraphDef(text)).toThrowError(tf.errors.NotFoundError);
    expect(() => tf.importGraphDef(text)).toThrowError(/input `logit:0` of node `out` \(Identity\) names no node.*did you mean `logits`/);
    expect(() => tf.importGraphDef(floatConst("k", "tensor_shape { } float_val: 1") + identity("out", "^nothing"))).toThrowError(/`\^nothing`/);
  });

  it("reports an output index past the producer's outputs, and duplicate names", () => {
    expect(() => tf.importGraphDef(floatConst("k", "tensor_shape { } float_val: 1") + identity("out", "k:1"))).toThrowError(/`k` \(Const\) has 1 output\(s\)/);
    expect(() => tf.importGraphDef(floatConst("k", "tensor_shape { } float_val: 1").repeat(2))).toThrowError(tf.errors.AlreadyExistsError);
    const g = tf.importGraphDef(floatConst("k", "tensor_shape { } float_val: 1"));
    expect(() => tf.importGraphDef(floatConst("k", "tensor_shape { } float_val: 1"), { graph: g })).toThrowError(tf.errors.AlreadyExistsError);
  });

  it("reports an attribute of the wrong kind and a missing required attribute", () => {
    const wrong = 'node { name: "p" op: "Placeholder" attr { key: "dtype" value { i: 1 } } }';
    expect(() => tf.importGraphDef(wrong)).toThrowError(/p: attribute `dtype` has the wrong kind in the GraphDef \(expected type, received int\)/);
    expect(() => tf.importGraphDef('node { name: "p" op: "Placeholder" }')).toThrowError(/p: Placeholder needs the attribute `dtype`/);
  });

  it("uniquifies names built after an import against the imported ones", () => {
    const g = tf.importGraphDef(floatConst("Const", "tensor_shape { } float_val: 1") + floatConst("Const_1", "tensor_shape { } float_val: 2"));
    const next = g.asDefault(() => tf.constant(3, [], "float32"));
    expect(next.op.name).toBe("Const_2");
  });

  it("fromText keeps the model's plain shape: inputs, attrs, versions", () => {
    const gd = fromText(TF1_TEXT);
    expect(gd.node.map((n) => n.name)).toEqual(["x", "w/initial_value", "w", "w/Assign", "w/read", "mul", "init"]);
    expect(gd.node[3].input).toEqual(["w", "w/initial_value"]);
    expect(gd.node[6].input).toEqual(["^w/Assign"]);
    expect(gd.node[0].attr.shape).toEqual({ shape: { dim: [{ size: -1 }, { size: 2 }] } });
    expect(gd.versions).toEqual({ producer: 134 });
  });
});
