"""Train the subword-lm task's byte-level BPE tokenizer (Hugging Face `tokenizers`) on the train split's text only.

The text comes from the TypeScript side (the single source of truth for splits); write it first, from the repo root:

    cd packages/tasks && npx tsx --conditions=@ssmbench/source -e \\
      'import { kjvText } from "@ssmbench/tasks"; process.stdout.write(kjvText("train"))' > /tmp/kjv-train.txt
    cd ../.. && node scripts/py.mjs -m ssmbench_trainer.tokenizer --text /tmp/kjv-train.txt --out datasets/subword-lm

It writes `tokenizer.json` (loaded in TypeScript by @huggingface/transformers), `tokenizer.meta.json` (what it was
trained on and with) and `tokenizer.golden.json` (Python's ids for a few strings, which the TypeScript tests compare
against transformers.js's). The result is deterministic: the BPE trainer counts pairs exactly and breaks ties by the
pair itself, whatever the thread count (tested by training twice).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

# Strings whose ids the TypeScript tokenizer must reproduce: text like the corpus, and text unlike it
# (digits, spaces, newlines, punctuation, bytes above 127) so the byte-level fallback is exercised.
GOLDEN_STRINGS = [
    "In the beginning God created the heaven and the earth.\n",
    "And the LORD spake unto Moses, saying,\nSpeak unto the children of Israel;\n",
    "Verily, verily, I say unto thee: 1611 AD...  two  spaces\n\nand a blank line",
    "Hello, world! It's 3.14 or ~2^10 (= 1024); tabs\tand CRLF\r\n?",
    "naïve café — “quotes” ∑ 東京 🙂",
]


def train_bpe(text: str, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    # GPT-2's byte-level scheme: the regex split into words (a word keeps its leading space), then every byte
    # mapped to one of 256 printable characters, so any string encodes without an unknown token.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    # The whole text as one piece: words are counted exactly as encoding the whole split splits them.
    tok.train_from_iterator([text], trainer=trainer)
    return tok


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", required=True, help="the train split's text (see the module docstring)")
    ap.add_argument("--out", required=True, help="folder for tokenizer.json, tokenizer.meta.json, tokenizer.golden.json")
    ap.add_argument("--vocab", type=int, default=1024)
    args = ap.parse_args(argv)

    import tokenizers

    raw = Path(args.text).read_bytes()
    text = raw.decode("utf-8")
    tok = train_bpe(text, args.vocab)
    if tok.get_vocab_size() != args.vocab:
        raise SystemExit(f"trained {tok.get_vocab_size()} tokens, not {args.vocab}: too little text for that many merges")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"), pretty=False)
    ids = tok.encode(text).ids
    meta = {
        "trained_on": "the train split of the KJV (packages/tasks/src/kjv.ts: kjvText('train'))",
        "text_sha256": hashlib.sha256(raw).hexdigest(),
        "text_bytes": len(raw),
        "text_tokens": len(ids),
        "vocab_size": tok.get_vocab_size(),
        "model": "byte-level BPE (GPT-2 pre-tokenizer regex, no prefix space, no special tokens), min_frequency 2",
        "tokenizers_version": tokenizers.__version__,
        "command": "node scripts/py.mjs -m ssmbench_trainer.tokenizer --text <train text> --out datasets/subword-lm",
    }
    (out / "tokenizer.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    golden = [{"text": s, "ids": tok.encode(s).ids} for s in GOLDEN_STRINGS]
    (out / "tokenizer.golden.json").write_text(json.dumps(golden, ensure_ascii=False) + "\n")
    print(f"{out}/tokenizer.json: vocab {tok.get_vocab_size()}, {len(raw)} bytes -> {len(ids)} tokens "
          f"({len(raw) / len(ids):.3f} bytes/token) on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
