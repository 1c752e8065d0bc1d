// LRA Pathfinder-32 against its spec (pathfinder.ts, datasets/pathfinder/card.md). The label is checked without
// the generator's bookkeeping: paddles are joined where a dash gap (at most 2 x margin) separates them, and the
// markers must be joined exactly when the label says so; the image is checked against the scene it renders.
import { describe, expect, it } from "vitest";
import { labelOf } from "./classification.ts";
import {
  MIN_PADDLE_DISTANCE,
  PATHFINDER,
  distractorCount,
  distractorLength,
  pathfinder,
  pathfinderScene,
  renderScene,
  type Paddle,
  type PathfinderScene,
  type Point,
} from "./pathfinder.ts";
import { Rng } from "./rng.ts";
import { IGNORE } from "./types.ts";

const dist = (p: Point, q: Point) => Math.hypot(p[0] - q[0], p[1] - q[1]);

/** Distance from p to segment s: the nearest point of s is p's projection clamped to the segment. */
function toSegment(p: Point, s: Paddle): number {
  const v: Point = [s.b[0] - s.a[0], s.b[1] - s.a[1]];
  const t = Math.min(1, Math.max(0, ((p[0] - s.a[0]) * v[0] + (p[1] - s.a[1]) * v[1]) / (v[0] ** 2 + v[1] ** 2)));
  return dist(p, [s.a[0] + t * v[0], s.a[1] + t * v[1]]);
}
const side = (o: Point, a: Point, b: Point) => Math.sign((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]));
function segmentDistance(s: Paddle, t: Paddle): number {
  const crossing = side(s.a, s.b, t.a) * side(s.a, s.b, t.b) < 0 && side(t.a, t.b, s.a) * side(t.a, t.b, s.b) < 0;
  return crossing ? 0 : Math.min(toSegment(s.a, t), toSegment(s.b, t), toSegment(t.a, s), toSegment(t.b, s));
}

/** Are the two markers joined by a chain of paddles, each within a dash gap of the next? */
function joined(scene: PathfinderScene): boolean {
  const all = scene.snakes.flat();
  const gap = 2 * PATHFINDER.margin + 0.25;
  const touching = (m: Point) => all.flatMap((p, i) => (dist(p.a, m) < 1e-9 || dist(p.b, m) < 1e-9 ? [i] : []));
  const [from, to] = scene.markers.map(touching) as [number[], number[]];
  expect(from).toHaveLength(1);
  expect(to).toHaveLength(1);
  const seen = new Set(from);
  const queue = [...from];
  while (queue.length) {
    const i = queue.pop()!;
    all.forEach((p, j) => {
      if (!seen.has(j) && segmentDistance(all[i]!, p) <= gap) {
        seen.add(j);
        queue.push(j);
      }
    });
  }
  return seen.has(to[0]!);
}

function checkScene(scene: PathfinderScene, contourLength: number): void {
  const { size, padding, stroke, paddleLength, margin, seedDistance } = PATHFINDER;
  const [t0, t1, ...distractors] = scene.snakes;
  expect(t0).toHaveLength(contourLength);
  expect(t1).toHaveLength(contourLength);
  expect(distractors.length).toBeLessThanOrEqual(distractorCount(contourLength));
  for (const d of distractors) expect(d).toHaveLength(distractorLength(contourLength));
  // Seeds 7 px apart, the first at least 2 x 7 px from every border.
  expect(dist(t0![0]!.a, t1![0]!.a)).toBeCloseTo(seedDistance, 9);
  for (const c of t0![0]!.a) expect(c >= 2 * seedDistance && c <= size - 2 * seedDistance).toBe(true);
  const lo = padding + stroke / 2 - 1e-9;
  const hi = size - padding - stroke / 2 + 1e-9;
  const faults: string[] = [];
  scene.snakes.forEach((snake, si) => {
    snake.forEach((p, k) => {
      if (Math.abs(dist(p.a, p.b) - paddleLength) > 1e-9) faults.push(`snake ${si} paddle ${k}: length ${dist(p.a, p.b)}`);
      if (![...p.a, ...p.b].every((c) => c >= lo && c <= hi)) faults.push(`snake ${si} paddle ${k}: outside the image`);
      if (k > 0) {
        // A dash gap from the previous paddle, turning by at most 90 degrees (continuity 1).
        const q = snake[k - 1]!;
        if (dist(q.b, p.a) > 2 * margin + 1e-9) faults.push(`snake ${si} paddle ${k}: gap ${dist(q.b, p.a)}`);
        const dot = (q.b[0] - q.a[0]) * (p.b[0] - p.a[0]) + (q.b[1] - q.a[1]) * (p.b[1] - p.a[1]);
        if (dot < -1e-9) faults.push(`snake ${si} paddle ${k}: turns by more than 90 degrees`);
      }
      // Every other paddle, of this snake or another, keeps its distance.
      scene.snakes.forEach((other, oi) =>
        other.forEach((q, j) => {
          if (oi === si && Math.abs(j - k) <= 1) return;
          const d = segmentDistance(p, q);
          if (d < MIN_PADDLE_DISTANCE - 1e-6) faults.push(`snake ${si} paddle ${k} is ${d} from snake ${oi} paddle ${j}`);
        }),
      );
    });
  });
  expect(faults).toEqual([]);
  // Markers: the seed end of a target snake, and the far end of one of them.
  const [origin, far] = scene.markers;
  expect([t0![0]!.a, t1![0]!.a].some((p) => dist(p, origin) === 0)).toBe(true);
  expect([t0!.at(-1)!.b, t1!.at(-1)!.b].some((p) => dist(p, far) === 0)).toBe(true);
  expect(joined(scene)).toBe(scene.label === 1);
}

