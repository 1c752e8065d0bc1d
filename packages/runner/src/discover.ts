// Discovery by package and by folder: model families are the workspace packages marked
// `"ssmbench": {"kind": "model"}`; checkpoints are models/<id>/card.json. No table is kept by hand.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ModelCard, UserError, didYouMean } from "@ssmbench/core";

export interface Family {
  name: string;
  packageName: string;
  dir: string;
  description: string;
}

export function findRepoRoot(from = process.cwd()): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const up = join(dir, "..");
    if (up === dir) throw new UserError("not inside the ssmbench repository (no pnpm-workspace.yaml above the current folder)", "run from the repository");
    dir = up;
  }
}

export function discoverFamilies(root: string): Family[] {
  const pkgs = join(root, "packages");
  const out: Family[] = [];
  for (const name of readdirSync(pkgs).sort()) {
    const file = join(pkgs, name, "package.json");
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { name: string; description?: string; ssmbench?: { kind?: string } };
    if (pkg.ssmbench?.kind !== "model") continue;
    out.push({ name: name.replace(/^model-/, ""), packageName: pkg.name, dir: join(pkgs, name), description: pkg.description ?? "" });
  }
  return out;
}

export interface Checkpoint {
  dir: string;
  card: ModelCard;
}

export function loadCheckpoint(dir: string): Checkpoint {
  const file = join(dir, "card.json");
  if (!existsSync(file)) throw new UserError(`no card.json in ${dir}`, "a checkpoint folder holds prefill.onnx, step.onnx and card.json: run pnpm train");
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UserError(`${file} is not valid JSON (${(e as Error).message})`, "re-export the checkpoint (pnpm export) or restore it from git");
  }
  const parsed = ModelCard.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new UserError(`${file} does not follow the card schema: ${issues}`, "re-export the checkpoint (pnpm export)");
  }
  return { dir, card: parsed.data };
}

export function discoverCheckpoints(modelsDir: string): Checkpoint[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir)
    .sort()
    .filter((id) => existsSync(join(modelsDir, id, "card.json")))
    .map((id) => loadCheckpoint(join(modelsDir, id)));
}

/** `--model` accepts a family (every checkpoint of it), a checkpoint id, or "all". */
export function resolveModels(selector: string, root: string, modelsDir: string): Checkpoint[] {
  const all = discoverCheckpoints(modelsDir);
  const families = discoverFamilies(root).map((f) => f.name);
  const wanted = selector.split(",").map((s) => s.trim()).filter(Boolean);
  const picked = new Map<string, Checkpoint>();
  for (const w of wanted) {
    const hits = w === "all" ? all : all.filter((c) => c.card.id === w || c.card.family === w);
    if (hits.length === 0) {
      const known = `families: ${families.join(", ") || "(none)"}; checkpoints: ${all.map((c) => c.card.id).join(", ") || "(none)"}`;
      if (families.includes(w)) throw new UserError(`model family "${w}" has no trained checkpoint in ${modelsDir}`, `train one: pnpm train --model ${w} --task mqar (${known})`);
      const names = [...families, ...all.map((c) => c.card.id), "all"];
      throw new UserError(`unknown model "${w}"${didYouMean(w, names)}`, `use a family, a checkpoint id or "all" — ${known}`);
    }
    for (const h of hits) picked.set(h.card.id, h);
  }
  return [...picked.values()];
}

export function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Every file of the card must exist and match its sha256: a corrupt checkpoint is refused before it runs. */
export function verifyCheckpoint({ dir, card }: Checkpoint): void {
  for (const f of card.files) {
    const p = join(dir, f.path);
    if (!existsSync(p)) throw new UserError(`checkpoint ${card.id}: ${f.path} is missing`, `restore it (git checkout -- ${p}) or re-export (pnpm train --model ${card.family} --task ${card.task.id})`);
    const got = sha256File(p);
    if (got !== f.sha256) {
      throw new UserError(
        `checkpoint ${card.id}: ${f.path} is corrupt (sha256 ${got.slice(0, 12)}… but the card says ${f.sha256.slice(0, 12)}…)`,
        `restore it (git checkout -- ${p}) or re-export (pnpm train --model ${card.family} --task ${card.task.id})`,
      );
    }
  }
}
