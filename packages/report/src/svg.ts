// Log-log line charts as standalone SVG text (docs/speed/*.svg): one line per series, a marker per measured point,
// ticks at the measured x values and at powers of ten on y. Deterministic output, so `report --check` can diff it.

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** series of one group share a colour (e.g. a family on two runtimes) */
  group: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  formatX: (x: number) => string;
  formatY: (y: number) => string;
}

// Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
const W = 720;
const H = 420;
const M = { left: 78, right: 190, top: 40, bottom: 56 };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const f = (x: number) => x.toFixed(1);

export function logLogChart(c: ChartSpec): string {
  const pts = c.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  const groups = [...new Set(c.series.map((s) => s.group))];
  const colour = (g: string) => PALETTE[groups.indexOf(g) % PALETTE.length]!;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - M.right / 2 + M.left / 2}" y="22" text-anchor="middle" font-size="15">${esc(c.title)}</text>`,
  ];
  if (pts.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no measurements</text>`, "</svg>");
    return out.join("\n") + "\n";
  }
  const xs = [...new Set(pts.map((p) => p[0]))].sort((a, b) => a - b);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.log10(xs[0]!), Math.log10(xs[xs.length - 1]!)];
  const [y0, y1] = [Math.floor(Math.log10(Math.min(...ys))), Math.ceil(Math.log10(Math.max(...ys)))];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => M.left + (x1 === x0 ? pw / 2 : ((Math.log10(x) - x0) / (x1 - x0)) * pw);
  const sy = (y: number) => M.top + ph - (y1 === y0 ? ph / 2 : ((Math.log10(y) - y0) / (y1 - y0)) * ph);
  // axes and grid
  out.push(`<g stroke="#ddd">`);
  for (let e = y0; e <= y1; e++) out.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${f(sy(10 ** e))}" y2="${f(sy(10 ** e))}"/>`);
  for (const x of xs) out.push(`<line x1="${f(sx(x))}" x2="${f(sx(x))}" y1="${M.top}" y2="${M.top + ph}"/>`);
  out.push(`</g>`);
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (let e = y0; e <= y1; e++) out.push(`<text x="${M.left - 6}" y="${f(sy(10 ** e) + 4)}" text-anchor="end">${esc(c.formatY(10 ** e))}</text>`);
  for (const x of xs) out.push(`<text x="${f(sx(x))}" y="${M.top + ph + 18}" text-anchor="middle">${esc(c.formatX(x))}</text>`);
  out.push(`<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  // series
  c.series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => x > 0 && y > 0).sort((a, b) => a[0] - b[0]);
    const col = colour(s.group);
    if (p.length > 1) out.push(`<polyline fill="none" stroke="${col}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""} points="${p.map(([x, y]) => `${f(sx(x))},${f(sy(y))}`).join(" ")}"/>`);
    for (const [x, y] of p) out.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="3.5" fill="${s.dashed ? "white" : col}" stroke="${col}" stroke-width="1.5"/>`);
    const ly = M.top + 10 + i * 18;
    out.push(`<line x1="${W - M.right + 14}" x2="${W - M.right + 40}" y1="${ly}" y2="${ly}" stroke="${col}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`);
    out.push(`<text x="${W - M.right + 46}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
