import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { UserError } from "@ssmbench/core";
import { KJV_BOOKS, KJV_VERSES, kjvBooks, kjvBytes, kjvSplitOf, kjvText, parseBible, printBible } from "./kjv.ts";

/** Debian's bible-kjv: CI installs it and sets SSMBENCH_REQUIRE_KJV=1 (the tests then fail rather than skip). */
const haveKjv = spawnSync("bible", ["-f", "-p", "/usr/lib", "Ge1:1"]).status === 0 || process.env.SSMBENCH_REQUIRE_KJV === "1";
if (!haveKjv) console.warn("bible-kjv is not installed (apt-get install bible-kjv): the KJV tests are skipped");

describe("parseBible", () => {
  const whole = KJV_BOOKS.map((b) => `${b}1:1 Verse of ${b}.\n${b}1:2 Another.\n`).join("");

  it("keeps the verses of each book in order, one a line, without references", () => {
    const books = parseBible(whole);
    expect(books).toHaveLength(66);
    expect(books[0]).toEqual({ abbrev: "Ge", index: 0, verses: 2, text: "Verse of Ge.\nAnother.\n" });
    expect(books[65]!.text).toBe("Verse of Rev.\nAnother.\n");
  });

  it("refuses output that is not the 66 books in order, or a line without a reference", () => {
    expect(() => parseBible(whole.replace(/^Ge1:1 .*\n/m, "In the beginning\n"))).toThrow(/unexpected line/);
    expect(() => parseBible(whole.replace(/^Rev.*\n/gm, ""))).toThrow(/not the 66 of the KJV/);
  });
});

describe("the Debian package", () => {
  it("names the package and the apt-get command when bible is missing", () => {
    let err: unknown;
    try {
      printBible("/nonexistent/bible");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/Debian package bible-kjv/);
    expect((err as Error).message).toMatch(/apt-get install bible-kjv/);
  });
});

describe("kjvSplitOf", () => {
  it("puts every tenth book from the fifth in valid, from the tenth in test, the rest in train", () => {
    const by = (s: string) => KJV_BOOKS.filter((_, i) => kjvSplitOf(i) === s);
    expect(by("valid")).toEqual(["Deu", "Ezra", "Lam", "Hab", "Rom", "2Tim", "Jude"]);
    expect(by("test")).toEqual(["2Sm", "Prv", "Amos", "Mat", "Phi", "1Pet"]);
    expect(by("train")).toHaveLength(53);
  });
});

describe.skipIf(!haveKjv)("the KJV text", () => {
  it("is all 31,102 verses, plain ASCII, with the checked sha256", () => {
    const books = kjvBooks();
    expect(books.reduce((s, b) => s + b.verses, 0)).toBe(KJV_VERSES);
    expect(books[0]!.text.startsWith("In the beginning God created the heaven and the earth.\n")).toBe(true);
    expect(books[65]!.text.endsWith("The grace of our Lord Jesus Christ be with you all. Amen.\n")).toBe(true);
    expect(/^[\x20-\x7e\n]*$/.test(books.map((b) => b.text).join(""))).toBe(true);
  });

  it("splits by book: the three splits partition the books", () => {
    const books = kjvBooks();
    const [train, valid, test] = (["train", "valid", "test"] as const).map(kjvText);
    expect(train!.length + valid!.length + test!.length).toBe(books.reduce((s, b) => s + b.text.length, 0));
    for (const b of books) expect(kjvText(kjvSplitOf(b.index)).includes(b.text)).toBe(true);
    expect(test!.startsWith(books[9]!.text)).toBe(true); // 2 Samuel, the first test book
    expect(valid!.startsWith(books[4]!.text)).toBe(true); // Deuteronomy, the first valid book
    // sizes (bytes) as the card states them
    expect([train!.length, valid!.length, test!.length]).toEqual([3_504_429, 275_768, 357_653]);
    expect(kjvBytes("test")).toHaveLength(test!.length);
  });
});
