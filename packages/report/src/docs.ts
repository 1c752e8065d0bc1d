// Generate the docs in memory, write them, or check that what is on disk is what would be written.
// `pnpm report` writes; `pnpm report --check` regenerates into memory and fails on any difference.
import fs from "node:fs";
import path from "node:path";
import { UserError } from "@ssmbench/core";
import { implementedFamilies, loadAwesome, renderAwesome, type AwesomeData } from "./awesome.ts";
import { loadCards } from "./cards.ts";
import { renderFamily } from "./families.ts";
import { cmp } from "./format.ts";
import { accuracyTables, familyPage, renderLeaderboard, taskLabel } from "./leaderboard.ts";
import { BEGIN, spliceGenerated } from "./markers.ts";
import { renderSpeedPage } from "./speed.ts";
import { LEADERBOARD_CSV, formatResultsCsv, loadResults, mergeLeaderboard } from "./results.ts";

export interface DocsPaths {
  resultsDir: string;
  modelsDir: string;
  docsDir: string;
  /** The awesome lists; the packaged data/awesome.json when left out. */
  awesome?: AwesomeData;
  /**
   * The workspace packages, where packages/model-<family> marks a family implemented (awesome.md says "in
   * progress" for one without checkpoints); the packages/ folder beside modelsDir when left out.
   */
  packagesDir?: string;
  /** Further generated pages from other packages (docs/reliability.md from the runner's test cases). */
  pages?: GeneratedPage[];
}

export interface GeneratedPage {
  /** Path under docs/. */
  rel: string;
  title: string;
  body: string;
}

const NOTE = "<!-- Written by `pnpm report` from results/*.csv and models/*/card.json: edit outside the generated markers only. -->";

function readIfExists(file: string): string | undefined {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
}

/**
 * Every generated file's full new content, keyed by path (joined onto the given directories): results/leaderboard.csv,
 * docs/leaderboard.md, docs/awesome.md and docs/models/<family>.md per family with cards. Reads, never writes;
 * markdown files keep whatever an existing copy holds outside its generated markers.
 */
export function generateDocs({
  resultsDir,
  modelsDir,
  docsDir,
  awesome = loadAwesome(),
  pages = [],
  packagesDir = path.join(path.dirname(modelsDir), "packages"),
}: DocsPaths): Map<string, string> {
  const rows = mergeLeaderboard(loadResults(resultsDir));
  const cards = loadCards(modelsDir);
  const tables = accuracyTables(rows, cards);
  const files = new Map<string, string>();
  files.set(path.join(resultsDir, LEADERBOARD_CSV), formatResultsCsv(rows));
  const markdown = (rel: string, title: string, body: string) => {
    const file = path.join(docsDir, rel);
    files.set(file, spliceGenerated(readIfExists(file), `${NOTE}\n\n${body}`, title, file));
  };
  markdown("leaderboard.md", "# Leaderboard", renderLeaderboard({ rows, cards, docsDir, modelsDir }));
  markdown("awesome.md", "# Awesome state-space models, reproduced", renderAwesome(awesome, cards, tables, implementedFamilies(packagesDir)));
  const speed = renderSpeedPage(rows, cards);
  markdown("speed.md", "# Speed", speed.body);
  for (const [rel, svg] of speed.charts) files.set(path.join(docsDir, rel), svg);
  for (const p of pages) markdown(p.rel, p.title, p.body);
  for (const family of [...new Set(cards.map((c) => c.family))].sort(cmp)) {
    const tasks = [...new Set(cards.filter((c) => c.family === family).map((c) => taskLabel(c.task.id)))].sort(cmp);
    markdown(familyPage(family), `# ${family} (${tasks.join(", ")})`, renderFamily(family, cards, rows, docsDir, modelsDir));
  }
  return files;
}

/** Generated family pages on disk that no family produces any more (its cards are gone). */
function orphans(docsDir: string, files: Map<string, string>): string[] {
  const dir = path.join(docsDir, "models");
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".md"))
    .sort(cmp)
    .map((f) => path.join(dir, f))
    .filter((f) => !files.has(f) && fs.readFileSync(f, "utf8").includes(BEGIN));
}

export interface StaleFile {
  path: string;
  reason: "missing" | "stale" | "orphan";
}

/** Every generated file that is missing or differs from disk, and every orphaned family page. */
export function checkDocs(paths: DocsPaths): StaleFile[] {
  return compareWithDisk(generateDocs(paths), paths.docsDir);
}

/** Write what changed (and remove orphaned family pages); returns the files written or removed. */
export function writeDocs(paths: DocsPaths): StaleFile[] {
  const files = generateDocs(paths);
  const changed = compareWithDisk(files, paths.docsDir);
  for (const { path: file, reason } of changed) {
    if (reason === "orphan") {
      fs.rmSync(file);
      continue;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, files.get(file)!);
  }
  return changed;
}

function compareWithDisk(files: Map<string, string>, docsDir: string): StaleFile[] {
  const out: StaleFile[] = [];
  for (const [file, content] of files) {
    const current = readIfExists(file);
    if (current !== content) out.push({ path: file, reason: current === undefined ? "missing" : "stale" });
  }
  for (const file of orphans(docsDir, files)) out.push({ path: file, reason: "orphan" });
  return out;
}

export interface ReportOptions {
  /** The repository root (holding results/, models/ and docs/). */
  root: string;
  /** Check only: throw a UserError listing every stale file instead of writing. */
  check?: boolean;
  pages?: GeneratedPage[];
}

/** What `pnpm report` did: the files it wrote or removed (check: none), relative to root. */
export interface ReportOutcome {
  changed: StaleFile[];
  message: string;
}

/** The CLI's entry point: `pnpm report` writes the docs; `pnpm report --check` fails when any is stale. */
export function runReport({ root, check = false, pages }: ReportOptions): ReportOutcome {
  const paths = {
    resultsDir: path.join(root, "results"),
    modelsDir: path.join(root, "models"),
    docsDir: path.join(root, "docs"),
    packagesDir: path.join(root, "packages"),
    pages,
  };
  const rel = (s: StaleFile) => ({ ...s, path: path.relative(root, s.path).split(path.sep).join("/") });
  if (check) {
    const stale = checkDocs(paths).map(rel);
    if (stale.length > 0) {
      const list = stale.map((s) => `  ${s.path} (${s.reason})`).join("\n");
      throw new UserError(`generated docs are out of date:\n${list}`, "run pnpm report, then commit the result");
    }
    return { changed: [], message: "docs are up to date" };
  }
  const changed = writeDocs(paths).map(rel);
  const message = changed.length === 0 ? "docs already up to date" : changed.map((s) => `${s.reason === "orphan" ? "removed" : "wrote"} ${s.path}`).join("\n");
  return { changed, message };
}
