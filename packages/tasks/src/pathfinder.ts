// LRA Pathfinder-32 (Tay et al., arXiv 2011.04006; the task of Linsley et al., arXiv 1805.08315): a 32x32 image
// of dashed curves and two round markers; are the markers the two ends of one curve? Read as 1024 pixel tokens
// (row-major, grey level 0..255 = token id, vocabulary 256), then the label token (1 connected, 0 not).
// Our own generator after drewlinsley/pathfinder's snakes2.py with LRA's Pathfinder-32 parameters
// (lra_benchmarks/data/pathfinder.py): paddle length 2, margin 1, thickness 0.5, marker radius 1.5, seed
// distance 7, continuity 1.0, contour length 14 ("hard"; 9 intermediate, 6 easy), distractor_length =
// contour_length // 3 and 20 // distractor_length distractor curves. A curve ("snake") is a chain of paddles
// (short strokes) separated by gaps:
//  - two target snakes grow from seeds 7 px apart near the centre (the first seed at least 2 x 7 px from every
//    border), one paddle at a time and alternately; the next paddle's pivot lies 2 px (2 x margin) past the last
//    paddle's head along its direction, and its direction is drawn from the circle of radius length + margin
//    around the pivot, one candidate per pixel of arc, weighted by cos(min(|turn| x continuity, pi/2))^2;
//  - a paddle must keep 2 x margin + thickness = 2.5 px from every earlier paddle but its own predecessor (the
//    original keeps paddles apart through dilated masks), and inside the image less its padding;
//  - when a target snake cannot grow, both are drawn again; distractor snakes are seeded anywhere and dropped
//    when they cannot grow (5 tries each);
//  - label (50/50): one marker on the seed end of a random target snake, the other on the far end of the same
//    snake (connected) or of the other one (not connected).
// datasets/pathfinder/card.md lists where this deviates from the original.
import { z } from "zod";
import { labelledSequence } from "./classification.ts";
import { Rng } from "./rng.ts";
import type { Example, Setting, TaskDef } from "./types.ts";

export const PATHFINDER = {
  size: 32,
  padding: 1,
  paddleLength: 2,
  margin: 1,
  thickness: 0.5,
  markerRadius: 1.5,
  seedDistance: 7,
  continuity: 1.0,
  /** 20 // distractor_length distractor snakes (LRA's Pathfinder-32). */
  distractorBudget: 20,
  maxPaddleRetrial: 2,
  maxDistractorRetrial: 4,
  /** Rendered stroke width in pixels (see the card: LRA draws 0.5 px at 2x and resizes with Lanczos). */
  stroke: 1,
  /** Subsamples per pixel side when rendering (box filter). */
  supersample: 4,
} as const;

/** Closest distance allowed between a paddle and any earlier one but its predecessor. */
export const MIN_PADDLE_DISTANCE = 2 * PATHFINDER.margin + PATHFINDER.thickness;

export type Point = [x: number, y: number];
/** A paddle: a stroke from a to b (x = column, y = row, in pixels; pixel (r, c) spans [c, c+1) x [r, r+1)). */
export interface Paddle {
  a: Point;
  b: Point;
}
export interface PathfinderScene {
  /** Target snakes first (two), then the distractors; each a chain of paddles from its seed end. */
  snakes: Paddle[][];
  markers: [Point, Point];
  label: 0 | 1;
}

interface Growing {
  paddles: Paddle[];
  pivot: Point;
  theta: number;
}

const LO = PATHFINDER.padding + PATHFINDER.stroke / 2;
const HI = PATHFINDER.size - PATHFINDER.padding - PATHFINDER.stroke / 2;
const inside = (p: Point) => p[0] >= LO && p[0] <= HI && p[1] >= LO && p[1] <= HI;
const at = (p: Point, theta: number, d: number): Point => [p[0] + d * Math.cos(theta), p[1] + d * Math.sin(theta)];

function pointSegment(p: Point, s: Paddle): number {
  const dx = s.b[0] - s.a[0];
  const dy = s.b[1] - s.a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p[0] - s.a[0]) * dx + (p[1] - s.a[1]) * dy) / len2));
  return Math.hypot(p[0] - s.a[0] - t * dx, p[1] - s.a[1] - t * dy);
}

const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);

/** Distance between two paddles (0 when they cross). */
export function paddleDistance(s: Paddle, t: Paddle): number {
  const d1 = cross(s.a, s.b, t.a);
  const d2 = cross(s.a, s.b, t.b);
  const d3 = cross(t.a, t.b, s.a);
  const d4 = cross(t.a, t.b, s.b);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return 0;
  return Math.min(pointSegment(s.a, t), pointSegment(s.b, t), pointSegment(t.a, s), pointSegment(t.b, s));
}

