/** cli/npy.ts: .npy reading and writing (versions 1.0 and 2.0, the dtypes numpy writes by default). */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { readNpy, writeNpy } from "../../cli/npy";

/** A .npy file as numpy writes it: magic, version, header length, header dict, data. */
function npyBytes(descr: string, shape: number[], data: Uint8Array, version = 1, fortran = false): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shapeText}, }`;
  const prefix = version === 1 ? 10 : 12;
  header += " ".repeat((64 - ((prefix + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[prefix + i] = header.charCodeAt(i);
  out.set(data, prefix + header.length);
  return out;
}

function bytesOf(values: number[], size: 4 | 8, kind: "f" | "i", little = true): Uint8Array {
  const out = new Uint8Array(values.length * size);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (kind === "f") size === 4 ? view.setFloat32(i * size, v, little) : view.setFloat64(i * size, v, little);
    else size === 4 ? view.setInt32(i * size, v, little) : view.setBigInt64(i * size, BigInt(v), little);
  });
  return out;
}

describe("npy", () => {
  it("reads float32, int32 and bool arrays in C order", () => {
    const f = readNpy(npyBytes("<f4", [2, 3], bytesOf([1, 2, 3, 4, 5, 6.5], 4, "f")));
    expect(f.dtype).toBe("float32");
    expect(f.shape).toEqual([2, 3]);
    expect(f.toArray()).toEqual([[1, 2, 3], [4, 5, 6.5]]);
    const i = readNpy(npyBytes("<i4", [3], bytesOf([-1, 0, 7], 4, "i")));
    expect([i.dtype, i.values()]).toEqual(["int32", [-1, 0, 7]]);
    const b = readNpy(npyBytes("|b1", [2, 2], Uint8Array.from([1, 0, 0, 1])));
    expect(b.toArray()).toEqual([[true, false], [false, true]]);
    const scalar = readNpy(npyBytes("<f4", [], bytesOf([3.5], 4, "f")));
    expect([scalar.shape, scalar.scalar()]).toEqual([[], 3.5]);
  });

  it("converts numpy's defaults (float64, int64), big-endian data, and reads version 2.0", () => {
    expect(readNpy(npyBytes("<f8", [2], bytesOf([0.25, -2], 8, "f"))).values()).toEqual([0.25, -2]);
    const i64 = readNpy(npyBytes("<i8", [2], bytesOf([5, -6], 8, "i")));
    expect([i64.dtype, i64.values()]).toEqual(["int32", [5, -6]]);
    expect(readNpy(npyBytes(">f4", [2], bytesOf([1.5, 2], 4, "f", false))).values()).toEqual([1.5, 2]);
    expect(readNpy(npyBytes("<f4", [1], bytesOf([9], 4, "f"), 2)).values()).toEqual([9]);
  });

  it("round-trips through writeNpy with a 64-byte aligned header", () => {
    for (const a of [tf.ndarray([[1.5, -2], [3, 4]]), tf.ndarray([1, 2, 3], [3], "int32"), tf.ndarray([true, false], [2], "bool"), tf.ndarray(7)]) {
      const bytes = writeNpy(a);
      const headerLength = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + headerLength) % 64).toBe(0);
      const back = readNpy(bytes);
      expect([back.dtype, back.shape, back.values()]).toEqual([a.dtype, a.shape, a.values()]);
    }
  });

  it("rejects what it cannot read, naming the file", () => {
    expect(() => readNpy(new TextEncoder().encode("[[1, 2]]"), "a.npy")).toThrow(/a\.npy: not a \.npy file/);
    const full = npyBytes("<f4", [4], bytesOf([1, 2, 3, 4], 4, "f"));
    expect(() => readNpy(full.subarray(0, full.length - 3), "t.npy")).toThrow(/t\.npy: the \.npy file is truncated/);
    expect(() => readNpy(full.subarray(0, 20), "h.npy")).toThrow(/truncated inside its header/);
    expect(() => readNpy(npyBytes("<c8", [1], new Uint8Array(8)), "c.npy")).toThrow(/numpy dtype '<c8' is not supported/);
    expect(() => readNpy(npyBytes("<f4", [2, 2], bytesOf([1, 2, 3, 4], 4, "f"), 1, true), "f.npy")).toThrow(/Fortran order/);
    expect(() => readNpy(npyBytes("<i8", [1], bytesOf([2 ** 40], 8, "i")), "big.npy")).toThrow(/does not fit in int32/);
  });
});
