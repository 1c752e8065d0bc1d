import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { manifest } from "./index.ts";

// The manifest and the PyTorch reference must describe the same family and paper.
it("agrees with model.py", () => {
  const py = readFileSync(join(import.meta.dirname, "..", "model.py"), "utf8");
  expect(py).toContain(`FAMILY = "${manifest.family}"`);
  expect(py).toContain(`"arxiv": "${manifest.paper.arxiv}"`);
  expect(py).toContain(manifest.paper.title);
  for (const kind of manifest.stateKinds) expect(py).toContain(`"kind": "${kind}"`);
});
