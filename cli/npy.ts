/**
 * NumPy's .npy format (versions 1.0, 2.0 and 3.0), C order:
 *
 *   "\x93NUMPY" major minor  header_len (uint16 LE in 1.0, uint32 LE in 2.0 / 3.0)
 *   "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded with spaces, ending in "\n"
 *   the data, row-major
 *
 * foldflow's dtypes: '<f4' float32, '<i4' int32, '|b1' bool. What numpy writes by default is
 * converted: '<f8' to float32, '<i8' (range-checked) and other integer types to int32,
 * big-endian to little-endian. The writer writes version 1.0 with the header padded to a
 * multiple of 64 bytes, as numpy does.
 */
import { invalidArgument } from "../ir/diagnostics";
import type { DType } from "../ir/dtype";
import { NDArray } from "../ir/ndarray";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function bad(source: string, message: string, fix: string, received?: string) {
  return invalidArgument({ code: "bad-npy", message: `${source}: ${message}`, received, fix });
}

interface Header {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

function parseHeader(text: string, source: string): Header {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw bad(source, "the .npy header is not a dictionary with descr, fortran_order and shape", "write the file with numpy.save", JSON.stringify(text.trim()));
  const dims = shape[1]
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number(s.replace(/L$/, "")));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw bad(source, `the .npy shape (${shape[1]}) is not a tuple of sizes`, "write the file with numpy.save");
  return { descr: descr[1], fortranOrder: fortran[1] === "True", shape: dims };
}

/** Element readers by numpy kind and size: [foldflow dtype, byte size, reader]. */
function elementReader(descr: string, source: string): { dtype: DType; size: number; read: (view: DataView, offset: number) => number } {
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  const unsupported = () => bad(source, `numpy dtype '${descr}' is not supported`, "save float32, int32 or bool arrays (x.astype(np.float32))", descr);
  if (!m) throw unsupported();
  const little = m[1] !== ">";
  const kind = m[2];
  const size = Number(m[3]);
  const key = `${kind}${size}`;
  const int = (v: number | bigint) => {
    const n = Number(v);
    if (n < -2147483648 || n > 2147483647) throw bad(source, `the value ${v} does not fit in int32`, "save values within int32's range", String(v));
    return n;
  };
  switch (key) {
    case "f4":
      return { dtype: "float32", size, read: (v, o) => v.getFloat32(o, little) };
    case "f8":
      return { dtype: "float32", size, read: (v, o) => v.getFloat64(o, little) };
    case "i1":
      return { dtype: "int32", size, read: (v, o) => v.getInt8(o) };
    case "i2":
      return { dtype: "int32", size, read: (v, o) => v.getInt16(o, little) };
    case "i4":
      return { dtype: "int32", size, read: (v, o) => v.getInt32(o, little) };
    case "i8":
      return { dtype: "int32", size, read: (v, o) => int(v.getBigInt64(o, little)) };
    case "u1":
      return { dtype: "int32", size, read: (v, o) => v.getUint8(o) };
    case "u2":
      return { dtype: "int32", size, read: (v, o) => v.getUint16(o, little) };
    case "b1":
      return { dtype: "bool", size, read: (v, o) => (v.getUint8(o) ? 1 : 0) };
    default:
      throw unsupported();
  }
}

/** Parses .npy bytes into an NDArray; `source` names the file in errors. */
export function readNpy(bytes: Uint8Array, source = "array.npy"): NDArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw bad(source, "not a .npy file (no \\x93NUMPY magic)", "pass an array written by numpy.save, or a .json file");
  const major = bytes[6];
  if (major < 1 || major > 3) throw bad(source, `unknown .npy format version ${major}.${bytes[7]}`, "write the file with numpy.save", `${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? view.getUint16(8, true) : bytes.length >= 12 ? view.getUint32(8, true) : Infinity;
  const start = 8 + lengthBytes;
  if (start + headerLength > bytes.length) throw bad(source, "the .npy file is truncated inside its header", "write the file again");
  const header = parseHeader(new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + headerLength)), source);
  const reader = elementReader(header.descr, source);
  const count = header.shape.reduce((a, b) => a * b, 1);
  if (header.fortranOrder && header.shape.filter((d) => d > 1).length > 1)
    throw bad(source, "the array is in Fortran order; foldflow reads C order", "save np.ascontiguousarray(x)");
  const dataStart = start + headerLength;
  const expected = count * reader.size;
  if (bytes.length - dataStart < expected)
    throw bad(source, `the .npy file is truncated: shape (${header.shape.join(", ")}) needs ${expected} data bytes`, "write the file again", `${bytes.length - dataStart} bytes`);
  const data = reader.dtype === "float32" ? new Float32Array(count) : reader.dtype === "int32" ? new Int32Array(count) : new Uint8Array(count);
  for (let i = 0; i < count; i++) data[i] = reader.read(view, dataStart + i * reader.size);
  return new NDArray(reader.dtype, header.shape, data);
}

const DESCR: Record<DType, string> = { float32: "<f4", int32: "<i4", bool: "|b1" };

/** .npy (version 1.0) bytes of an NDArray. */
export function writeNpy(a: NDArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '${DESCR[a.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const size = a.dtype === "bool" ? 1 : 4;
  const out = new Uint8Array(10 + header.length + a.size * size);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const start = 10 + header.length;
  for (let i = 0; i < a.size; i++) {
    const v = a.data[i];
    if (a.dtype === "float32") view.setFloat32(start + i * 4, v, true);
    else if (a.dtype === "int32") view.setInt32(start + i * 4, v, true);
    else out[start + i] = v ? 1 : 0;
  }
  return out;
}
