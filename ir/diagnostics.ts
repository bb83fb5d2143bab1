/**
 * Diagnostics are values: a code, the node they concern, what was expected, what came, and
 * the fix. The library throws them wrapped in `tf.errors.*`; the CLI prints them on one line.
 */
export interface Diagnostic {
  code: string;
  /** The node (operation or tensor) name the diagnostic concerns, when there is one. */
  node?: string;
  message: string;
  expected?: string;
  received?: string;
  fix?: string;
  severity?: "error" | "warning";
}

/** One line: `node: message (expected X, received Y). Fix: ...`. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [];
  parts.push(d.node ? `${d.node}: ${d.message}` : d.message);
  const er: string[] = [];
  if (d.expected !== undefined) er.push(`expected ${d.expected}`);
  if (d.received !== undefined) er.push(`received ${d.received}`);
  if (er.length) parts.push(`(${er.join(", ")})`);
  let line = parts.join(" ");
  if (d.fix) line += `. Fix: ${d.fix}`;
  return line;
}

/** Base class of the errors foldflow throws, as TF's `tf.errors.OpError`. */
export class OpError extends Error {
  readonly diagnostic: Diagnostic;
  readonly nodeName: string | undefined;
  readonly errorCode: string;
  constructor(diagnostic: Diagnostic) {
    super(formatDiagnostic(diagnostic));
    this.diagnostic = diagnostic;
    this.nodeName = diagnostic.node;
    this.errorCode = diagnostic.code;
    this.name = new.target.name;
  }
}
export class InvalidArgumentError extends OpError {}
export class FailedPreconditionError extends OpError {}
export class NotFoundError extends OpError {}
export class AlreadyExistsError extends OpError {}
export class UnimplementedError extends OpError {}
export class ResourceExhaustedError extends OpError {}
export class InternalError extends OpError {}
/** Unrecoverable data loss or corruption: a truncated or corrupted checkpoint (TF's DataLossError). */
export class DataLossError extends OpError {}

export const invalidArgument = (d: Diagnostic) => new InvalidArgumentError(d);
export const failedPrecondition = (d: Diagnostic) => new FailedPreconditionError(d);
export const notFound = (d: Diagnostic) => new NotFoundError(d);
export const dataLoss = (d: Diagnostic) => new DataLossError(d);

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/**
 * Names longer than this get no suggestions, and are never suggested: the edit distance takes
 * time quadratic in the length, and an untrusted GraphDef or feed may name anything.
 */
const MAX_SUGGESTED_LENGTH = 256;

/** The candidates closest to `name` (at most `limit`), best first; empty when none is close. */
export function closestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const scored: { c: string; d: number }[] = [];
  const lower = name.toLowerCase();
  if (lower.length > MAX_SUGGESTED_LENGTH) return [];
  const threshold = Math.max(2, Math.floor(name.length / 2));
  for (const c of candidates) {
    const other = c.toLowerCase();
    // The distance is at least the difference in length (less 1 for the substring bonus).
    if (other.length > MAX_SUGGESTED_LENGTH || Math.abs(other.length - lower.length) - 1 > threshold) continue;
    const d = editDistance(lower, other);
    const bonus = other.includes(lower) || lower.includes(other) ? -1 : 0;
    if (d + bonus <= threshold) scored.push({ c, d: d + bonus });
  }
  scored.sort((x, y) => x.d - y.d || x.c.localeCompare(y.c));
  return scored.slice(0, limit).map((s) => s.c);
}

/** "did you mean `a` or `b`?" or a generic hint when nothing is close. */
export function suggestion(name: string, candidates: Iterable<string>, what = "name"): string {
  const close = closestNames(name, candidates);
  if (close.length === 0) return `check the ${what}; no similar ${what} exists in the graph`;
  return `did you mean ${close.map((c) => `\`${c}\``).join(" or ")}?`;
}
