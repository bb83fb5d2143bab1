/** `foldflow viz`: DOT with every node and edge; SVG laid out by dagre with every node inside the canvas. */
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectOneLineError, expectSuccess, runCli, tempDir } from "./helpers";
import { cnnModel, trainingModel } from "./models";

const dir = tempDir({ "cnn.pbtxt": cnnModel(), "train.pbtxt": trainingModel() });
const path = (name: string) => join(dir, name);

/** Nodes and edges of a GraphDef text, counted independently of the CLI. */
function graphCounts(text: string): { nodes: string[]; data: number; control: number } {
  const g = tf.importGraphDef(text);
  return {
    nodes: g.operations.map((o) => o.name),
    data: g.operations.reduce((n, o) => n + o.inputs.length, 0),
    control: g.operations.reduce((n, o) => n + o.controlInputs.length, 0),
  };
}

describe("foldflow viz", () => {
  it("writes DOT with one node per NodeDef and one edge per input, control edges dashed", () => {
    const r = runCli(["viz", path("train.pbtxt"), "-o", path("train.dot")]);
    expectSuccess(r);
    const dot = fs.readFileSync(path("train.dot"), "utf8");
    const c = graphCounts(trainingModel());
    expect(dot.startsWith('digraph "')).toBe(true);
    for (const name of c.nodes) expect(dot).toContain(`"${name}" [label="${name}\\n`);
    const edges = dot.split("\n").filter((l) => l.includes(" -> "));
    expect(edges).toHaveLength(c.data + c.control);
    expect(edges.filter((l) => l.includes("style=dashed"))).toHaveLength(c.control);
    expect(r.stdout).toContain(`(${c.nodes.length} nodes, ${c.data + c.control} edges)`);
  });

  it("writes SVG laid out with dagre: a box and two labels per node, every box inside the canvas", () => {
    expectSuccess(runCli(["viz", path("cnn.pbtxt"), "-o", path("cnn.svg")]));
    const svg = fs.readFileSync(path("cnn.svg"), "utf8");
    expect(svg.startsWith("<svg xmlns=")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    const c = graphCounts(cnnModel());
    const [, width, height] = /width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
    const rects = [...svg.matchAll(/<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"/g)].map((m) => m.slice(1).map(Number));
    expect(rects).toHaveLength(c.nodes.length);
    for (const [x, y, w, h] of rects) {
      expect(x + w).toBeLessThanOrEqual(width);
      expect(y + h).toBeLessThanOrEqual(height);
    }
    // Boxes do not overlap.
    for (let i = 0; i < rects.length; i++)
      for (let j = i + 1; j < rects.length; j++) {
        const [a, b] = [rects[i], rects[j]];
        const apart = a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0] || a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1];
        expect(apart).toBe(true);
      }
    expect([...svg.matchAll(/class="edge"/g)]).toHaveLength(c.data + c.control);
    for (const name of c.nodes) expect(svg).toContain(`data-name="${name}"`);
  });

  it("--outputs and --no-constants draw less", () => {
    expectSuccess(runCli(["viz", path("train.pbtxt"), "-o", path("logits.dot"), "--outputs", "logits", "--no-constants"]));
    const dot = fs.readFileSync(path("logits.dot"), "utf8");
    expect(dot).toContain('"logits"');
    expect(dot).not.toContain('"train"');
    expect(dot).not.toContain("\\nConst");
  });

  it("refuses an unknown extension in one line, without writing", () => {
    expectOneLineError(runCli(["viz", path("cnn.pbtxt"), "-o", path("graph.png")]), /expected \.svg, \.dot or \.gv/);
    expect(fs.existsSync(path("graph.png"))).toBe(false);
  });
});
