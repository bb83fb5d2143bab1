/**
 * What every command shares: --help (exit 0), and on bad input exit 1 with exactly one line
 * on stderr (`foldflow: ...`, no stack trace) and no output file, partial or otherwise.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectOneLineError, expectSuccess, leftoverTemporaries, ROOT, runCli, runCliAsync, tempDir } from "./helpers";
import { cnnModel, tf1Model } from "./models";

const COMMANDS = ["inspect", "fold", "compile", "export", "viz", "run"];

const dir = tempDir({
  "cnn.pbtxt": cnnModel(),
  // Cut at a line end inside a node, as an interrupted write leaves it.
  "truncated.pbtxt": cnnModel().slice(0, cnnModel().lastIndexOf("\n", 1500) + 1),
  "unknown-op.pbtxt": tf1Model().replace('op: "Relu"', 'op: "Relu7"'),
  "binary.pb": Uint8Array.from([0x0a, 0x05, 0x00, 0x01, 0x02, 0xff]),
  "empty.pbtxt": "",
});
const path = (name: string) => join(dir, name);

/** For each command, an invocation that reads `model` and would write `out`. */
function invocations(model: string, out: string): string[][] {
  return [
    ["inspect", model],
    ["fold", model, "-o", out],
    ["compile", model, "--outputs", "probs", "-o", out, "-q"],
    ["export", model, "-o", out],
    ["viz", model, "-o", `${out}.svg`],
    ["run", model, "--outputs", "probs"],
  ];
}

describe("foldflow --help", () => {
  it("prints the commands, and each command's usage, exiting 0", async () => {
    const top = runCli(["--help"]);
    expectSuccess(top);
    for (const c of COMMANDS) expect(top.stdout).toMatch(new RegExp(`\\n\\s+${c}\\b`));
    const results = await Promise.all(COMMANDS.map((c) => runCliAsync([c, "--help"])));
    COMMANDS.forEach((c, i) => {
      expectSuccess(results[i]);
      expect(results[i].stdout).toContain(`Usage: foldflow ${c} [options] <model>`);
    });
  });

  it("runs through package.json's bin (cli/bin.mjs) as `npx foldflow` does", () => {
    const bin = JSON.parse(fs.readFileSync(join(ROOT, "package.json"), "utf8")).bin.foldflow as string;
    const r = spawnSync(process.execPath, [join(ROOT, bin), "inspect", path("cnn.pbtxt"), "--json"], { encoding: "utf8", cwd: dir });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).nodes).toBeGreaterThan(0);
    const bad = spawnSync(process.execPath, [join(ROOT, bin), "inspect", path("nope.pbtxt")], { encoding: "utf8", cwd: dir });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^foldflow: cannot read `.*nope\.pbtxt`: no such file\. Fix: check the path\n$/);
  });
});

describe("bad input: one line, exit 1, nothing written", () => {
  const cases: [string, string, RegExp][] = [
    ["a missing file", "missing.pbtxt", /cannot read `.*missing\.pbtxt`: no such file/],
    ["a truncated file", "truncated.pbtxt", /truncated\.pbtxt: line \d+, column \d+: .*Fix: the file looks truncated/],
    ["an unknown op", "unknown-op.pbtxt", /relu: op type `Relu7` is not registered.*did you mean `Relu`/],
    ["a binary file", "binary.pb", /is a binary file; foldflow reads GraphDefs in protobuf text format/],
    ["an empty file", "empty.pbtxt", /is empty/],
  ];
  for (const [what, file, pattern] of cases)
    it(`${what}, for every command`, async () => {
      const out = path(`out-${file}`);
      const all = invocations(path(file), out);
      const results = await Promise.all(all.map((args) => runCliAsync(args)));
      all.forEach((args, i) => {
        // viz draws the GraphDef as it is, op types foldflow cannot run included.
        if (file === "unknown-op.pbtxt" && args[0] === "viz") expectSuccess(results[i]);
        else expectOneLineError(results[i], pattern);
      });
      if (file === "unknown-op.pbtxt") fs.rmSync(`${out}.svg`);
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.existsSync(`${out}.svg`)).toBe(false);
      expect(leftoverTemporaries(dir)).toEqual([]);
    });

  it("an unknown output name, with the closest name", () => {
    const out = path("unknown-output.pbtxt");
    expectOneLineError(runCli(["fold", path("cnn.pbtxt"), "-o", out, "--outputs", "logit"]), /output `logit` is not in the graph.*did you mean `logits`/);
    expectOneLineError(runCli(["export", path("cnn.pbtxt"), "-o", out, "--outputs", "prbs"]), /did you mean `probs`/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("an unknown command, an unknown option, no command, and an output that is a directory", () => {
    expectOneLineError(runCli(["inpsect", path("cnn.pbtxt")]), /unknown command 'inpsect'.*Did you mean inspect\?/);
    expectOneLineError(runCli(["inspect", path("cnn.pbtxt"), "--jsn"]), /unknown option '--jsn'.*Did you mean --json\?/);
    expectOneLineError(runCli([]), /no command given/);
    expectOneLineError(runCli(["inspect"]), /missing required argument 'model'/);
    fs.mkdirSync(path("a-directory"), { recursive: true });
    expectOneLineError(runCli(["fold", path("cnn.pbtxt"), "-o", path("a-directory")]), /cannot write `.*a-directory`: it is a directory/);
  });

  it("leaves an existing output file as it was", async () => {
    const out = path("existing.out");
    fs.writeFileSync(out, "keep me");
    const writers = invocations(path("truncated.pbtxt"), out).filter((a) => a.includes(out));
    for (const r of await Promise.all(writers.map((args) => runCliAsync(args)))) expectOneLineError(r);
    expect(fs.readFileSync(out, "utf8")).toBe("keep me");
  });
});
