import { writeFile, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { UserError } from "@ssmbench/core";
import { beforeAll, describe, expect, it } from "vitest";
import { getBackend, listBackends, ortMessage } from "./backends.ts";
import { vulkanLoaderPresent, webgpuAdvice } from "./gpu.ts";
import { fixtureDir } from "./fixture.ts";

const backends = await listBackends();
const cudaHere = backends.find((b) => b.name === "cuda")!.available;
const webgpuHere = backends.find((b) => b.name === "webgpu")!.available;

describe("listBackends", () => {
  it("lists every EP with a reason, cpu and wasm available", () => {
    expect(backends.map((b) => b.name)).toEqual(["cpu", "wasm", "cuda", "webgpu"]);
    for (const b of backends) expect(b.reason.length).toBeGreaterThan(0);
    expect(backends.filter((b) => b.available).map((b) => b.name)).toEqual(expect.arrayContaining(["cpu", "wasm"]));
    expect(backends.find((b) => b.name === "cpu")).toMatchObject({ runtime: "onnxruntime-node", available: true });
    expect(backends.find((b) => b.name === "wasm")).toMatchObject({ runtime: "onnxruntime-web", available: true });
  });
});

describe("getBackend", () => {
  it.runIf(!cudaHere)("refuses cuda where it cannot start, naming it and the available EPs", async () => {
    const err = await getBackend("cuda").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/execution provider "cuda" is not available here: .+/);
    expect((err as UserError).hint).toMatch(/available here: cpu, wasm/);
  });

  it.runIf(!webgpuHere)("refuses webgpu where no GPU adapter starts, saying what is missing and how to add it", async () => {
    const err = await getBackend("webgpu").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const { message, hint } = err as UserError;
    expect(message).toMatch(/execution provider "webgpu" is not available here: .*adapter/);
    expect(message).toContain(webgpuAdvice()); // this machine's case of the advice below
    expect(message).toMatch(/or use --ep cpu \/ wasm/);
    expect(hint).toMatch(/available here: cpu, wasm/);
  });

  it("WebGPU advice: the Vulkan loader missing, no Vulkan driver, or another platform's API", () => {
    expect(webgpuAdvice("linux", () => false)).toMatch(/libvulkan\.so\.1 \(the Vulkan loader\) is not installed.*apt-get install libvulkan1/);
    expect(webgpuAdvice("linux", () => true)).toMatch(/Vulkan loader is installed but no GPU answered: install the GPU's Vulkan driver/);
    expect(webgpuAdvice("darwin", () => false)).toMatch(/Metal driver/);
    expect(webgpuAdvice("win32", () => false)).toMatch(/D3D12 or Vulkan driver/);
    expect(typeof vulkanLoaderPresent()).toBe("boolean");
  });

  it("refuses an unknown EP", async () => {
    await expect(getBackend("tpu")).rejects.toThrow(/unknown execution provider "tpu"[\s\S]*available here: cpu, wasm/);
  });

  it.each(["cpu", "wasm"] as const)("%s reports its runtime and version", async (ep) => {
    const b = await getBackend(ep);
    expect(b.version).toBe("1.30.0");
    const s = await b.load(path.join(fixtureDir, "step.onnx"));
    expect(s).toMatchObject({ ep, runtime: b.runtime, version: "1.30.0" });
    expect(s.inputNames).toEqual(["input_ids", "past_ssm.0", "past_key_values.0.key"]);
    expect(s.outputNames).toEqual(["logits", "present_ssm.0", "present_key_values.0.key"]);
    await s.release();
  });
});

describe("loading a broken file", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "ssmbench-runtime-"));
    await writeFile(path.join(dir, "text.onnx"), "this is not an ONNX model\n");
    const real = await readFile(path.join(fixtureDir, "step.onnx"));
    await writeFile(path.join(dir, "truncated.onnx"), real.subarray(0, real.length >> 1));
  });

  it.each([
    ["cpu", "text.onnx"],
    ["cpu", "truncated.onnx"],
    ["wasm", "text.onnx"],
    ["wasm", "truncated.onnx"],
  ])("%s: %s gives a UserError naming the file and suggesting re-export", async (ep, name) => {
    const file = path.join(dir, name);
    const err = await (await getBackend(ep)).load(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const { message, hint } = err as UserError;
    expect(message).toContain(file);
    expect(hint).toMatch(/re-export.*re-download/);
    expect(message).not.toMatch(/onnxruntime_src|\n\s+at /);
  });

  it("a missing file is named as missing", async () => {
    const file = path.join(dir, "nope.onnx");
    await expect((await getBackend("cpu")).load(file)).rejects.toThrow(`model file not found: ${file}`);
  });
});

