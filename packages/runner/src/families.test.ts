// Every discovered model family: its TypeScript manifest (src/index.ts) and its PyTorch reference (model.py)
// describe the same family, paper and state kinds.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { discoverFamilies, findRepoRoot } from "./discover.ts";

const root = findRepoRoot(import.meta.dirname);
const families = discoverFamilies(root);

it("discovers the model packages", () => {
  expect(families.map((f) => f.name)).toContain("mamba");
});

describe.each(families.map((f) => [f.name, f] as const))("%s", (name, family) => {
  it("manifest agrees with model.py", async () => {
    const { manifest } = (await import(join(family.dir, "src", "index.ts"))) as {
      manifest: { family: string; paper: { title: string; arxiv: string }; stateKinds: readonly string[] };
    };
    const py = readFileSync(join(family.dir, "model.py"), "utf8");
    expect(manifest.family).toBe(name);
    expect(py).toContain(`FAMILY = "${manifest.family}"`);
    expect(py).toContain(`"arxiv": "${manifest.paper.arxiv}"`);
    expect(py).toContain(manifest.paper.title);
    // each state kind is declared in model.py, with lm.state("<kind>", ...) or as a "kind": "<kind>" entry
    for (const kind of manifest.stateKinds) expect(py).toMatch(new RegExp(`state\\("${kind}"|"kind": "${kind}"`));
  });
});
