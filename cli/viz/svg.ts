/**
 * A VizGraph as SVG, laid out with dagre (@dagrejs/dagre): ranked top to bottom (or left to
 * right), each node a rounded box with its name and op type, edges as polylines with arrowheads.
 */
import dagre, { type Point } from "@dagrejs/dagre";
import { FILL, type VizGraph } from "./model";

const CHAR_WIDTH = 6.6;
const LINE_HEIGHT = 14;
const PAD = 8;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function toSvg(g: VizGraph, title = "graph", rankdir: "TB" | "LR" = "TB"): string {
  const layout = new dagre.graphlib.Graph({ multigraph: true });
  layout.setGraph({ rankdir, nodesep: 24, ranksep: 36, marginx: 16, marginy: 16 });
  layout.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) {
    const width = Math.max(n.name.length, n.op.length) * CHAR_WIDTH + 2 * PAD;
    layout.setNode(n.name, { width, height: 2 * LINE_HEIGHT + PAD });
  }
  g.edges.forEach((e, i) => layout.setEdge(e.from, e.to, {}, `e${i}`));
  dagre.layout(layout);
  const graph = layout.graph();
  const width = Math.ceil(graph.width ?? 0);
  const height = Math.ceil(graph.height ?? 0);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<title>${escape(title)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
  ];
  g.edges.forEach((e, i) => {
    const points: Point[] = (layout.edge(e.from, e.to, `e${i}`) as { points?: Point[] } | undefined)?.points ?? [];
    if (points.length < 2) return;
    const d = points.map((p, k) => `${k ? "L" : "M"} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(" ");
    const style = e.control ? ' stroke-dasharray="4 3" stroke="#999"' : ' stroke="#555"';
    out.push(`<path class="edge" d="${d}" fill="none"${style} marker-end="url(#arrow)"><title>${escape(`${e.from} -> ${e.to}`)}</title></path>`);
  });
  for (const n of g.nodes) {
    const box = layout.node(n.name);
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    out.push(
      `<g class="node" data-name="${escape(n.name)}" data-op="${escape(n.op)}">` +
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${box.width.toFixed(1)}" height="${box.height.toFixed(1)}" rx="5" fill="${FILL[n.category]}" stroke="#444"/>` +
        `<text x="${box.x.toFixed(1)}" y="${(box.y - 2).toFixed(1)}" text-anchor="middle">${escape(n.name)}</text>` +
        `<text x="${box.x.toFixed(1)}" y="${(box.y + LINE_HEIGHT - 2).toFixed(1)}" text-anchor="middle" fill="#555" font-style="italic">${escape(n.op)}</text>` +
        "</g>",
    );
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
