import { isDType } from "./dtype";
import { invalidArgument } from "./diagnostics";
import { NDArray } from "./ndarray";
import type { AttrKind, Attrs, AttrValue, OpDef } from "./registry";

function matchesKind(kind: AttrKind, v: AttrValue): boolean {
  const isShape = (s: unknown) => s === null || (Array.isArray(s) && s.every((d) => d === null || Number.isInteger(d)));
  switch (kind) {
    case "int":
      return typeof v === "number" && Number.isInteger(v);
    case "float":
      return typeof v === "number";
    case "bool":
      return typeof v === "boolean";
    case "string":
      return typeof v === "string";
    case "type":
      return isDType(v);
    case "shape":
      return isShape(v);
    case "tensor":
      return v instanceof NDArray;
    case "list(int)":
      return Array.isArray(v) && v.every((x) => Number.isInteger(x));
    case "list(float)":
      return Array.isArray(v) && v.every((x) => typeof x === "number");
    case "list(string)":
      return Array.isArray(v) && v.every((x) => typeof x === "string");
    case "list(type)":
      return Array.isArray(v) && v.every((x) => isDType(x));
    case "list(shape)":
      return Array.isArray(v) && v.every(isShape);
  }
}

/** Validates `given` against the op's schema, fills defaults, keeps unknown (`_`-prefixed or imported) attrs. */
export function checkAttrs(def: OpDef, given: Attrs, node: string): Attrs {
  const out: Attrs = {};
  const schema = def.attrs ?? {};
  for (const [key, spec] of Object.entries(schema)) {
    const v = given[key];
    if (v === undefined) {
      if (spec.default === undefined)
        throw invalidArgument({
          code: "missing-attr",
          node,
          message: `${def.type} needs the attribute \`${key}\``,
          expected: spec.kind,
          received: "nothing",
          fix: `set \`${key}\``,
        });
      out[key] = Array.isArray(spec.default) ? [...spec.default] as AttrValue : spec.default;
      continue;
    }
    if (!matchesKind(spec.kind, v))
      throw invalidArgument({
        code: "bad-attr",
        node,
        message: `attribute \`${key}\` of ${def.type} has the wrong kind`,
        expected: spec.kind,
        received: JSON.stringify(v instanceof NDArray ? "NDArray" : v),
        fix: `pass a ${spec.kind} for \`${key}\``,
      });
    if (spec.oneOf && !spec.oneOf.includes(v as string))
      throw invalidArgument({
        code: "bad-attr",
        node,
        message: `attribute \`${key}\` of ${def.type} must be one of ${spec.oneOf.join(", ")}`,
        expected: spec.oneOf.join(" | "),
        received: String(v),
        fix: `use one of ${spec.oneOf.join(", ")}`,
      });
    out[key] = v;
  }
  for (const [key, v] of Object.entries(given)) if (!(key in schema)) out[key] = v;
  return out;
}
