// The static site: built from results/ and models/ by the same generator as docs/ (packages/report's
// generateDocs), rendered to HTML, plus the data the in-browser pages need, the checkpoints they run, and
// onnxruntime-web's files (served from the site itself, never a CDN). No figure is written here by hand.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { Marked, type Tokens } from "marked";
import type { ModelCard } from "@ssmbench/core";
import { LEADERBOARD_CSV, generateDocs, loadAwesome, loadCards, type AwesomeData } from "@ssmbench/report";
import { TEST_SEED, discoverFamilies, gitSha } from "@ssmbench/runner";
import { ORT_FILES, nodeBuiltinsAbsent, ortDist } from "./bundle.ts";
import { blockDiagram } from "./diagram.ts";
import { GENERATE_CHUNK } from "./lib/generate.ts";

export { ORT_FILES, ortDist };

export interface BuildOptions {
  /** Repository root (results/, models/, docs/, packages/). */
  root: string;
  /** Output folder, written in place (files of an earlier build that are not rewritten stay). */
  outDir: string;
  /** Minify the browser bundles (default true). */
  minify?: boolean;
  log?: (line: string) => void;
}

/** What the pages read at run time (data/site.json): the checkpoints and the run's provenance. */
export interface SiteData {
  gitSha: string;
  /** The seed of the test examples of `pnpm bench` (runner's TEST_SEED): browser runs use the same examples. */
  testSeed: number;
  ortVersion: string;
  checkpoints: { card: ModelCard; dir: string }[];
}

