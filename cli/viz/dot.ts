/** A VizGraph as Graphviz DOT: boxes colored by category, control edges dashed. */
import { FILL, type VizGraph } from "./model";

const escape = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const quote = (s: string) => `"${escape(s)}"`;

export function toDot(g: VizGraph, title = "graph", rankdir: "TB" | "LR" = "TB"): string {
  const lines = [
    `digraph ${quote(title)} {`,
    `  rankdir=${rankdir};`,
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=8];',
  ];
  for (const n of g.nodes) lines.push(`  ${quote(n.name)} [label=${quote(`${n.name}\n${n.op}`)}, fillcolor=${quote(FILL[n.category])}];`);
  for (const e of g.edges) {
    const attrs = e.control ? ' [style=dashed, color="#888888"]' : e.index > 0 ? ` [label=${quote(String(e.index))}]` : "";
    lines.push(`  ${quote(e.from)} -> ${quote(e.to)}${attrs};`);
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
