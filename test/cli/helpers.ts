/**
 * Running the CLI as users do: a subprocess (node with tsx's loader on cli/main.ts), checking
 * its exit code and output; temporary directories with the test models written as .pbtxt.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const MAIN = join(ROOT, "cli/main.ts");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `foldflow <args>` in `cwd` (default: the repository root). */
export function runCli(args: readonly string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, FOLDFLOW_DEBUG: "", NODE_OPTIONS: "" },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `runCli` without blocking: several invocations run side by side. */
export function runCliAsync(args: readonly string[], cwd = ROOT): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd, env: { ...process.env, FOLDFLOW_DEBUG: "", NODE_OPTIONS: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Exit 0. */
export function expectSuccess(r: CliResult): void {
  expect(r.stderr, `stderr of a successful command`).toBe("");
  expect(r.code, r.stderr).toBe(0);
}

/** Exit 1 with exactly one line on stderr, `foldflow: ...`, and no stack trace. */
export function expectOneLineError(r: CliResult, pattern?: RegExp): string {
  expect(r.code, `stdout: ${r.stdout}`).toBe(1);
  const lines = r.stderr.split("\n").filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^foldflow: \S/);
  expect(r.stderr).not.toMatch(/\n\s+at |\bat .*\(.*:\d+:\d+\)|node:internal/);
  if (pattern) expect(lines[0]).toMatch(pattern);
  return lines[0];
}

/** A new temporary directory holding `files` (name -> text or bytes). */
export function tempDir(files: Record<string, string | Uint8Array> = {}): string {
  const dir = fs.mkdtempSync(join(os.tmpdir(), "foldflow-cli-"));
  for (const [name, data] of Object.entries(files)) fs.writeFileSync(join(dir, name), data);
  return dir;
}

/** Files in `dir` whose names mark them as temporaries of an atomic write. */
export function leftoverTemporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.includes(".tmp-"));
}
