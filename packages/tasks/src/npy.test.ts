import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { stack, writeSplit } from "./dataset.ts";
import { mqar, type MqarParams } from "./mqar.ts";
import { npyBytes, readNpy, writeNpy } from "./npy.ts";
import { IGNORE } from "./types.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "ssmbench-npy-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Case = { name: string; dtype: string; data: Int16Array | Int32Array | Float32Array | BigInt64Array; shape: number[] };
const cases: Case[] = [
  { name: "i2", dtype: "<i2", data: Int16Array.from([-32768, -100, -1, 0, 1, 8191, 32767, 12345]), shape: [2, 4] },
  { name: "i4", dtype: "<i4", data: Int32Array.from([-(2 ** 31), -100, 0, 40_000, 2 ** 31 - 1, 7]), shape: [3, 2] },
  { name: "f4", dtype: "<f4", data: Float32Array.from([0, -0, 1.5, -2.25, 3.4028234663852886e38, 1e-45, Number.NaN, Infinity, -Infinity, 0.1, Math.PI, 1 / 3]), shape: [2, 3, 2] },
  { name: "i8", dtype: "<i8", data: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 1n, 2n ** 63n - 1n]), shape: [5] },
  { name: "i2-empty", dtype: "<i2", data: new Int16Array(0), shape: [0, 128] },
  { name: "i4-scalar", dtype: "<i4", data: Int32Array.from([42]), shape: [] },
];

describe("npy round trip", () => {
  for (const c of cases) {
    it(`${c.name} ${JSON.stringify(c.shape)}`, () => {
      const path = join(tempDir(), `${c.name}.npy`);
      writeNpy(path, c.data, c.shape);
      const back = readNpy(path);
      expect(back.shape).toEqual(c.shape);
      expect(back.data.constructor).toBe(c.data.constructor);
      // byte-exact (covers NaN, -0 and the int extremes)
      expect(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength).equals(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength))).toBe(true);
    });
  }

  it("writes a version 1.0 header padded to 64 bytes and ending in a newline", () => {
    for (const c of cases) {
      const buf = npyBytes(c.data, c.shape);
      expect(buf.subarray(0, 8).equals(Buffer.from([0x93, ...Buffer.from("NUMPY"), 1, 0]))).toBe(true);
      const len = buf.readUInt16LE(8);
      expect((10 + len) % 64).toBe(0);
      const header = buf.toString("latin1", 10, 10 + len);
      expect(header.endsWith("\n")).toBe(true);
      expect(header).toContain(`'descr': '${c.dtype}'`);
      expect(header).toContain("'fortran_order': False");
      expect(buf.length).toBe(10 + len + c.data.byteLength);
    }
    expect(npyBytes(new Int16Array(3), [3]).toString("latin1")).toContain("'shape': (3,)");
  });

  it("reads a view into a larger buffer correctly (byteOffset)", () => {
    const big = Int32Array.from([9, 9, 1, 2, 3, 4, 9]);
    const view = big.subarray(2, 6);
    const path = join(tempDir(), "view.npy");
    writeNpy(path, view, [2, 2]);
    expect(Array.from(readNpy(path).data as Int32Array)).toEqual([1, 2, 3, 4]);
  });

  it("rejects a shape that does not match the data, non-npy files and unsupported dtypes", () => {
    expect(() => npyBytes(new Int16Array(6), [4, 2])).toThrow(/shape \[4,2\] holds 8 values, data has 6/);
    const d = tempDir();
    writeFileSync(join(d, "junk.npy"), "hello world, not numpy");
    expect(() => readNpy(join(d, "junk.npy"))).toThrow(/not a \.npy file/);
    const i4 = npyBytes(new Int32Array(2), [2]); // 8 data bytes: relabel as one float64 (same header length)
    const relabelled = Buffer.from(i4.toString("latin1").replace("'<i4'", "'<f8'").replace("(2,)", "(1,)"), "latin1");
    writeFileSync(join(d, "f8.npy"), relabelled);
    expect(() => readNpy(join(d, "f8.npy"))).toThrow(/unsupported dtype <f8/);
  });

  it("writes atomically: no temporary file is left behind, and an existing file is replaced", () => {
    const d = tempDir();
    const path = join(d, "a.npy");
    writeNpy(path, Int16Array.from([1, 2]), [2]);
    writeNpy(path, Int16Array.from([3, 4, 5]), [3]);
    expect(readdirSync(d)).toEqual(["a.npy"]);
    expect(Array.from(readNpy(path).data as Int16Array)).toEqual([3, 4, 5]);
  });
});

const python = resolve(import.meta.dirname, "../../../.venv/bin/python");
const hasPython = existsSync(python);