export interface BuiltSite {
  outDir: string;
  /** Site paths of the HTML pages written. */
  pages: string[];
  data: SiteData;
  /** Whether docs/speed.md came from the report (else the speed page shows the leaderboard's speed section). */
  speedFromReport: boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const webRoot = path.resolve(here, "..");

/** An id safe in an anchor or a file name (the report's rule, so family page names agree). */
export const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

/**
 * The anchors of the awesome-list entries on awesome.html (site-only: docs/awesome.md rows have none), in the
 * order the list renders them (lists, sections, entries); an entry listed twice gets "-2", "-3" after its title.
 */
export function entryAnchors(awesome: AwesomeData): string[] {
  const seen = new Map<string, number>();
  return awesome.lists.flatMap((l) => l.sections.flatMap((s) => s.entries)).map((e) => {
    const base = `entry-${slug(e.title)}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

const DROP = "ssmbench:drop";

/**
 * A link of a markdown page under docs/ (`pageRel`, e.g. "models/mamba.md") rewritten for the site: docs pages
 * become .html, checkpoint files move to checkpoints/, URLs and anchors stay; undefined for a file outside both.
 */
export function siteHref(href: string, pageRel: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith("#")) return href;
  const hashAt = href.indexOf("#");
  const file = hashAt < 0 ? href : href.slice(0, hashAt);
  const hash = hashAt < 0 ? "" : href.slice(hashAt);
  const repoPath = path.posix.normalize(path.posix.join("docs", path.posix.dirname(pageRel), decodeURI(file)));
  let target: string;
  if (repoPath.startsWith("docs/")) target = repoPath.slice(5).replace(/\.md$/, ".html");
  else if (repoPath.startsWith("models/")) target = `checkpoints/${repoPath.slice(7)}`;
  else return undefined;
  const from = path.posix.dirname(htmlPath(pageRel));
  const rel = path.posix.relative(from, target);
  return encodeURI(rel || path.posix.basename(target)) + hash;
}

const htmlPath = (mdRel: string) => mdRel.replace(/\.md$/, ".html");

function markdownToHtml(markdown: string, pageRel: string): string {
  const marked = new Marked({
    gfm: true,
    walkTokens(token) {
      if (token.type === "link" || token.type === "image") {
        const t = token as Tokens.Link | Tokens.Image;
        t.href = siteHref(t.href, pageRel) ?? DROP;
      }
    },
    renderer: {
      link(token) {
        return token.href === DROP ? this.parser.parseInline(token.tokens) : false;
      },
    },
  });
  return marked.parse(markdown, { async: false });
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const decodeEntities = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, "&");
const stripTags = (s: string) => decodeEntities(s.replace(/<[^>]*>/g, ""));

interface Nav {
  families: string[];
}

/** One page of the site: `rel` is its path in the site (for relative links), `body` its HTML. */
function page(rel: string, title: string, body: string, nav: Nav, opts: { script?: string } = {}): string {
  const base = path.posix.relative(path.posix.dirname(rel), ".") || ".";
  const u = (p: string) => `${base}/${p}`;
  const links: [string, string][] = [
    ["index.html", "ssmbench"],
    ["leaderboard.html", "Leaderboard"],
    ["speed.html", "Speed"],
    ...nav.families.map((f): [string, string] => [`models/${slug(f)}.html`, f]),
    ["awesome.html", "Awesome list"],
    ["run.html", "Run in your browser"],
    ["generate.html", "Text demo"],
  ];
  const navHtml = links.map(([href, text]) => `<a href="${u(href)}"${href === rel ? ' aria-current="page"' : ""}>${escapeHtml(text)}</a>`).join("\n");
  const importMap = opts.script ? `<script type="importmap">${JSON.stringify({ imports: { "onnxruntime-web": u("ort/ort.min.mjs") } })}</script>\n` : "";
  const scripts = [`<script type="module" src="${u("assets/tables.js")}"></script>`, ...(opts.script ? [`<script type="module" src="${u(`assets/${opts.script}.js`)}"></script>`] : [])];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)} · ssmbench</title>
<link rel="stylesheet" href="${u("assets/site.css")}">
${importMap}</head>
<body>
<header><nav>
${navHtml}
</nav></header>
<main>
${body}
</main>
<footer>Built from <code>results/</code> and <code>models/</code> by the generator of <code>docs/</code> (<code>pnpm report</code>)<span class="sha"></span>. Every figure comes from a result row or from a run in your browser.</footer>
${scripts.join("\n")}
</body>
</html>
`;
}

function write(outDir: string, rel: string, content: string | Buffer): void {
  const file = path.join(outDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** Copies a file unless an identical-looking copy (same size, not older) is already there. */
function copy(from: string, to: string): void {
  const a = fs.statSync(from);
  const b = fs.statSync(to, { throwIfNoEntry: false });
  if (b && b.size === a.size && b.mtimeMs >= a.mtimeMs) return;
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

/** The model families' manifests (packages marked "ssmbench": {"kind": "model"}), for the block diagrams. */
async function manifests(root: string): Promise<Map<string, { title?: string; block?: string }>> {
  const out = new Map<string, { title?: string; block?: string }>();
  for (const f of discoverFamilies(root)) {
    const entry = path.join(f.dir, "src", "index.ts");
    if (!fs.existsSync(entry)) continue;
    const mod = (await import(pathToFileURL(entry).href)) as { manifest?: { family?: string; title?: string; block?: string } };
    if (mod.manifest?.family) out.set(mod.manifest.family, mod.manifest);
  }
  return out;
}

/** The family page's additions: the block as a diagram, and the awesome-list entries this family reproduces. */
function familyExtras(family: string, manifest: { title?: string; block?: string } | undefined, awesome: AwesomeData): string {
  const parts: string[] = [];
  if (manifest?.block) {
    parts.push(
      `<section class="block"><h2>The block</h2>`,
      `<figure>${blockDiagram(manifest.block)}<figcaption>${escapeHtml(manifest.title ?? family)}: ${escapeHtml(manifest.block)} (from the family manifest, <code>packages/model-${escapeHtml(family)}/src/index.ts</code>)</figcaption></figure></section>`,
    );
  }
  const anchors = entryAnchors(awesome);
  const entries = awesome.lists
    .flatMap((l) => l.sections.flatMap((s) => s.entries.map((e) => ({ list: `${l.title} › ${s.title}`, e }))))
    .map((x, i) => ({ ...x, anchor: anchors[i]! }))
    .filter((x) => x.e.family === family);
  parts.push(`<section class="awesome-entries"><h2>In the awesome list</h2>`);
  if (entries.length === 0) parts.push(`<p>No entry of the awesome list names this family.</p>`);
  else {
    parts.push(
      "<ul>",
      ...entries.map(({ list, e, anchor }) => `<li><a href="../awesome.html#${anchor}">${escapeHtml(e.title)}</a> (${escapeHtml(list)})${e.arxiv ? `, <a href="https://arxiv.org/abs/${escapeHtml(e.arxiv)}">arXiv ${escapeHtml(e.arxiv)}</a>` : ""}</li>`),
      "</ul>",
    );
  }
  parts.push("</section>");
  return parts.join("\n");
}

/** Gives every entry row of the awesome tables its anchor (rows are rendered in the order of entryAnchors). */
function anchorAwesomeRows(html: string, anchors: string[]): string {
  let i = 0;
  const out = html.replace(/<tr>(\s*<td>)/g, (_m, cell: string) => `<tr id="${anchors[i++] ?? `entry-row-${i}`}">${cell}`);
  if (i !== anchors.length) throw new Error(`awesome.html has ${i} entry rows for ${anchors.length} entries: the site's anchors would be wrong`);
  return out;
}

/** The generated "## Speed" section of the leaderboard (up to the next level-2 heading). */
export function speedSection(leaderboardMd: string): string | undefined {
  const start = leaderboardMd.search(/^## Speed\s*$/m);
  if (start < 0) return undefined;
  const rest = leaderboardMd.slice(start);
  const next = rest.slice(3).search(/^## /m);
  return next < 0 ? rest.replace(/<!-- generated:end -->[^]*$/, "") : rest.slice(0, next + 3);
}

export async function buildSite({ root, outDir, minify = true, log = () => {} }: BuildOptions): Promise<BuiltSite> {
  const resultsDir = path.join(root, "results");
  const modelsDir = path.join(root, "models");
  const docsDir = path.join(root, "docs");
  const awesome = loadAwesome();
  const generated = generateDocs({ resultsDir, modelsDir, docsDir, awesome });
  const cards = loadCards(modelsDir);
  const families = [...new Set(cards.map((c) => c.family))].sort();
  const nav: Nav = { families };
  const pages: string[] = [];
  const addPage = (rel: string, title: string, body: string, opts?: { script?: string }) => {
    write(outDir, rel, page(rel, title, body, nav, opts));
    pages.push(rel);
  };
  const byFamily = await manifests(root);

  // Every generated docs page, from the report's generator (no second copy of any figure).
  let leaderboardMd = "";
  for (const [file, content] of generated) {
    const rel = path.relative(docsDir, file).split(path.sep).join("/");
    if (rel.startsWith("..")) continue; // results/leaderboard.csv: served below as data
    if (rel.endsWith(".svg")) {
      write(outDir, rel, content);
      continue;
    }
    if (!rel.endsWith(".md")) continue;
    if (rel === "leaderboard.md") leaderboardMd = content;
    let html = markdownToHtml(content, rel);
    const title = stripTags(/<h1[^>]*>([^]*?)<\/h1>/.exec(html)?.[1] ?? rel);
    if (rel === "awesome.md") html = anchorAwesomeRows(html, entryAnchors(awesome));
    const family = families.find((f) => rel === `models/${slug(f)}.md`);
    if (family) {
      const extras = familyExtras(family, byFamily.get(family), awesome);
      html = /<\/h1>/.test(html) ? html.replace(/<\/h1>/, `</h1>\n${extras}`) : `${extras}\n${html}`;
    }
    addPage(htmlPath(rel), title, `<article class="doc doc-${slug(rel.replace(/\.md$/, ""))}">${html}</article>`);
  }
  // SVG charts referenced by the docs and kept on disk (written by pnpm report), copied beside their pages.
  for (const rel of walk(docsDir).filter((f) => f.endsWith(".svg"))) {
    if (!fs.existsSync(path.join(outDir, rel))) copy(path.join(docsDir, rel), path.join(outDir, rel));
  }

  // The speed page: docs/speed.md when the report writes it; until then, the leaderboard's speed section.
  const speedFromReport = [...generated.keys()].some((f) => path.relative(docsDir, f) === "speed.md");
  if (!speedFromReport) {
    const section = speedSection(leaderboardMd);
    const note =
      "<p class=\"note\">The speed tables of the leaderboard, from the same generator (<code>pnpm report</code>). " +
      "Charts appear here once the report writes <code>docs/speed.md</code>.</p>";
    addPage("speed.html", "Speed", `<article class="doc"><h1>Speed</h1>\n${note}\n${section ? markdownToHtml(section, "leaderboard.md") : "<p>No speed rows yet: run <code>pnpm bench</code>, then <code>pnpm report</code>.</p>"}</article>`);
  }

  // Checkpoints the browser pages run, and the data they read.
  const checkpoints: SiteData["checkpoints"] = [];
  for (const card of cards) {
    const src = path.join(modelsDir, card.id);
    // What the pages load: the graphs (generate.onnx where the checkpoint has it), the card and the golden file
    // (not training logs or weights).
    const names = ["card.json", "golden.json", "prefill.onnx", "step.onnx", "generate.onnx"].filter((f) => fs.existsSync(path.join(src, f)));
    if (!names.includes("prefill.onnx") || !names.includes("step.onnx")) continue;
    for (const f of new Set(names)) copy(path.join(src, f), path.join(outDir, "checkpoints", card.id, f));
    checkpoints.push({ card, dir: `checkpoints/${card.id}/` });
  }
  const ortVersion = (JSON.parse(fs.readFileSync(path.join(ortDist(), "..", "package.json"), "utf8")) as { version: string }).version;
  const data: SiteData = { gitSha: gitSha(root), testSeed: TEST_SEED, ortVersion, checkpoints };
  write(outDir, "data/site.json", `${JSON.stringify(data, null, 1)}\n`);
  const csv = generated.get(path.join(resultsDir, LEADERBOARD_CSV));
  if (csv !== undefined) write(outDir, `data/${LEADERBOARD_CSV}`, csv);
  for (const f of ORT_FILES) copy(path.join(ortDist(), f), path.join(outDir, "ort", f));

  addPage("index.html", "ssmbench", indexBody(families), {});
  addPage("run.html", "Run in your browser", runBody(), { script: "run" });
  addPage("generate.html", "Text demo", generateBody(), { script: "generate" });
  copy(path.join(webRoot, "src", "app", "site.css"), path.join(outDir, "assets", "site.css"));

  await esbuild.build({
    entryPoints: ["run", "generate", "tables"].map((n) => path.join(webRoot, "src", "app", `${n}.ts`)),
    outdir: path.join(outDir, "assets"),
    bundle: true,
    splitting: true, // the two app pages share the tasks, the driver and the runner's code in one chunk
    chunkNames: "chunk-[hash]",
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    sourcemap: false,
    conditions: ["@ssmbench/source"],
    external: ["onnxruntime-web"],
    logLevel: "warning",
    plugins: [nodeBuiltinsAbsent],
  });
  log(`site written to ${outDir}: ${pages.length} pages, ${checkpoints.length} checkpoints`);
  return { outDir, pages, data, speedFromReport };
}

function walk(dir: string, prefix = ""): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name), `${prefix}${d.name}/`) : [`${prefix}${d.name}`]));
}

function indexBody(families: string[]): string {
  return `<article class="doc"><h1>ssmbench</h1>
<p>State-space and recurrent sequence models (Mamba, RWKV, RetNet, Hyena) and an attention baseline, trained on
generated tasks, exported to ONNX with one contract (<code>prefill.onnx</code> + <code>step.onnx</code>), and measured
with onnxruntime in Node and in the browser.</p>
<ul>
<li><a href="leaderboard.html">Leaderboard</a>: accuracy per task and setting with 95% intervals, published figures beside ours; every table sorts by a click on its header.</li>
<li><a href="speed.html">Speed</a>: prefill tokens/s, decode ms/token and state size per execution provider.</li>
<li>Model families: ${families.map((f) => `<a href="models/${slug(f)}.html">${escapeHtml(f)}</a>`).join(", ")}.</li>
<li><a href="awesome.html">Awesome list</a>: the field, each entry with the status of its reproduction here.</li>
<li><a href="run.html">Run in your browser</a>: evaluate a checkpoint on its task with onnxruntime-web and download the result rows.</li>
<li><a href="generate.html">Text demo</a>: greedy generation through <code>step.onnx</code> token by token, or <code>generate.onnx</code> many tokens per call.</li>
</ul>
<p>Results: <a href="data/leaderboard.csv">data/leaderboard.csv</a> (the merged rows the tables are made of).</p></article>`;
}

function runBody(): string {
  return `<article class="app"><h1>Run in your browser</h1>
<p>Evaluates a checkpoint on the test examples of its task, generated here by the same TypeScript generator and seed as
<code>pnpm bench</code>, through the same prefill/step driver, on onnxruntime-web (WebAssembly; WebGPU when your browser
gives an adapter). Then it checks the logits against the checkpoint's PyTorch golden file and times prefill and decode as
<code>pnpm bench --quick</code> does. The rows download as CSV in the schema of <code>results/</code>: put the file in
<code>results/</code> and run <code>pnpm report</code> to add your browser's figures to the leaderboard (a browser row
takes the place of an older row of the same checkpoint, setting and execution provider).</p>
<form id="run-form">
<label>Checkpoint <select id="checkpoint"></select></label>
<label>Setting <select id="setting"></select></label>
<label>Examples <input id="examples" type="number" min="1" max="5000" value="200"></label>
<label>Execution provider <select id="ep"><option value="wasm">wasm</option><option value="webgpu" disabled>webgpu</option></select></label>
<label><input id="speed" type="checkbox" checked> time prefill and decode</label>
<button id="run" type="submit" disabled>Run</button>
</form>
<p id="env" class="note"></p>
<progress id="progress" value="0" max="1"></progress>
<p id="status" data-state="idle" aria-live="polite">Loading…</p>
<div id="result"></div>
<p><button id="download" type="button" disabled>Download result rows (CSV)</button></p>
</article>`;
}

function generateBody(): string {
  return `<article class="app"><h1>Text demo</h1>
<p>Greedy generation through the recurrent contract: the prompt goes through <code>prefill.onnx</code> once, then
every new token is one call of <code>step.onnx</code> with the state fed back, or, for checkpoints that have
<code>generate.onnx</code> (the step graph inside an ONNX loop), ${GENERATE_CHUNK} tokens per call with the state kept inside
onnxruntime: the same tokens, fewer calls. The committed checkpoints are task models
with token vocabularies (no tokenizer), so the prompt is token ids separated by spaces; a checkpoint of a byte-level
language-model task reads and writes text (UTF-8 bytes). Language-model checkpoints come with the byte-LM task.</p>
<form id="gen-form">
<label>Checkpoint <select id="checkpoint"></select></label>
<label>Prompt <input id="prompt" type="text" size="60"></label>
<label>New tokens <input id="count" type="number" min="1" max="4096" value="32"></label>
<label>Execution provider <select id="ep"><option value="wasm">wasm</option><option value="webgpu" disabled>webgpu</option></select></label>
<button id="generate" type="submit" disabled>Generate</button>
</form>
<p id="mode" class="note"></p>
<p id="status" data-state="idle" aria-live="polite">Loading…</p>
<pre id="output"></pre>
</article>`;
}
