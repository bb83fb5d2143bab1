/**
 * The checkpoint file that tf.train.Saver writes, `<prefix>.ffckpt`, and its atomic write.
 *
 *   offset  size  content
 *   0       8     magic: the ASCII bytes "FFCKPT01" (format version 1)
 *   8       4     H: the header's length in bytes, uint32 little-endian
 *   12      4     CRC-32 (IEEE 802.3, as zlib's crc32) of the header bytes, uint32 little-endian
 *   16      H     header: UTF-8 JSON
 *                   { "format": "foldflow-checkpoint", "version": 1, "dataLength": D,
 *                     "variables": [ { "name": "dense/kernel", "dtype": "float32", "shape": [784, 100],
 *                                      "offset": 0, "length": 313600, "crc32": 3735928559 }, ... ] }
 *                 offset: from the start of the data section; length: bytes; crc32: of those bytes
 *   16 + H  D     data: each variable's values in row-major order, little-endian float32 / int32,
 *                 bool as one byte (0 or 1), in header order, without padding
 *
 * The file is exactly 16 + H + D bytes. A reader checks the magic, both lengths and every
 * checksum: a truncated or corrupted file is a DataLossError naming what is wrong.
 *
 * Files are written atomically: to a temporary name in the same directory, fsync'ed, then
 * renamed over the target, so a failed write leaves any earlier file at that path intact.
 */
import fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { allocate, isDType, type DType } from "../ir/dtype";
import { dataLoss } from "../ir/diagnostics";
import { NDArray } from "../ir/ndarray";
import { sizeOf } from "../ir/shape";

export const CHECKPOINT_SUFFIX = ".ffckpt";
const MAGIC = "FFCKPT01";
const PREAMBLE = 16;
const FORMAT = "foldflow-checkpoint";

export interface CheckpointEntry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  length: number;
  crc32: number;
}

interface Header {
  format: string;
  version: number;
  dataLength: number;
  variables: CheckpointEntry[];
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), as zlib.crc32 computes it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const itemSize = (dtype: DType) => (dtype === "bool" ? 1 : 4);

/** The little-endian bytes of `a`'s values (float64 storage is written as float32). */
export function valueBytes(a: NDArray): Uint8Array {
  const bytes = new Uint8Array(a.size * itemSize(a.dtype));
  if (a.dtype === "bool") {
    for (let i = 0; i < a.size; i++) bytes[i] = a.data[i] ? 1 : 0;
    return bytes;
  }
  const view = new DataView(bytes.buffer);
  if (a.dtype === "float32") for (let i = 0; i < a.size; i++) view.setFloat32(i * 4, a.data[i], true);
  else for (let i = 0; i < a.size; i++) view.setInt32(i * 4, a.data[i], true);
  return bytes;
}

function valueFromBytes(dtype: DType, shape: number[], bytes: Uint8Array): NDArray {
  const n = sizeOf(shape);
  const out = allocate(dtype, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "bool") for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
  else if (dtype === "float32") for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  else for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
  return new NDArray(dtype, shape, out);
}

/** The file's chunks (preamble + header, then one per variable) for `values`, keyed by checkpoint name. */
export function encodeCheckpoint(values: ReadonlyMap<string, NDArray>): Uint8Array[] {
  const data: Uint8Array[] = [];
  const variables: CheckpointEntry[] = [];
  let offset = 0;
  for (const [name, value] of values) {
    const bytes = valueBytes(value);
    variables.push({ name, dtype: value.dtype, shape: [...value.shape], offset, length: bytes.length, crc32: crc32(bytes) });
    data.push(bytes);
    offset += bytes.length;
  }
  const header: Header = { format: FORMAT, version: 1, dataLength: offset, variables };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(PREAMBLE + json.length);
  head.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(head.buffer);
  view.setUint32(8, json.length, true);
  view.setUint32(12, crc32(json), true);
  head.set(json, PREAMBLE);
  return [head, ...data];
}

