// Shared by every package: run TypeScript from source through the custom export condition.
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: process.cwd(),
  resolve: { conditions: ["@ssmbench/source"] },
  ssr: { resolve: { conditions: ["@ssmbench/source"] } },
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
