// Writer and reader for NumPy's .npy format (version 1.0), the hand-off from the TypeScript generators to training.
import { closeSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";

type Supported = Int16Array | Int32Array | Float32Array | BigInt64Array;
const descr = (a: Supported): string =>
  a instanceof Int16Array ? "<i2" : a instanceof Int32Array ? "<i4" : a instanceof Float32Array ? "<f4" : "<i8";

export function npyBytes(data: Supported, shape: readonly number[]): Buffer {
  const count = shape.reduce((s, x) => s * x, 1);
  if (count !== data.length) throw new Error(`npy: shape [${shape}] holds ${count} values, data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // magic(6) + version(2) + header length(2) + header, padded with spaces to a multiple of 64, ending in \n
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, "latin1"), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Writes atomically (temp file then rename), so an interrupted run never leaves half a file. */
export function writeNpy(path: string, data: Supported, shape: readonly number[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, npyBytes(data, shape));
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function readNpy(path: string): { data: Supported; shape: number[] } {
  const buf = readFileSync(path);
  if (buf.toString("latin1", 0, 6) !== "\x93NUMPY") throw new Error(`${path}: not a .npy file`);
  const len = buf.readUInt16LE(8);
  const header = buf.toString("latin1", 10, 10 + len);
  const d = /'descr': '([^']+)'/.exec(header)?.[1];
  const shape = (/'shape': \(([^)]*)\)/.exec(header)?.[1] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const body = buf.subarray(10 + len);
  const copy = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
  const data =
    d === "<i2" ? new Int16Array(copy) : d === "<i4" ? new Int32Array(copy) : d === "<f4" ? new Float32Array(copy) : d === "<i8" ? new BigInt64Array(copy) : null;
  if (!data) throw new Error(`${path}: unsupported dtype ${d}`);
  return { data, shape };
}
