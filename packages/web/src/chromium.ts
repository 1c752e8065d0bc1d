// Debian's Chromium driven by playwright-core: never a downloaded browser. Headless, with the background
// services that would try to reach the network switched off, and a fresh profile per launch.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** The system Chromium (SSMBENCH_CHROMIUM, else `command -v chromium`), or undefined when there is none. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.SSMBENCH_CHROMIUM;
  if (fromEnv) return fs.existsSync(fromEnv) ? fromEnv : undefined;
  try {
    const found = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return found && fs.existsSync(found) ? found : undefined;
  } catch {
    return undefined;
  }
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
  "--metrics-recording-only",
];

/** Launches the system Chromium headless (playwright-core gives each launch a fresh temporary profile). */
export async function launchChromium(executablePath = findChromium(), args: readonly string[] = CHROMIUM_ARGS): Promise<Browser> {
  if (!executablePath) throw new Error("no system Chromium: apt-get install -y chromium (Debian), or set SSMBENCH_CHROMIUM");
  return chromium.launch({ executablePath, headless: true, args: [...args] });
}