/** A paddle fits: inside the image and MIN_PADDLE_DISTANCE from every placed paddle except `except`. */
function fits(p: Paddle, placed: readonly Paddle[], except?: Paddle): boolean {
  if (!inside(p.a) || !inside(p.b)) return false;
  // Paddles whose midpoints are MIN_PADDLE_DISTANCE + one paddle length apart cannot come closer than allowed.
  const far2 = (MIN_PADDLE_DISTANCE + PATHFINDER.paddleLength) ** 2;
  const mx = p.a[0] + p.b[0];
  const my = p.a[1] + p.b[1];
  for (const q of placed) {
    const dx = (mx - q.a[0] - q.b[0]) / 2;
    const dy = (my - q.a[1] - q.b[1]) / 2;
    if (dx * dx + dy * dy >= far2 || q === except) continue;
    if (paddleDistance(p, q) < MIN_PADDLE_DISTANCE) return false;
  }
  return true;
}

/** A snake's first paddle from `tail` in direction theta (its pivot sits `margin` behind the tail, as in snakes.py). */
function seedAt(tail: Point, theta: number, placed: readonly Paddle[]): Growing | undefined {
  const paddle = { a: tail, b: at(tail, theta, PATHFINDER.paddleLength) };
  if (!fits(paddle, placed)) return undefined;
  return { paddles: [paddle], pivot: at(tail, theta, -PATHFINDER.margin), theta };
}

/** One more paddle for a snake, or false when no direction fits. */
function extend(snake: Growing, placed: Paddle[], rng: Rng): boolean {
  const { paddleLength: L, margin: m, continuity } = PATHFINDER;
  const pivot = at(snake.pivot, snake.theta, L + 2 * m);
  const radius = L + m;
  const step = 1 / radius; // one pixel of arc
  const last = snake.paddles[snake.paddles.length - 1];
  const candidates: { paddle: Paddle; theta: number; weight: number }[] = [];
  let total = 0;
  for (let k = -Math.floor(Math.PI / step); k * step <= Math.PI; k++) {
    const turn = Math.abs(k * step);
    const weight = Math.max(Math.cos(Math.min(turn * continuity, Math.PI / 2)), 0) ** 2;
    if (weight < 1e-12) continue;
    const theta = snake.theta + k * step;
    const paddle = { a: at(pivot, theta, m), b: at(pivot, theta, radius) };
    if (!fits(paddle, placed, last)) continue;
    candidates.push({ paddle, theta, weight });
    total += weight;
  }
  if (candidates.length === 0) return false;
  let r = rng.float() * total;
  let pick = candidates[candidates.length - 1]!;
  for (const c of candidates) {
    r -= c.weight;
    if (r < 0) {
      pick = c;
      break;
    }
  }
  snake.paddles.push(pick.paddle);
  placed.push(pick.paddle);
  snake.pivot = pivot;
  snake.theta = pick.theta;
  return true;
}

const angle = (rng: Rng) => (rng.float() * 2 - 1) * Math.PI;

/** Two target snakes of `length` paddles, seeds `seedDistance` apart near the centre; undefined when stuck. */
function twoSnakes(length: number, rng: Rng): Growing[] | undefined {
  const { size, seedDistance: sd, maxPaddleRetrial } = PATHFINDER;
  const placed: Paddle[] = [];
  let first: Growing | undefined;
  for (let t = 0; t <= maxPaddleRetrial && !first; t++) {
    const tail: Point = [2 * sd + rng.float() * (size - 4 * sd), 2 * sd + rng.float() * (size - 4 * sd)];
    first = seedAt(tail, angle(rng), placed);
  }
  if (!first) return undefined;
  placed.push(first.paddles[0]!);
  let second: Growing | undefined;
  for (let t = 0; t <= maxPaddleRetrial && !second; t++) {
    second = seedAt(at(first.paddles[0]!.a, angle(rng), sd), angle(rng), placed);
  }
  if (!second) return undefined;
  placed.push(second.paddles[0]!);
  const snakes = [first, second];
  for (let i = 1; i < length; i++) for (const s of snakes) if (!extend(s, placed, rng)) return undefined;
  return snakes;
}

const SEED_DRAWS = 50;

/** A distractor snake of `length` paddles seeded anywhere, added to `placed`; undefined (nothing added) when stuck. */
function distractor(length: number, placed: Paddle[], rng: Rng): Paddle[] | undefined {
  // snakes.py draws the seed among the free positions; we draw positions until one is free (or give up).
  let snake: Growing | undefined;
  for (let t = 0; t < SEED_DRAWS && !snake; t++) {
    snake = seedAt([LO + rng.float() * (HI - LO), LO + rng.float() * (HI - LO)], angle(rng), placed);
  }
  if (!snake) return undefined;
  const trial = [...placed, snake.paddles[0]!];
  for (let i = 1; i < length; i++) if (!extend(snake, trial, rng)) return undefined;
  placed.push(...snake.paddles);
  return snake.paddles;
}