describe("npy interop with numpy", () => {
  // Skips only where the project's venv is missing (see scripts/py.mjs); with the venv present it must run.
  it.skipIf(!hasPython)(`numpy reads our files identically and we read numpy's (needs ${python})`, () => {
    const d = tempDir();
    for (const c of cases) writeNpy(join(d, `${c.name}.npy`), c.data, c.shape);
    const script = `
import json, sys, numpy as np
d = sys.argv[1]
out = {}
for name in ${JSON.stringify(cases.map((c) => c.name))}:
    a = np.load(f"{d}/{name}.npy", allow_pickle=False)
    out[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "hex": a.tobytes().hex(), "c": bool(a.flags.c_contiguous)}
np.save(f"{d}/from-numpy-i2.npy", np.arange(-6, 6, dtype=np.int16).reshape(3, 4))
np.save(f"{d}/from-numpy-f4.npy", np.array([[0.5, -1.0, np.nan]], dtype=np.float32))
np.save(f"{d}/from-numpy-i8.npy", np.array([2**40, -3], dtype=np.int64))
print(json.dumps(out))
`;
    const r = spawnSync(python, ["-c", script, d], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.stdout) as Record<string, { dtype: string; shape: number[]; hex: string; c: boolean }>;
    for (const c of cases) {
      const s = seen[c.name]!;
      expect(s.dtype, c.name).toBe(c.dtype);
      expect(s.shape, c.name).toEqual(c.shape);
      expect(s.c).toBe(true);
      expect(s.hex, c.name).toBe(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).toString("hex"));
    }

    const i2 = readNpy(join(d, "from-numpy-i2.npy"));
    expect(i2.shape).toEqual([3, 4]);
    expect(Array.from(i2.data as Int16Array)).toEqual(Array.from({ length: 12 }, (_, i) => i - 6));
    const f4 = readNpy(join(d, "from-numpy-f4.npy"));
    expect(f4.shape).toEqual([1, 3]);
    expect(Array.from(f4.data as Float32Array)).toEqual([0.5, -1, Number.NaN]);
    const i8 = readNpy(join(d, "from-numpy-i8.npy"));
    expect(i8.shape).toEqual([2]);
    expect(Array.from(i8.data as BigInt64Array)).toEqual([2n ** 40n, -3n]);
  });
});

describe("writeSplit (dataset.ts)", () => {
  const params: MqarParams = { vocab: 64, seq_len: 32, num_kv_pairs: 4, power_a: 0.01 };

  it("writes inputs, targets and meta of a split that match the generator", () => {
    const dir = join(tempDir(), "mqar", "32-4"); // created if missing
    const files = writeSplit(mqar, params, "train", 10, 7, dir);
    expect(files).toEqual({ inputs: join(dir, "train.inputs.npy"), targets: join(dir, "train.targets.npy"), meta: join(dir, "train.meta.json") });
    expect(readdirSync(dir).sort()).toEqual(["train.inputs.npy", "train.meta.json", "train.targets.npy"]);

    const examples = mqar.generate(params, "train", 10, 7);
    const inputs = readNpy(files.inputs);
    const targets = readNpy(files.targets);
    expect(inputs.data).toBeInstanceOf(Int16Array);
    expect(targets.data).toBeInstanceOf(Int16Array);
    expect(inputs.shape).toEqual([10, 32]);
    expect(targets.shape).toEqual([10, 32]);
    examples.forEach((e, i) => {
      expect(Array.from(inputs.data.subarray(i * 32, (i + 1) * 32) as Int16Array)).toEqual(Array.from(e.input_ids));
      expect(Array.from(targets.data.subarray(i * 32, (i + 1) * 32) as Int16Array)).toEqual(Array.from(e.targets));
    });
    const t = Array.from(targets.data as Int16Array);
    expect(t.filter((x) => x !== IGNORE)).toHaveLength(10 * 4);

    const meta = JSON.parse(readFileSync(files.meta, "utf8"));
    expect(meta).toEqual({ task: "mqar", version: mqar.version, metric: "accuracy", params, split: "train", n: 10, seed: 7, vocab: 64, shape: [10, 32] });
  });

  it("keeps splits apart in one folder and is reproducible", () => {
    const dir = tempDir();
    writeSplit(mqar, params, "train", 5, 1, dir);
    writeSplit(mqar, params, "valid", 5, 1, dir);
    const again = tempDir();
    writeSplit(mqar, params, "valid", 5, 1, again);
    expect(readdirSync(dir)).toHaveLength(6);
    expect(readFileSync(join(dir, "valid.inputs.npy")).equals(readFileSync(join(again, "valid.inputs.npy")))).toBe(true);
    expect(readFileSync(join(dir, "train.inputs.npy")).equals(readFileSync(join(dir, "valid.inputs.npy")))).toBe(false);
  });

  it("switches to int32 when the vocabulary does not fit int16", () => {
    const big: MqarParams = { vocab: 40_000, seq_len: 16, num_kv_pairs: 2, power_a: 0.01 };
    const files = writeSplit(mqar, big, "test", 3, 0, tempDir());
    const inputs = readNpy(files.inputs);
    expect(inputs.data).toBeInstanceOf(Int32Array);
    expect(Math.max(...(inputs.data as Int32Array))).toBeGreaterThan(32767); // values live in [20000, 40000)
    expect(readNpy(files.targets).data).toBeInstanceOf(Int32Array);
  });

  it("stack refuses examples of different lengths", () => {
    const a = mqar.generate(params, "train", 1, 0);
    const b = mqar.generate({ ...params, seq_len: 48 }, "train", 1, 0);
    expect(() => stack([...a, ...b], 64)).toThrow(/differ in length/);
    expect(stack([], 64).shape).toEqual([0, 0]);
  });
});
