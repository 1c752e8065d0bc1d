import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { discoverFamilies } from "@ssmbench/runner";
import { scaffoldModel } from "./scaffold.ts";

const root = join(import.meta.dirname, "..", "..", "..");

it("scaffolds a family that is discovered and passes the contract checks as generated", () => {
  const fake = mkdtempSync(join(tmpdir(), "ssmbench-scaffold-"));
  const packages = join(fake, "packages");
  const dir = scaffoldModel(packages, "toy-ssm", "Toy SSM");
  for (const f of ["model.py", "test_model.py", "package.json", "tsconfig.json", "src/index.ts"]) expect(existsSync(join(dir, f)), f).toBe(true);
  expect(readFileSync(join(dir, "model.py"), "utf8")).toContain('FAMILY = "toy-ssm"');
  expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name).toBe("@ssmbench/model-toy-ssm");
  expect(discoverFamilies(fake).map((f) => f.name)).toEqual(["toy-ssm"]);
  const py = spawnSync("node", [join(root, "scripts", "py.mjs"), "-m", "pytest", "-q", "-p", "no:cacheprovider", dir], { cwd: dir, encoding: "utf8" });
  expect(py.status, py.stdout + py.stderr).toBe(0);
  expect(py.stdout).toMatch(/1 passed/);
});

it("refuses bad names and existing packages", () => {
  const packages = join(mkdtempSync(join(tmpdir(), "ssmbench-scaffold-")), "packages");
  expect(() => scaffoldModel(packages, "Bad Name")).toThrow(/not a valid model name/);
  scaffoldModel(packages, "ok");
  expect(() => scaffoldModel(packages, "ok")).toThrow(/already exists/);
});