export const distractorLength = (contourLength: number) => Math.max(1, Math.floor(contourLength / 3));
export const distractorCount = (contourLength: number) => Math.floor(PATHFINDER.distractorBudget / distractorLength(contourLength));

/** One scene: the snakes, the two markers and the label. */
export function pathfinderScene(contourLength: number, rng: Rng): PathfinderScene {
  const label: 0 | 1 = rng.int(0, 2) === 1 ? 1 : 0;
  let targets: Growing[] | undefined;
  for (let attempt = 0; !targets; attempt++) {
    if (attempt >= 100_000) throw new Error(`pathfinder: could not place two snakes of ${contourLength} paddles`);
    targets = twoSnakes(contourLength, rng);
  }
  const placed = targets.flatMap((s) => s.paddles);
  const snakes = targets.map((s) => s.paddles);
  const dl = distractorLength(contourLength);
  for (let d = 0; d < distractorCount(contourLength); d++) {
    for (let t = 0; t <= PATHFINDER.maxDistractorRetrial; t++) {
      const s = distractor(dl, placed, rng);
      if (s) {
        snakes.push(s);
        break;
      }
    }
  }
  const origin = rng.int(0, 2);
  const terminal = label === 1 ? origin : 1 - origin;
  const far = snakes[terminal]![snakes[terminal]!.length - 1]!.b;
  return { snakes, markers: [snakes[origin]![0]!.a, far], label };
}

/** The scene as grey levels 0..255, row-major: strokes and marker discs, anti-aliased by supersampling. */
export function renderScene(scene: PathfinderScene): Uint8Array {
  const { size, stroke, markerRadius, supersample: S } = PATHFINDER;
  const img = new Float32Array(size * size);
  const paint = (x0: number, x1: number, y0: number, y1: number, covers: (p: Point) => boolean) => {
    for (let r = Math.max(0, Math.floor(y0)); r <= Math.min(size - 1, Math.floor(y1)); r++) {
      for (let c = Math.max(0, Math.floor(x0)); c <= Math.min(size - 1, Math.floor(x1)); c++) {
        let hits = 0;
        for (let i = 0; i < S; i++) for (let j = 0; j < S; j++) if (covers([c + (j + 0.5) / S, r + (i + 0.5) / S])) hits++;
        img[r * size + c] = Math.max(img[r * size + c]!, hits / (S * S));
      }
    }
  };
  const h = stroke / 2;
  for (const snake of scene.snakes) {
    for (const p of snake) {
      paint(Math.min(p.a[0], p.b[0]) - h, Math.max(p.a[0], p.b[0]) + h, Math.min(p.a[1], p.b[1]) - h, Math.max(p.a[1], p.b[1]) + h, (q) => pointSegment(q, p) <= h);
    }
  }
  for (const [x, y] of scene.markers) {
    paint(x - markerRadius, x + markerRadius, y - markerRadius, y + markerRadius, (q) => Math.hypot(q[0] - x, q[1] - y) <= markerRadius);
  }
  return Uint8Array.from(img, (v) => Math.round(255 * v));
}

export const PathfinderParams = z.object({ contour_length: z.number().int().min(3).max(20) });
export type PathfinderParams = z.infer<typeof PathfinderParams>;

/** LRA's Pathfinder-32 is the "hard" set (contour length 14); the intermediate (9) and easy (6) sets are evaluated too. */
const pathfinderDefault: PathfinderParams = { contour_length: 14 };

export const pathfinder: TaskDef<PathfinderParams> = {
  id: "pathfinder",
  version: "1.0.0",
  title: "LRA Pathfinder-32",
  metric: "accuracy",
  source: "Long Range Arena (arXiv 2011.04006) Pathfinder-32, generator of Linsley et al. (arXiv 1805.08315, drewlinsley/pathfinder): 32x32, contour length 14, 2 classes",
  defaultParams: pathfinderDefault,
  settings(trained) {
    const list: Setting<PathfinderParams>[] = [{ name: `cl${trained.contour_length}`, params: trained }];
    for (const cl of [14, 9, 6]) if (cl !== trained.contour_length) list.push({ name: `cl${cl}`, params: { contour_length: cl } });
    return list;
  },
  vocab: () => 256,
  seqLen: () => PATHFINDER.size * PATHFINDER.size,
  generate(params, split, n, seed): Example[] {
    const rng = new Rng(seed, `pathfinder/${split}/${params.contour_length}`);
    return Array.from({ length: n }, () => {
      const scene = pathfinderScene(params.contour_length, rng);
      const pixels = renderScene(scene);
      return labelledSequence(pixels, pixels.length, 0, scene.label);
    });
  },
  parseParams: (raw) => PathfinderParams.parse({ ...pathfinderDefault, ...raw }),
};
