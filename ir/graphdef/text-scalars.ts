/**
 * Scalars of the protobuf text format: reading integer, float and bool literals from their
 * source text, and writing numbers the way TF's Python writer does (floats as the shortest
 * decimal that round-trips through float32, in Python's repr style: 1.0, 0.1, 1e-05, inf).
 */

/** An integer literal: decimal, hex (0x1f) or octal (017), with an optional leading "-". */
export function parseIntLiteral(text: string): number | undefined {
  const neg = text.startsWith("-");
  const body = neg ? text.slice(1) : text;
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) v = parseInt(body.slice(2), 16);
  else if (/^0[0-7]+$/.test(body)) v = parseInt(body.slice(1), 8);
  else if (/^\d+$/.test(body)) v = Number(body);
  else return undefined;
  return neg ? -v : v;
}

/** A float literal or identifier: 1.5, -2, 1e-05, 2.5f, inf, -infinity, nan (case-insensitive). */
export function parseFloatLiteral(text: string): number | undefined {
  const neg = text.startsWith("-");
  const body = (neg ? text.slice(1) : text).toLowerCase();
  let v: number;
  if (body === "inf" || body === "infinity") v = Infinity;
  else if (body === "nan") v = NaN;
  else {
    const asInt = parseIntLiteral(body);
    if (asInt !== undefined) v = asInt;
    else if (/^(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?f?$/.test(body)) v = Number(body.endsWith("f") ? body.slice(0, -1) : body);
    else return undefined;
  }
  return neg ? -v : v;
}

/** A bool literal: true / false (any case), t / f, 1 / 0. */
export function parseBoolLiteral(text: string): boolean | undefined {
  switch (text) {
    case "true":
    case "True":
    case "t":
    case "1":
      return true;
    case "false":
    case "False":
    case "f":
    case "0":
      return false;
    default:
      return undefined;
  }
}

/** Python's repr of a finite double: 1.0, 0.001, 1e-05, 1.5e+16. */
function pythonRepr(y: number): string {
  if (y === 0) return Object.is(y, -0) ? "-0.0" : "0.0";
  const sign = y < 0 ? "-" : "";
  const [mantissa, expText] = Math.abs(y).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
    return `${sign}${digits[0]}${frac}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.length > exp + 1 ? digits.slice(0, exp + 1) : digits.padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac || "0"}`;
}

function special(x: number): string | undefined {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return undefined;
}

/**
 * `x` rounded to `p` significant digits with ties to even, as C's printf("%.*g") and Python
 * do (JS's toPrecision rounds ties away from zero: 226634.125 -> 226634.13, not .12).
 */
function roundToPrecision(x: number, p: number): number {
  const [mantissa, expText] = Math.abs(x).toExponential(99).split("e");
  const digits = mantissa.replace(".", "");
  const next = digits.charCodeAt(p) - 48;
  const restNonZero = /[1-9]/.test(digits.slice(p + 1));
  let kept = BigInt(digits.slice(0, p));
  if (next > 5 || (next === 5 && (restNonZero || kept % 2n === 1n))) kept += 1n;
  const v = Number(`${kept}e${Number(expText) - p + 1}`);
  return x < 0 ? -v : v;
}

/**
 * A float (32-bit) field value, as protobuf's ToShortestFloat: the value rounded to 6, 7, 8 or
 * 9 significant digits, the first that reads back as the same float32.
 */
export function formatFloat32(x: number): string {
  // Special values after rounding: a double beyond float32's range is stored (and written) as inf.
  const f = Math.fround(x);
  const s = special(f);
  if (s !== undefined) return s;
  if (f === 0) return pythonRepr(f);
  for (let p = 6; p <= 17; p++) {
    const candidate = roundToPrecision(f, p);
    if (Math.fround(candidate) === f) return pythonRepr(candidate);
  }
  return pythonRepr(f);
}

/** A double field value, as Python's repr. */
export function formatDouble(x: number): string {
  return special(x) ?? pythonRepr(x);
}

/** An integer field value, without exponent notation even when large. */
export function formatInt(x: number): string {
  if (Number.isSafeInteger(x)) return String(x);
  return BigInt(Math.trunc(x)).toString();
}
