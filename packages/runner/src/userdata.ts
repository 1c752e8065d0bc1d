// --data: a user's own examples as JSONL, one {"input_ids": [...], "targets": [...]} per line, with the task
// generators' alignment: targets[i] is the token to predict after reading input_ids[0..i], -100 = not scored.
import { readFileSync } from "node:fs";
import { UserError } from "@ssmbench/core";
import { IGNORE, type Example } from "@ssmbench/tasks";

export function loadJsonl(file: string, vocab: number): Example[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`cannot read --data ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, "check the path");
  }
  const out: Example[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    const bad = (why: string): never => {
      throw new UserError(`${where}: ${why}`, 'each line must be {"input_ids": [int, ...], "targets": [int or -100, ...]} of equal length');
    };
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (e) {
      bad(`not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) bad("expected a JSON object");
    const { input_ids, targets } = obj as Record<string, unknown>;
    if (!Array.isArray(input_ids) || input_ids.length === 0) bad('"input_ids" must be a non-empty array');
    if (!Array.isArray(targets)) bad('"targets" must be an array');
    const ids = input_ids as unknown[];
    const tg = targets as unknown[];
    if (tg.length !== ids.length) bad(`"targets" has ${tg.length} entries but "input_ids" has ${ids.length}`);
    ids.forEach((t, j) => {
      if (!Number.isInteger(t) || (t as number) < 0 || (t as number) >= vocab) bad(`input_ids[${j}] = ${JSON.stringify(t)} is not a token id in [0, ${vocab})`);
    });
    tg.forEach((t, j) => {
      if (!Number.isInteger(t) || ((t as number) !== IGNORE && ((t as number) < 0 || (t as number) >= vocab))) bad(`targets[${j}] = ${JSON.stringify(t)} is neither -100 nor a token id in [0, ${vocab})`);
    });
    if (!tg.some((t) => t !== IGNORE)) bad("no scored position (every target is -100)");
    out.push({ input_ids: Int32Array.from(ids as number[]), targets: Int32Array.from(tg as number[]) });
  });
  if (out.length === 0) throw new UserError(`--data ${file} holds no examples`, "give one JSON object per line");
  return out;
}
