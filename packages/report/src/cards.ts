// Model cards: models/<id>/card.json, validated with core's ModelCard schema.
import fs from "node:fs";
import path from "node:path";
import { ModelCard, UserError } from "@ssmbench/core";
import { cmp } from "./format.ts";

/** Every card under `modelsDir`, sorted by id. A folder without card.json (an export in progress) is skipped. */
export function loadCards(modelsDir: string): ModelCard[] {
  if (!fs.existsSync(modelsDir)) return [];
  const cards: ModelCard[] = [];
  for (const dir of fs.readdirSync(modelsDir).sort(cmp)) {
    const file = path.join(modelsDir, dir, "card.json");
    if (!fs.existsSync(file)) continue;
    const hint = "cards are written by `pnpm train` / `pnpm export`; regenerate it or fix the field named";
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${(e as Error).message})`, hint);
    }
    const card = ModelCard.safeParse(json);
    if (!card.success) {
      const issues = card.error.issues.map((i) => `${i.path.join(".") || "card"}: ${i.message}`).join("; ");
      throw new UserError(`${file}: invalid model card: ${issues}`, hint);
    }
    if (card.data.id !== dir) {
      throw new UserError(`${file}: card id "${card.data.id}" differs from its folder "${dir}"`, "a card lives in models/<id>/card.json");
    }
    cards.push(card.data);
  }
  return cards;
}
