// Small, locale-independent formatting helpers: the generated docs must be byte-identical on every machine,
// so nothing here uses toLocaleString or Intl (their output depends on the ICU data and the user's locale).
import path from "node:path";

/** Total order on strings or numbers by code unit (never localeCompare: it depends on the locale). */
export function cmp(a: string | number, b: string | number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compare records field by field, in the order given. */
export function byFields<T>(...fields: ((x: T) => string | number)[]): (a: T, b: T) => number {
  return (a, b) => {
    for (const f of fields) {
      const c = cmp(f(a), f(b));
      if (c !== 0) return c;
    }
    return 0;
  };
}

export function unique<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

/** A finite number, or undefined for null / NaN / infinities. */
export function finite(x: number | null | undefined): number | undefined {
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
}

/** 1234567 -> "1,234,567" (rounded to an integer). */
export function grouped(n: number): string {
  const s = Math.round(Math.abs(n)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return n < 0 ? `-${s}` : s;
}

/** A proportion in [0, 1] as a percent with one decimal: 0.9921 -> "99.2%". */
export function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

/** Tokens per second: integers above 100, a few significant digits below. */
export function tokensPerS(x: number): string {
  if (x >= 100) return grouped(x);
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Milliseconds with about three significant digits. */
export function ms(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x >= 1 ? x.toFixed(2) : x.toFixed(3);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

export function megabytes(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

/** Seconds as "42 s", "12 min 5 s" or "3 h 04 min". */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** A learning rate or other small float, short: 0.001 -> "1e-3", 0.0003 -> "3e-4", 0.5 -> "0.5". */
export function sci(x: number): string {
  if (x === 0 || (Math.abs(x) >= 0.01 && Math.abs(x) < 1e4)) return String(Number(x.toPrecision(4)));
  const [mant, exp] = x.toExponential(3).split("e") as [string, string];
  return `${Number(mant)}e${Number(exp)}`;
}

/** Text safe inside a markdown table cell: no pipe, no line break. */
export function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

/** Text safe as the label of a markdown link. */
export function linkText(text: string): string {
  return cell(text).replace(/([[\]])/g, "\\$1");
}

/** A URL safe inside markdown's (...) link target. */
export function linkUrl(url: string): string {
  return url.replace(/ /g, "%20").replace(/\(/g, "%28").replace(/\)/g, "%29");
}

export function link(text: string, url: string): string {
  return `[${linkText(text)}](${linkUrl(url)})`;
}

export function arxivUrl(id: string): string {
  return `https://arxiv.org/abs/${id}`;
}

/** A markdown table; the alignment list holds "l" or "r" per column (left by default). */
export function table(header: string[], rows: string[][], align: ("l" | "r")[] = []): string {
  const sep = header.map((_, i) => (align[i] === "r" ? "---:" : "---"));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(sep), ...rows.map(line)].join("\n");
}

/** Relative link from a file in `fromDir` to `target`, with forward slashes whatever the OS. */
export function relLink(fromDir: string, target: string): string {
  return path.relative(path.resolve(fromDir), path.resolve(target)).split(path.sep).join("/");
}
