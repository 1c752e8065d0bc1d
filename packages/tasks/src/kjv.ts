// The King James Bible (1611, public domain) as Debian packages it: `bible-kjv-text` holds the text in the
// Bible Retrieval System's compressed format (/usr/lib/bible.data) and `bible-kjv` the `bible` program that prints
// it. We print every verse once (`bible -f Gen1:1-Rev22:21`: one verse a line, "Ge1:1 In the beginning ..."),
// drop the references and split by book, so no verse is in two splits. The text's sha256 is checked, so every
// machine trains and evaluates on the same bytes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { UserError } from "@ssmbench/core";
import type { Split } from "./types.ts";

export const KJV_PACKAGE = "bible-kjv";

/** The 66 books in canonical order, as `bible` abbreviates them in its references. */
export const KJV_BOOKS = [
  "Ge", "Exo", "Lev", "Num", "Deu", "Josh", "Jdgs", "Ruth", "1Sm", "2Sm", "1Ki", "2Ki", "1Chr", "2Chr", "Ezra", "Neh",
  "Est", "Job", "Psa", "Prv", "Eccl", "SSol", "Isa", "Jer", "Lam", "Eze", "Dan", "Hos", "Joel", "Amos", "Obad", "Jonah",
  "Mic", "Nahum", "Hab", "Zep", "Hag", "Zec", "Mal", "Mat", "Mark", "Luke", "John", "Acts", "Rom", "1Cor", "2Cor", "Gal",
  "Eph", "Phi", "Col", "1Th", "2Th", "1Tim", "2Tim", "Titus", "Phmn", "Heb", "Jas", "1Pet", "2Pet", "1Jn", "2Jn", "3Jn",
  "Jude", "Rev",
] as const;

/**
 * The split of the book at `index` (0-based, canonical order): every tenth book from the fifth is validation
 * (Deuteronomy, Ezra, Lamentations, Habakkuk, Romans, 2 Timothy, Jude: 6.7% of the bytes), every tenth from the
 * tenth is test (2 Samuel, Proverbs, Amos, Matthew, Philippians, 1 Peter: 8.6%), the rest (84.7%) train. Both held-out
 * splits mix law or history, poetry or wisdom, prophets, gospels or epistles.
 */
export function kjvSplitOf(index: number): Split {
  if (index % 10 === 4) return "valid";
  if (index % 10 === 9) return "test";
  return "train";
}

/** sha256 of all 66 books' text (bible-kjv 4.38; the text has not changed since the 1989 data file). */
export const KJV_SHA256 = "b5c4940bcfeee072c0935b5200d0f9d88a00a0199cb0961d16133458fcdfae5d";
export const KJV_VERSES = 31102;

export interface KjvBook {
  abbrev: string;
  index: number;
  verses: number;
  /** The verses, each on its own line ending "\n", without references. Plain ASCII. */
  text: string;
}

let books: KjvBook[] | undefined;

/** Prints every verse with `bible` (from PATH; SSMBENCH_BIBLE may name another program that prints the same). */
export function printBible(program = process.env.SSMBENCH_BIBLE ?? "bible"): string {
  try {
    // -f: no pretty-printing (one verse a line, with its reference); -p /usr/lib: Debian's data, never a
    // bible.data that happens to sit in the current directory.
    return execFileSync(program, ["-f", "-p", "/usr/lib", "Gen1:1-Rev22:21"], { encoding: "latin1", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") {
      throw new UserError(
        `the King James Bible text comes from the Debian package ${KJV_PACKAGE} (the \`${program}\` program and its data, bible-kjv-text), which is not installed`,
        `apt-get install ${KJV_PACKAGE}`,
      );
    }
    throw new UserError(`\`${program} -f Gen1:1-Rev22:21\` failed: ${err.stderr?.trim() || err.message}`, `reinstall the Debian package: apt-get install --reinstall ${KJV_PACKAGE} bible-kjv-text`);
  }
}

/** Parses `bible -f` output into the 66 books; throws when it does not look like the whole KJV. */
export function parseBible(out: string): KjvBook[] {
  const parsed: { abbrev: string; lines: string[] }[] = [];
  const verse = /^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$/;
  for (const line of out.split("\n")) {
    if (line === "") continue;
    const m = verse.exec(line);
    if (!m) throw new Error(`unexpected line in the output of bible: ${JSON.stringify(line.slice(0, 80))}`);
    const last = parsed[parsed.length - 1];
    if (last && last.abbrev === m[1]) last.lines.push(m[4]!);
    else parsed.push({ abbrev: m[1]!, lines: [m[4]!] });
  }
  const names = parsed.map((b) => b.abbrev);
  if (names.join(" ") !== KJV_BOOKS.join(" ")) throw new Error(`bible printed the books ${names.join(" ")}, not the 66 of the KJV in order`);
  return parsed.map((b, index) => ({ abbrev: b.abbrev, index, verses: b.lines.length, text: b.lines.map((l) => `${l}\n`).join("") }));
}

/** The 66 books (read once per process). */
export function kjvBooks(): KjvBook[] {
  if (books) return books;
  const parsed = parseBible(printBible());
  const sha = createHash("sha256").update(parsed.map((b) => b.text).join(""), "latin1").digest("hex");
  if (sha !== KJV_SHA256) {
    throw new UserError(
      `the KJV text printed by bible has sha256 ${sha}, not ${KJV_SHA256}: examples would differ from every other machine's`,
      `install the Debian package this project was made with: apt-get install ${KJV_PACKAGE}=4.38 bible-kjv-text=4.38`,
    );
  }
  books = parsed;
  return books;
}

const texts = new Map<Split, string>();

/** One split's text: its books in canonical order, concatenated (each verse a line). */
export function kjvText(split: Split): string {
  let t = texts.get(split);
  if (t === undefined) {
    t = kjvBooks()
      .filter((b) => kjvSplitOf(b.index) === split)
      .map((b) => b.text)
      .join("");
    texts.set(split, t);
  }
  return t;
}

/** One split's text as bytes (ASCII: one byte a character). */
export function kjvBytes(split: Split): Uint8Array {
  return new TextEncoder().encode(kjvText(split));
}