describe("sessions", () => {
  it("wasm refuses pre-allocated outputs (onnxruntime-web would leave them unfilled)", async () => {
    const s = await (await getBackend("wasm")).load(path.join(fixtureDir, "prefill.onnx"));
    const ids = s.tensor("int64", new BigInt64Array([1n]), [1, 1]);
    const logits = s.tensor("float32", new Float32Array(11), [1, 1, 11]);
    await expect(s.run({ input_ids: ids }, { logits })).rejects.toThrow(/does not fill pre-allocated outputs/);
    await s.release();
  });

  it("run errors name the file and drop onnxruntime's source paths", async () => {
    const s = await (await getBackend("cpu")).load(path.join(fixtureDir, "step.onnx"));
    const err = await s
      .run({
        input_ids: s.tensor("int64", new BigInt64Array([1n]), [1, 1]),
        "past_ssm.0": s.tensor("float32", new Float32Array(8), [2, 4]),
        "past_key_values.0.key": s.tensor("float32", new Float32Array(0), [2, 0, 4]),
      })
      .catch((e: unknown) => e as Error);
    expect(err.message).toMatch(/^running step\.onnx on cpu: /);
    expect(err.message).not.toContain("onnxruntime_src");
    await s.release();
  });

  it("cpu with syncRun runs the native session synchronously: the same outputs, pre-allocated ones filled, errors worded alike", async () => {
    const cpu = await getBackend("cpu");
    const plain = await cpu.load(path.join(fixtureDir, "step.onnx"));
    const sync = await cpu.load(path.join(fixtureDir, "step.onnx"), { syncRun: true });
    expect([plain.syncRun, sync.syncRun]).toEqual([false, true]);
    // one native session: its names read from the binding's metadata, as the public session reads them
    expect([sync.inputNames, sync.outputNames]).toEqual([plain.inputNames, plain.outputNames]);
    const feeds = {
      input_ids: sync.tensor("int64", new BigInt64Array([3n, 5n]), [2, 1]),
      "past_ssm.0": sync.tensor("float32", Float32Array.from({ length: 8 }, (_, i) => Math.sin(i)), [2, 4]),
      "past_key_values.0.key": sync.tensor("float32", Float32Array.from({ length: 24 }, (_, i) => Math.cos(i)), [2, 3, 4]),
    };
    const want = await plain.run(feeds);
    const got = await sync.run(feeds);
    for (const name of plain.outputNames) {
      expect(got[name]!.dims).toEqual(want[name]!.dims);
      expect(Array.from(got[name]!.data as Float32Array)).toEqual(Array.from(want[name]!.data as Float32Array));
    }
    // a pre-allocated output is filled; the outputs not given are allocated by onnxruntime
    const logits = sync.tensor("float32", new Float32Array(want.logits!.data.length), want.logits!.dims);
    const some = await sync.run(feeds, { logits });
    expect(Array.from(logits.data as Float32Array)).toEqual(Array.from(want.logits!.data as Float32Array));
    expect(Object.keys(some).sort()).toEqual([...plain.outputNames].sort());
    const err = await sync.run({ ...feeds, "past_ssm.0": sync.tensor("float32", new Float32Array(8), [2, 2, 2]) }).catch((e: unknown) => e as Error);
    expect(err.message).toMatch(/^running step\.onnx on cpu: /);
    await plain.release();
    await sync.release();
  });

  it("cpu with syncRun refuses a corrupt file as the public session does: a UserError naming it and the way out", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "ssmbench-sync-"));
    const bad = path.join(dir, "step.onnx");
    await writeFile(bad, (await readFile(path.join(fixtureDir, "step.onnx"))).subarray(0, 100));
    const cpu = await getBackend("cpu");
    for (const syncRun of [false, true]) {
      const err = await cpu.load(bad, { syncRun }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toContain(bad);
      expect((err as UserError).hint).toMatch(/re-export/);
    }
  });

  it("wasm ignores syncRun (onnxruntime-web has no synchronous run)", async () => {
    const s = await (await getBackend("wasm")).load(path.join(fixtureDir, "step.onnx"), { syncRun: true });
    expect(s.syncRun).toBe(false);
    await s.release();
  });

  it("ortMessage keeps the readable sentence", () => {
    const raw =
      "/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(" +
      "const onnxruntime::webgpu::WebGpuContextConfig&)::<lambda()> adapter_result.status == wgpu::RequestAdapterStatus::Success " +
      "was false. Failed to get a WebGPU adapter: No supported adapters\n";
    expect(ortMessage(new Error(raw))).toBe("Failed to get a WebGPU adapter: No supported adapters");
  });
});
