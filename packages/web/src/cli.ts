// pnpm web (build, then serve with cross-origin isolation), pnpm web:build (the static folder), and
// pnpm web:screenshots (docs/screenshots/*.png from the built site in Debian's Chromium).
import path from "node:path";
import { findRepoRoot } from "@ssmbench/runner";
import { findChromium, launchChromium } from "./chromium.ts";
import { takeScreenshots } from "./screenshots.ts";
import { serveSite } from "./serve.ts";
import { buildSite } from "./site.ts";

const [command = "build", ...args] = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const cwd = process.env.INIT_CWD ?? process.cwd(); // where the user ran pnpm
const root = findRepoRoot(cwd);
const outDir = option("out") ? path.resolve(cwd, option("out")!) : path.join(root, "packages/web/dist");
const log = (s: string) => console.error(s);

async function main(): Promise<void> {
  if (!["build", "serve", "screenshots"].includes(command)) throw new Error(`unknown command ${command}: build, serve or screenshots`);
  const site = await buildSite({ root, outDir, log });
  if (!site.speedFromReport) log("speed.html shows the leaderboard's speed tables (the report does not write docs/speed.md yet)");
  if (command === "build") {
    log(`static site ready: ${path.relative(process.cwd(), outDir) || "."} (serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp for wasm threads)`);
    return;
  }
  const server = await serveSite(outDir, { port: Number(option("port") ?? (command === "serve" ? 5173 : 0)), host: option("host") ?? "127.0.0.1" });
  if (command === "serve") {
    log(`serving ${outDir} at ${server.url} (cross-origin isolated); Ctrl-C stops`);
    return;
  }
  if (!findChromium()) throw new Error("no system Chromium: apt-get install -y chromium");
  const browser = await launchChromium();
  try {
    const shots = await takeScreenshots(browser, {
      base: server.url,
      outDir: option("shots") ? path.resolve(cwd, option("shots")!) : path.join(root, "docs/screenshots"),
      family: option("family") ?? "mamba",
      checkpoint: option("checkpoint") ?? "transformer-mqar",
      examples: Number(option("examples") ?? 200),
    });
    for (const s of shots) log(`wrote ${path.relative(root, s)}`);
  } finally {
    await browser.close();
    await server.close();
  }
}

main().catch((e) => {
  console.error(String((e as Error)?.message ?? e));
  process.exit(1);
});
