/**
 * Fuzzing the GraphDef importer: mutated corpus texts, mutated GraphDef models written back as
 * text, and random text go through fromText + importGraphDef (with prefixes, limits, and into
 * graphs that already hold nodes). The property: the text imports, or the importer throws a
 * tf.errors.* subclass with a message — never a TypeError, RangeError or other raw exception,
 * and never a case over its time budget. A graph that imports also writes itself out again
 * as text that imports.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fromText } from "../../ir/graphdef/read";
import { toText } from "../../ir/graphdef/write";
import type { GraphDef } from "../../ir/graphdef/model";
import { collectCrashes, fuzzSeed, fuzzTimeout, Outcomes, runsFor } from "./fuzz-helpers";
import { importOptions, modelMutations, randomText, textMutations, type Mutation } from "./importer-mutations";
import { importerCorpus } from "./importer-corpus";
import { oneOpGraph } from "./importer-ops";

const corpus = importerCorpus();
const models: GraphDef[] = corpus.map((text) => fromText(text));
const seed = fuzzSeed();
const outcomes = new Outcomes("importer", 3000);

interface Case {
  /** The text (built inside the property: writing a mutated model is under test too). */
  build: () => string;
  describe: string;
}

const describeEdits = (edits: Mutation<unknown>[]) => edits.map((e) => e.describe).join("; ");

const fromCorpusText = fc.record({ index: fc.nat({ max: corpus.length - 1 }), edits: textMutations }).map(({ index, edits }): Case => ({
  build: () => edits.reduce((t, e) => e.apply(t), corpus[index]),
  describe: `corpus[${index}] text: ${describeEdits(edits)}`,
}));

const fromModel = fc
  .record({ index: fc.nat({ max: models.length - 1 }), edits: modelMutations, textEdits: fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: textMutations }) })
  .map(({ index, edits, textEdits }): Case => ({
    build: () => {
      const model = edits.reduce((g, e) => e.apply(g), structuredClone(models[index]));
      return (textEdits ?? []).reduce((t, e) => e.apply(t), toText(model));
    },
    describe: `corpus[${index}] model: ${describeEdits(edits)}${textEdits ? `; then text: ${describeEdits(textEdits)}` : ""}`,
  }));

const random = randomText.map((text): Case => ({ build: () => text, describe: `random text ${JSON.stringify(text)}` }));

const cases = fc.record({
  source: fc.oneof({ weight: 3, arbitrary: fromCorpusText }, { weight: 6, arbitrary: fromModel }, { weight: 1, arbitrary: random }),
  options: importOptions,
});

/** A graph that already holds nodes (so imported names may collide). */
function existingGraph(): tf.Graph {
  return tf.importGraphDef(corpus[corpus.length - 1]);
}

describe("fuzz: importer", () => {
  afterAll(() => {
    console.log(outcomes.summary("imported", seed));
    if (collectCrashes) console.log(outcomes.report());
  });

  it("imports mutated and random GraphDef text, or throws a tf.errors.* with a message", () => {
    fc.assert(
      fc.property(cases, ({ source, options }) => {
        let text = "";
        outcomes.run(
          () => {
            text = source.build();
            fromText(text, "fuzz.pbtxt", { limits: options.limits });
            const graph = tf.importGraphDef(text, {
              limits: options.limits,
              prefix: options.prefix,
              graph: options.intoExisting ? existingGraph() : undefined,
            });
            // What imports writes itself out as text that imports again: any error there is a bug.
            try {
              tf.importGraphDef(graph.asGraphDef().toText(), { limits: { maxElements: 1e6 } });
            } catch (e) {
              throw new Error(`the imported graph does not import again from its own text: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
            }
          },
          () => `${source.describe} with ${JSON.stringify(options)}\n--- text ---\n${text.slice(0, 4000)}`,
        );
      }),
      { numRuns: runsFor(3000, 0.3), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);

  it("imports random one-op graphs of every registered op type, or throws a tf.errors.* naming the node", () => {
    fc.assert(
      fc.property(oneOpGraph, ({ op, graphDef }) => {
        const text = toText(graphDef);
        outcomes.run(
          () => {
            try {
              const graph = tf.importGraphDef(text, { limits: { maxElements: 1e6 } });
              tf.importGraphDef(graph.asGraphDef().toText(), { limits: { maxElements: 1e6 } });
            } catch (e) {
              // Attribute and shape errors name the node they concern.
              if (e instanceof tf.errors.OpError && e.nodeName === undefined && !/^text:/.test(e.message)) throw new Error(`an error that names no node: ${e.message}`, { cause: e });
              throw e;
            }
          },
          () => `one ${op}\n--- text ---\n${text}`,
        );
      }),
      { numRuns: runsFor(2000, 0.2), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);
});
