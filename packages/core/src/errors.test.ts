import { describe, expect, it } from "vitest";
import { UserError, didYouMean, editDistance } from "./errors.ts";

describe("didYouMean", () => {
  it("edit distance", () => {
    expect(editDistance("mamba", "mamba")).toBe(0);
    expect(editDistance("mambo", "mamba")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("suggests the nearest known name when it is close, and nothing otherwise", () => {
    expect(didYouMean("mambo", ["rwkv", "mamba", "retnet"])).toBe(' (did you mean "mamba"?)');
    expect(didYouMean("RWKV", ["rwkv", "mamba"])).toBe(' (did you mean "rwkv"?)');
    expect(didYouMean("rwkv", ["rwkv", "mamba"])).toBe("");
    expect(didYouMean("cpuu", ["cpu", "wasm", "cuda", "webgpu"])).toBe(' (did you mean "cpu"?)');
    expect(didYouMean("transformer", ["mamba", "rwkv"])).toBe("");
    expect(didYouMean("x", [])).toBe("");
  });

  it("UserError carries the way out on its own line", () => {
    expect(new UserError("bad", "do this").message).toBe("bad\n  -> do this");
  });
});