function corrupt(file: string, message: string, fix = "the file is damaged; save the checkpoint again or restore an earlier one", node?: string): Error {
  return dataLoss({ code: "corrupt-checkpoint", node, message: `checkpoint \`${file}\` ${message}`, fix });
}

/** A checkpoint file read and checked: its entries, and their values on demand (checksummed). */
export interface CheckpointReader {
  entries: CheckpointEntry[];
  read(entry: CheckpointEntry): NDArray;
}

/** Parses and checks the preamble, header and total length of a checkpoint file's bytes. */
export function decodeCheckpoint(bytes: Uint8Array, file: string): CheckpointReader {
  if (bytes.length < PREAMBLE || new TextDecoder("latin1").decode(bytes.subarray(0, 8)) !== MAGIC) {
    const looksShort = bytes.length < PREAMBLE && MAGIC.startsWith(new TextDecoder("latin1").decode(bytes.subarray(0, 8)));
    throw corrupt(file, looksShort ? `is truncated: ${bytes.length} bytes, shorter than its ${PREAMBLE}-byte preamble` : "is not a foldflow checkpoint (its first bytes are not \"FFCKPT01\")",
      looksShort ? undefined : "pass the prefix of a checkpoint written by tf.train.Saver (TF's own .index/.data files are not read)");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(8, true);
  if (PREAMBLE + headerLength > bytes.length) throw corrupt(file, `is truncated: its header needs ${PREAMBLE + headerLength} bytes, the file has ${bytes.length}`);
  const json = bytes.subarray(PREAMBLE, PREAMBLE + headerLength);
  if (crc32(json) !== view.getUint32(12, true)) throw corrupt(file, "has a corrupted header (CRC-32 mismatch)");
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(json)) as Header;
  } catch {
    throw corrupt(file, "has a header that is not JSON");
  }
  if (header.format !== FORMAT || header.version !== 1 || !Array.isArray(header.variables))
    throw corrupt(file, `has an unknown header (format ${JSON.stringify(header.format)}, version ${JSON.stringify(header.version)})`, "read it with the foldflow version that wrote it");
  const dataStart = PREAMBLE + headerLength;
  const expected = dataStart + header.dataLength;
  if (bytes.length !== expected)
    throw corrupt(file, bytes.length < expected ? `is truncated: ${bytes.length} bytes of ${expected}` : `has ${bytes.length - expected} unexpected bytes after its data (${bytes.length} bytes, expected ${expected})`);
  for (const e of header.variables) {
    const sane = typeof e.name === "string" && isDType(e.dtype) && Array.isArray(e.shape) && e.shape.every((d) => Number.isInteger(d) && d >= 0) &&
      e.length === sizeOf(e.shape) * itemSize(e.dtype) && e.offset >= 0 && e.offset + e.length <= header.dataLength;
    if (!sane) throw corrupt(file, `has an inconsistent entry for \`${String(e.name)}\``, undefined, String(e.name));
  }
  return {
    entries: header.variables,
    read(entry) {
      const slice = bytes.subarray(dataStart + entry.offset, dataStart + entry.offset + entry.length);
      if (crc32(slice) !== entry.crc32)
        throw corrupt(file, `has corrupted data for variable \`${entry.name}\` (CRC-32 mismatch)`, undefined, entry.name);
      return valueFromBytes(entry.dtype, entry.shape, slice);
    },
  };
}

/** Writes every byte of `chunk` (writeSync may write fewer bytes than asked). */
function writeAll(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
}

/**
 * Writes `chunks` to `path` atomically: a temporary file in the same directory, fsync, rename.
 * On failure the temporary file is removed and an existing file at `path` is left as it was.
 */
export function writeFileAtomically(path: string, chunks: Iterable<Uint8Array>): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  const fd = fs.openSync(tmp, "wx", 0o644);
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, path);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  syncDirectory(dir);
}

/** Makes the rename durable where the platform allows fsync on a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch {
    // Not supported everywhere (Windows); the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
