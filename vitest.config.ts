// Shared by every package: run TypeScript from source through the custom export condition.
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: process.cwd(),
  resolve: { conditions: ["@ssmbench/source"] },
  ssr: { resolve: { conditions: ["@ssmbench/source"] } },
  test: {
    include: ["src/**/*.test.ts"],
    // generous: end-to-end tests spawn the CLI and Python, and CI machines have 2 cores
    testTimeout: 240_000,
    hookTimeout: 120_000,
  },
});