describe("Pathfinder scenes", () => {
  it.each([
    [14, 80],
    [9, 60],
    [6, 60],
  ])("contour length %i: the label says whether a chain of dashes joins the markers", (cl, n) => {
    const rng = new Rng(4, `scenes/${cl}`);
    const scenes = Array.from({ length: n }, () => pathfinderScene(cl, rng));
    for (const s of scenes) checkScene(s, cl);
    const positives = scenes.filter((s) => s.label === 1).length;
    expect(positives).toBeGreaterThan(n * 0.3);
    expect(positives).toBeLessThan(n * 0.7);
  });

  it("renders strokes and markers, and nothing away from them", () => {
    const { size, stroke, markerRadius } = PATHFINDER;
    const rng = new Rng(5, "render");
    for (let k = 0; k < 20; k++) {
      const scene = pathfinderScene(14, rng);
      const img = renderScene(scene);
      expect(img).toHaveLength(size * size);
      const px = (p: Point) => img[Math.floor(p[1]) * size + Math.floor(p[0])]!;
      for (const m of scene.markers) expect(px(m)).toBe(255);
      for (const p of scene.snakes.flat()) expect(px([(p.a[0] + p.b[0]) / 2, (p.a[1] + p.b[1]) / 2])).toBeGreaterThan(0);
      // A pixel whose square lies wholly outside every stroke and marker is black.
      const reach = Math.SQRT1_2;
      const lit: number[] = [];
      for (let r = 0; r < size; r++) {
        for (let c = 0; c < size; c++) {
          const centre: Point = [c + 0.5, r + 0.5];
          const clear =
            scene.snakes.flat().every((p) => toSegment(centre, p) > stroke / 2 + reach) && scene.markers.every((m) => dist(centre, m) > markerRadius + reach);
          if (clear && img[r * size + c] !== 0) lit.push(r * size + c);
        }
      }
      expect(lit).toEqual([]);
    }
  });
});

describe("Pathfinder examples", () => {
  it("are the rendered scene, 1024 pixel tokens, with the scene's label at the last position", () => {
    for (const cl of [14, 6]) {
      const examples = pathfinder.generate({ contour_length: cl }, "valid", 30, 2);
      const rng = new Rng(2, `pathfinder/valid/${cl}`);
      for (const e of examples) {
        const scene = pathfinderScene(cl, rng);
        expect(Array.from(e.input_ids)).toEqual(Array.from(renderScene(scene)));
        expect(e.targets).toHaveLength(1024);
        expect(Array.from(e.targets.subarray(0, -1)).every((t) => t === IGNORE)).toBe(true);
        expect(labelOf(e)).toBe(scene.label);
        expect(Array.from(e.input_ids).every((t) => Number.isInteger(t) && t >= 0 && t < 256)).toBe(true);
      }
    }
  });

  it("is LRA's hard set (contour length 14) when trained, evaluated at 14, 9 and 6; 1024 tokens, vocabulary 256", () => {
    const trained = pathfinder.parseParams({});
    expect(trained).toEqual({ contour_length: 14 });
    const settings = pathfinder.settings(trained);
    expect(settings.map((s) => s.name)).toEqual(["cl14", "cl9", "cl6"]);
    expect(pathfinder.settings({ contour_length: 6 }).map((s) => s.name)).toEqual(["cl6", "cl14", "cl9"]);
    for (const s of settings) {
      expect(pathfinder.seqLen(s.params)).toBe(1024);
      expect(pathfinder.vocab(s.params)).toBe(256);
    }
    expect(distractorLength(14)).toBe(4);
    expect(distractorCount(14)).toBe(5);
    expect(() => pathfinder.parseParams({ contour_length: 2 })).toThrow();
  });

  it("is deterministic by seed and split, and differs across them (no image in two splits)", () => {
    const a = pathfinder.generate(pathfinder.defaultParams, "test", 10, 0);
    expect(pathfinder.generate(pathfinder.defaultParams, "test", 10, 0)).toEqual(a);
    expect(pathfinder.generate(pathfinder.defaultParams, "test", 10, 1)).not.toEqual(a);
    const key = (e: { input_ids: Int32Array }) => Array.from(e.input_ids).join(",");
    const test = new Set(pathfinder.generate(pathfinder.defaultParams, "test", 100, 0).map(key));
    const train = pathfinder.generate(pathfinder.defaultParams, "train", 100, 0).map(key);
    expect(train.filter((k) => test.has(k))).toEqual([]);
  });
});
