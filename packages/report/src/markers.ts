// Generated blocks inside hand-editable markdown: only the text between the markers belongs to the report.
import { UserError } from "@ssmbench/core";

export const BEGIN = "<!-- generated:begin -->";
export const END = "<!-- generated:end -->";

/**
 * The file's new content: `existing` with the text between its markers replaced by `body`. Text outside the
 * markers is kept byte for byte (a human intro survives). A new file gets `preamble` (e.g. its title) before
 * the block; an existing file without markers gets the block appended. `file` is only used in messages.
 */
export function spliceGenerated(existing: string | undefined, body: string, preamble: string, file: string): string {
  const block = `${BEGIN}\n${body.trim()}\n${END}`;
  if (existing === undefined) return `${preamble.trim()}\n\n${block}\n`;
  const begins = count(existing, BEGIN);
  const ends = count(existing, END);
  if (begins === 0 && ends === 0) return `${existing.trimEnd()}\n\n${block}\n`;
  const start = existing.indexOf(BEGIN);
  const stop = existing.indexOf(END);
  if (begins !== 1 || ends !== 1 || stop < start) {
    throw new UserError(
      `${file}: expected one "${BEGIN}" followed by one "${END}", found ${begins} and ${ends}`,
      "repair the markers (or delete the file) and run pnpm report",
    );
  }
  return existing.slice(0, start) + block + existing.slice(stop + END.length);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
