// A family's block as an SVG flow diagram, drawn from the one-line description in its manifest
// ("RMSNorm -> in_proj (x, z) -> ... -> out_proj, residual; RMSNorm -> MLP, residual. Notes."):
// sub-layers are separated by "; ", stages by " -> ", and a sub-layer ending in "residual" adds its input back.

export interface SubLayer {
  stages: string[];
  residual: boolean;
}

/** The sub-layers of a block description; text after the first ". " is a note, not a stage. */
export function parseBlock(block: string): SubLayer[] {
  const main = block.split(/\.\s+(?=[A-Za-z])/)[0]!.trim();
  return main
    .split(/;\s*/)
    .map((part) => {
      const residual = /(,|->)\s*residual\s*$/.test(part);
      const stages = part.replace(/(,|->)\s*residual\s*$/, "").split(/\s*->\s*/).map((s) => s.trim()).filter(Boolean);
      return { stages, residual };
    })
    .filter((l) => l.stages.length > 0);
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** The diagram: boxes top to bottom, arrows between, a skip line into a sum node for each residual sub-layer. */
export function blockDiagram(block: string): string {
  const layers = parseBlock(block);
  const longest = Math.max(10, ...layers.flatMap((l) => l.stages.map((s) => s.length)));
  const boxW = Math.min(520, 16 + longest * 7.2);
  const boxH = 26;
  const gap = 16;
  const sumR = 9;
  const x0 = 20;
  const cx = x0 + boxW / 2;
  const skipX = x0 + boxW + 24;
  const parts: string[] = [];
  let y = 10;
  const arrow = (y1: number, y2: number) => parts.push(`<line x1="${cx}" y1="${y1}" x2="${cx}" y2="${y2}" class="flow" marker-end="url(#arrow)"/>`);
  parts.push(`<text x="${cx}" y="${y + 10}" class="io">x</text>`);
  y += 16;
  layers.forEach((layer) => {
    const top = y;
    arrow(y, y + gap);
    y += gap;
    layer.stages.forEach((stage, i) => {
      parts.push(`<rect x="${x0}" y="${y}" width="${boxW}" height="${boxH}" rx="5" class="stage"/>`);
      parts.push(`<text x="${cx}" y="${y + boxH / 2 + 4}" class="label">${esc(stage)}</text>`);
      y += boxH;
      if (i < layer.stages.length - 1) {
        arrow(y, y + gap);
        y += gap;
      }
    });
    if (layer.residual) {
      arrow(y, y + gap);
      y += gap;
      const sy = y + sumR;
      parts.push(`<circle cx="${cx}" cy="${sy}" r="${sumR}" class="sum"/><text x="${cx}" y="${sy + 4}" class="label">+</text>`);
      parts.push(`<polyline points="${cx},${top + 4} ${skipX},${top + 4} ${skipX},${sy} ${cx + sumR},${sy}" class="skip" marker-end="url(#arrow)"/>`);
      y += 2 * sumR;
    }
  });
  arrow(y, y + gap);
  y += gap;
  parts.push(`<text x="${cx}" y="${y + 12}" class="io">out</text>`);
  y += 20;
  const width = skipX + 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="block-diagram" viewBox="0 0 ${width} ${y}" width="${width}" height="${y}" role="img" aria-label="${esc(block)}">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>
<style>.stage{fill:#eef3fb;stroke:#4a6fa5}.sum{fill:#fff;stroke:#4a6fa5}.flow,.skip{stroke:#4a6fa5;fill:none}.skip{stroke-dasharray:4 3}.label,.io{font:12px system-ui,sans-serif;text-anchor:middle;fill:#1b2a41}.io{font-style:italic}</style>
${parts.join("\n")}
</svg>`;
}
