import { describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { BEGIN, END, spliceGenerated } from "./markers.ts";

describe("spliceGenerated", () => {
  it("gives a new file its preamble and the block", () => {
    expect(spliceGenerated(undefined, "body", "# Title", "f.md")).toBe(`# Title\n\n${BEGIN}\nbody\n${END}\n`);
  });

  it("replaces only the text between the markers", () => {
    const existing = `# Title\n\nA human intro.\n\n${BEGIN}\nold\n${END}\n\nA human footer.\n`;
    const out = spliceGenerated(existing, "new", "# ignored", "f.md");
    expect(out).toBe(`# Title\n\nA human intro.\n\n${BEGIN}\nnew\n${END}\n\nA human footer.\n`);
    expect(spliceGenerated(out, "new", "# ignored", "f.md")).toBe(out);
  });

  it("appends the block to a file without markers", () => {
    expect(spliceGenerated("Notes.\n", "body", "# T", "f.md")).toBe(`Notes.\n\n${BEGIN}\nbody\n${END}\n`);
  });

  it("refuses broken markers, naming the file", () => {
    expect(() => spliceGenerated(`${BEGIN}\nx\n`, "b", "# T", "docs/x.md")).toThrow(UserError);
    expect(() => spliceGenerated(`${END}\n${BEGIN}\n`, "b", "# T", "docs/x.md")).toThrow(/docs\/x\.md/);
  });
});
