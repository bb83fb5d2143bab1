// The Deno side of test/helpers/deno-program.ts: imports compiled WGSL programs (the ES modules
// of tf.compile(..., { target: "wgsl" })) and runs them on navigator.gpu (llvmpipe here).
//
// Usage: deno run --allow-read=DIR --allow-write=DIR deno-program-runner.js DIR
// DIR/jobs.json: [{ label, module: "p0.js", runs, feeds: { name: number[] }, readVariables }]
// Writes DIR/results.json: { adapter, jobs: [{ label, error?, errorCode?, runs: [{ name: value }],
//   variables?: { name: value } }] } where value = { dtype, shape, base64 } (the data's bytes).
// Each job loads its module on the device with the module's own requestDevice/load and runs it
// `runs` times (variables persist between runs). Errors are reported per job, never thrown.

const dir = Deno.args[0];
const jobs = JSON.parse(await Deno.readTextFile(dir + "/jobs.json"));

function base64(data) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
const encode = (record) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, base64: base64(v.data) }]));

const adapter = await navigator.gpu.requestAdapter();
const adapterName = adapter ? adapter.info?.description || adapter.info?.device || "unknown adapter" : null;
const results = [];
if (adapter) {
  for (const job of jobs) {
    const started = performance.now();
    const result = { label: job.label, runs: [] };
    try {
      const mod = await import(new URL("file://" + dir + "/" + job.module).href);
      const device = await mod.requestDevice(navigator.gpu);
      const program = await mod.load(device);
      for (let r = 0; r < job.runs; r++) result.runs.push(encode(await program.run(job.feeds)));
      if (job.readVariables) result.variables = encode(await program.readVariables());
      program.destroy();
      device.destroy();
    } catch (e) {
      result.error = String(e?.message ?? e);
      result.errorCode = e?.code;
    }
    result.ms = performance.now() - started;
    results.push(result);
  }
}
await Deno.writeTextFile(dir + "/results.json", JSON.stringify({ adapter: adapterName, jobs: results }));
