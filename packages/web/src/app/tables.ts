// Every table of the site sorts by a click on a header cell: numbers by value (percent, tokens/s, ms, bytes),
// text alphabetically; cells without a number (NA, FAIL, —) stay last either way.

/** The number a cell shows ("99.2% (98.9–99.4)" -> 99.2, "12,345" -> 12345, "19.0 KiB" -> 19456), or undefined. */
export function cellNumber(text: string): number | undefined {
  const m = /^(-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?)\s*(KiB|MiB)?/i.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]!.replace(/,/g, ""));
  const unit = m[2]?.toLowerCase();
  return unit === "kib" ? value * 1024 : unit === "mib" ? value * 1024 * 1024 : value;
}

function sortTable(table: HTMLTableElement, column: number, th: HTMLTableCellElement): void {
  const body = table.tBodies[0];
  if (!body) return;
  const descending = th.getAttribute("aria-sort") === "ascending"; // first click ascending, then it toggles
  for (const other of table.tHead?.rows[0]?.cells ?? []) other.removeAttribute("aria-sort");
  th.setAttribute("aria-sort", descending ? "descending" : "ascending");
  const rows = [...body.rows];
  const key = (r: HTMLTableRowElement) => r.cells[column]?.textContent ?? "";
  const numeric = rows.some((r) => cellNumber(key(r)) !== undefined);
  rows.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (numeric) {
      const [nx, ny] = [cellNumber(x), cellNumber(y)];
      if (nx === undefined || ny === undefined) return nx === undefined ? (ny === undefined ? 0 : 1) : -1;
      return descending ? ny - nx : nx - ny;
    }
    return descending ? (x < y ? 1 : x > y ? -1 : 0) : x < y ? -1 : x > y ? 1 : 0;
  });
  body.append(...rows);
}

if (typeof document !== "undefined") {
  for (const table of document.querySelectorAll<HTMLTableElement>("main table")) {
    const header = table.tHead?.rows[0];
    if (!header || (table.tBodies[0]?.rows.length ?? 0) < 2) continue;
    [...header.cells].forEach((th, i) => {
      th.classList.add("sortable");
      th.tabIndex = 0;
      th.title = "sort by this column";
      const go = () => sortTable(table, i, th);
      th.addEventListener("click", go);
      th.addEventListener("keydown", (e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), go()));
    });
  }
  fetch(new URL("data/site.json", document.querySelector<HTMLLinkElement>('link[rel="stylesheet"]')!.href.replace(/assets\/site\.css$/, "")))
    .then((r) => r.json())
    .then((d: { gitSha?: string }) => {
      const sha = document.querySelector(".sha");
      if (sha && d.gitSha) sha.textContent = ` at commit ${d.gitSha.slice(0, 10)}`;
    })
    .catch(() => {});
}
