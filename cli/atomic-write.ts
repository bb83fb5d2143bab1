/**
 * Output files are never left half-written: each is written to a temporary file in the same
 * directory and renamed over the target (src/checkpoint-file.ts's writeFileAtomically, shared
 * with tf.train.Saver), so a failed or interrupted command leaves an existing file as it was.
 * A new output directory is assembled under a temporary name and renamed into place whole.
 */
import * as fs from "node:fs";
import { basename, dirname, join } from "node:path";
import { InvalidArgumentError } from "../ir/diagnostics";
import { writeFileAtomically } from "../src/checkpoint-file";
import { fileDiagnostic } from "./errors";

const encoder = new TextEncoder();

function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** Writes `data` to `path` atomically; the parent directory is created when missing. */
export function writeOutputFile(path: string, data: string | Uint8Array): void {
  try {
    if (fs.existsSync(path) && fs.statSync(path).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    fs.mkdirSync(dirname(path), { recursive: true });
    writeFileAtomically(path, [bytesOf(data)]);
  } catch (e) {
    throw new InvalidArgumentError(fileDiagnostic(e, path, "write"));
  }
}

export interface OutputFile {
  /** A plain file name inside the directory. */
  name: string;
  data: string | Uint8Array;
}

/**
 * Writes `files` into directory `dir`. A directory that does not exist yet appears whole or
 * not at all (written as a temporary sibling, then renamed); in an existing one each file is
 * replaced atomically.
 */
export function writeOutputDirectory(dir: string, files: readonly OutputFile[]): void {
  try {
    if (fs.existsSync(dir)) {
      if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
      for (const f of files) writeFileAtomically(join(dir, f.name), [bytesOf(f.data)]);
      return;
    }
    fs.mkdirSync(dirname(dir), { recursive: true });
    const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
    fs.mkdirSync(tmp);
    try {
      for (const f of files) writeFileAtomically(join(tmp, f.name), [bytesOf(f.data)]);
      fs.renameSync(tmp, dir);
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  } catch (e) {
    throw new InvalidArgumentError(fileDiagnostic(e, dir, "write"));
  }
}
