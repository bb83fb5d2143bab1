/**
 * Loads binaryen synchronously in Node, so that `new tf.Session()` can default to the wasm
 * backend and `runSync` works on a fresh session.
 *
 * The `binaryen` package is one 15 MB Emscripten ES module whose factory is an `async`
 * function awaited at top level, and it compiles its own 10 MB wasm with
 * `WebAssembly.instantiate`: `import("binaryen")` can only be awaited. Every await in that
 * factory waits on something Node can do synchronously (the `node:module` import and the
 * instantiation), so we evaluate the same source with those made synchronous: `async`/`await`
 * removed, `import.meta.url` given, `WebAssembly.instantiate(bytes, imports)` replaced by
 * `new WebAssembly.Instance(new WebAssembly.Module(bytes), imports)`, and the default export
 * returned. Each rewrite must match the expected number of times, else we do not evaluate
 * anything and the caller falls back to `import("binaryen")` (a binaryen release laid out
 * differently is still usable, asynchronously). About 0.5 s, in plain Node and under tsx alike
 * (tsx's loader spends ~7 s scanning the 15 MB file on `import()`).
 */
import { readFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { wasm } from "./host";

/** One rewrite of the package source and how many times it must match (0: at least once). */
interface Rewrite {
  pattern: RegExp;
  replacement: string;
  count: number;
}

const REWRITES: readonly Rewrite[] = [
  { pattern: /await import\("node:module"\)/g, replacement: "__nodeModule", count: 1 },
  { pattern: /import\.meta\.url/g, replacement: "__url", count: 0 },
  { pattern: /await WebAssembly\.instantiate\(/g, replacement: "__instantiateSync(", count: 1 },
  { pattern: /async function/g, replacement: "function", count: 0 },
  // Code awaits follow `=`, `(`, `,`, `;`, `{` or `return `; the one in a string ("async/await style") follows "/".
  { pattern: /(?<=[=(,;{]|return )await /g, replacement: "", count: 0 },
  { pattern: /export\s*\{\s*([\w$]+) as default\s*\};?\s*$/g, replacement: "return $1;", count: 1 },
];

/** The package source made synchronous; throws an Error naming the rewrite that did not match. */
export function rewriteBinaryenSource(source: string): string {
  for (const { pattern, replacement, count } of REWRITES) {
    const n = source.match(pattern)?.length ?? 0;
    if (count ? n !== count : n === 0) throw new Error(`binaryen's source does not have the expected shape (${pattern} matched ${n} times)`);
    source = source.replace(pattern, replacement);
  }
  if (/(?<=[=(,;{]|return )await |import\.meta/.test(source)) throw new Error("binaryen's source still awaits after the rewrite");
  return source;
}

/** The binaryen API, loaded synchronously; throws an Error saying which step failed. */
export function loadBinaryenSource<T>(): T {
  const require = createRequire(import.meta.url);
  const path = require.resolve("binaryen");
  const source = rewriteBinaryenSource(readFileSync(path, "utf8"));
  const instantiateSync = (bytes: Uint8Array, imports: Record<string, Record<string, unknown>>) => ({ instance: new wasm.Instance(new wasm.Module(bytes), imports) });
  const factory = new Function("__nodeModule", "__url", "__instantiateSync", source) as (m: typeof nodeModule, url: string, inst: typeof instantiateSync) => T;
  return factory(nodeModule, pathToFileURL(path).href, instantiateSync);
}
