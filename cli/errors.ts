/**
 * How the CLI reports failure: one line, `foldflow: <diagnostic>`, never a stack trace.
 * foldflow's own errors carry a Diagnostic (formatted with formatDiagnostic); anything else
 * (a Node fs error, a bug) is reduced to its first line. FOLDFLOW_DEBUG=1 adds the stack.
 */
import { formatDiagnostic, OpError, type Diagnostic } from "../ir/diagnostics";

/** The one-line message for any thrown value. */
export function errorLine(e: unknown): string {
  let text: string;
  if (e instanceof OpError) text = formatDiagnostic(e.diagnostic);
  else if (e instanceof Error) text = e.message || e.name;
  else text = String(e);
  return text.replace(/\s*\r?\n\s*/g, " ").trim();
}

/** A Diagnostic for an error of the file system (`ENOENT` ...), naming the path. */
export function fileDiagnostic(e: unknown, path: string, action: "read" | "write"): Diagnostic {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const reasons: Record<string, [string, string]> = {
    ENOENT: [action === "read" ? "no such file" : "its directory does not exist", action === "read" ? "check the path" : "create the directory first"],
    EACCES: ["permission denied", "check the file's permissions"],
    EISDIR: ["it is a directory", action === "read" ? "name a file" : "name a file, not a directory"],
    ENOTDIR: ["a part of the path is not a directory", "check the path"],
    EROFS: ["the file system is read-only", "write somewhere else"],
    ENOSPC: ["no space left on the device", "free some space"],
  };
  const [reason, fix] = (code && reasons[code]) || [errorLine(e), "check the path"];
  return { code: action === "read" ? "read-failed" : "write-failed", message: `cannot ${action} \`${path}\`: ${reason}`, fix };
}
