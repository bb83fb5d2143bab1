/** Parsing of option values the commands share (light: no graph code, so --help stays fast). */
import { invalidArgument } from "../ir/diagnostics";

/** Commander collector for `--outputs a,b --outputs c`. */
export function collectNames(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((s) => s.trim()).filter((s) => s.length > 0)];
}

/** Commander collector for repeatable options (`--feed x=a.npy --feed y=b.json`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--training true|false`. */
export function parseBoolean(value: string, option: string): boolean {
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw invalidArgument({ code: "bad-option", message: `option ${option} takes true or false`, received: JSON.stringify(value), fix: `pass ${option} true or ${option} false` });
}

/** The optional `--training` value. */
export function trainingOption(value: string | undefined): boolean | undefined {
  return value === undefined ? undefined : parseBoolean(value, "--training");
}
