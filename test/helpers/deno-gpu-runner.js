// The Deno side of test/helpers/deno-gpu.ts: runs WGSL compute jobs on navigator.gpu (Mesa's
// llvmpipe on a machine without a GPU) and writes the buffers each job reads back.
//
// Usage: deno run --allow-read=DIR --allow-write=DIR deno-gpu-runner.js DIR
// DIR/manifest.json:
//   { shaders: [{ code, entryPoint, layout: [{ binding, type }] }],
//     jobs: [{ label, buffers: [{ size, data?: [byteOffset, byteLength] }],
//              steps: [{ shader, bindings: [{ binding, buffer }], workgroupCount: [x, y, z] }
//                    | { copy: { src, srcOffset, dst, dstOffset, size } }],
//              reads: [bufferIndex], repeat?: number }] }
// DIR/input.bin holds the initial data that `data` points into.
// Writes DIR/output.bin (the read buffers, one after another) and DIR/result.json:
//   { adapter, jobs: [{ error?, reads: [[byteOffset, byteLength]], ms }] }
// Errors (shader compilation, validation, out of memory) are reported per job, never thrown.

const dir = Deno.args[0];
const manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
const input = await Deno.readFile(`${dir}/input.bin`);

const adapter = await navigator.gpu.requestAdapter();
if (!adapter) {
  await Deno.writeTextFile(`${dir}/result.json`, JSON.stringify({ adapter: null, jobs: [] }));
  Deno.exit(0);
}
const device = await adapter.requestDevice();
const lost = [];
device.lost.then((info) => lost.push(info.message));
const adapterName = adapter.info?.description || adapter.info?.device || "unknown adapter";

const pipelines = new Map();
function pipelineFor(index) {
  let p = pipelines.get(index);
  if (p) return p;
  const s = manifest.shaders[index];
  const module = device.createShaderModule({ code: s.code, label: `shader ${index}` });
  const layout = device.createBindGroupLayout({
    entries: s.layout.map((b) => ({ binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.type } })),
  });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: s.entryPoint },
  });
  p = { pipeline, layout };
  pipelines.set(index, p);
  return p;
}

async function popErrors(count) {
  const messages = [];
  for (let i = 0; i < count; i++) {
    const e = await device.popErrorScope();
    if (e) messages.push(e.message);
  }
  return messages;
}

const chunks = [];
let outputSize = 0;
const results = [];
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

for (const job of manifest.jobs) {
  const started = performance.now();
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("internal");
  device.pushErrorScope("validation");
  const buffers = [];
  const staging = [];
  let failure = null;
  try {
    for (const b of job.buffers) {
      const buffer = device.createBuffer({ size: Math.max(4, Math.ceil(b.size / 4) * 4), usage });
      if (b.data) device.queue.writeBuffer(buffer, 0, input, b.data[0], b.data[1]);
      buffers.push(buffer);
    }
    const repeat = job.repeat ?? 1;
    for (let r = 0; r < repeat; r++) {
      const encoder = device.createCommandEncoder();
      for (const step of job.steps) {
        if (step.copy) {
          const c = step.copy;
          encoder.copyBufferToBuffer(buffers[c.src], c.srcOffset, buffers[c.dst], c.dstOffset, c.size);
          continue;
        }
        const [x, y, z] = step.workgroupCount;
        if (x * y * z === 0) continue;
        const { pipeline, layout } = pipelineFor(step.shader);
        const group = device.createBindGroup({
          layout,
          entries: step.bindings.map((b) => ({ binding: b.binding, resource: { buffer: buffers[b.buffer] } })),
        });
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(x, y, z);
        pass.end();
      }
      if (r === repeat - 1)
        for (const index of job.reads) {
          const size = Math.max(4, Math.ceil(job.buffers[index].size / 4) * 4);
          const s = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
          encoder.copyBufferToBuffer(buffers[index], 0, s, 0, size);
          staging.push({ buffer: s, size: job.buffers[index].size });
        }
      device.queue.submit([encoder.finish()]);
    }
  } catch (e) {
    failure = String(e?.message ?? e);
  }
  const errors = await popErrors(3);
  if (lost.length) errors.push(`device lost: ${lost.join("; ")}`);
  if (failure) errors.unshift(failure);
  const reads = [];
  if (errors.length === 0) {
    for (const s of staging) {
      await s.buffer.mapAsync(GPUMapMode.READ);
      const bytes = new Uint8Array(s.buffer.getMappedRange().slice(0, s.size));
      s.buffer.unmap();
      reads.push([outputSize, bytes.byteLength]);
      chunks.push(bytes);
      outputSize += bytes.byteLength;
    }
  }
  for (const s of staging) s.buffer.destroy();
  for (const b of buffers) b.destroy();
  results.push({ label: job.label, error: errors.length ? errors.join("\n") : undefined, reads, ms: performance.now() - started });
}

const output = new Uint8Array(outputSize);
let at = 0;
for (const c of chunks) {
  output.set(c, at);
  at += c.byteLength;
}
await Deno.writeFile(`${dir}/output.bin`, output);
await Deno.writeTextFile(`${dir}/result.json`, JSON.stringify({ adapter: adapterName, jobs: results }));
device.destroy();
