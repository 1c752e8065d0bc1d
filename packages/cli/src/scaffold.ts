// `pnpm new-model <name>`: a new family package from templates/model, discovered by the harness as it is.
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "@ssmbench/core";

const templates = join(import.meta.dirname, "..", "templates", "model");

export function scaffoldModel(packagesDir: string, name: string, title = name): string {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
    throw new UserError(`"${name}" is not a valid model name`, "use lowercase letters, digits and dashes, e.g. new-model my-ssm");
  }
  const dir = join(packagesDir, `model-${name}`);
  if (existsSync(dir)) throw new UserError(`${dir} already exists`, "choose another name, or edit that package");
  cpSync(templates, dir, { recursive: true });
  const fill = (path: string) => {
    if (statSync(path).isDirectory()) return readdirSync(path).forEach((f) => fill(join(path, f)));
    writeFileSync(path, readFileSync(path, "utf8").replaceAll("__NAME__", name).replaceAll("__TITLE__", title));
  };
  fill(dir);
  return dir;
}
