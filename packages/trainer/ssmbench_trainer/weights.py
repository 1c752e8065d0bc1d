"""The PyTorch weights of a checkpoint, kept beside its ONNX graphs as weights.safetensors.

The speed suite times PyTorch eager on the same weights as the ONNX graphs, and anyone can reload the reference
model from a checkpoint folder alone. The ONNX files cannot give the weights back by name (the exporter folds and
renames many of them), so export writes them, and this module backfills older checkpoints from their training
run, accepting a best.pt only if the model it gives reproduces the checkpoint's golden.json.

    python -m ssmbench_trainer.weights --checkpoint models/mamba-mqar-d128 --from runs/stage2/d128/best.pt
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .common import REPO, build_model, load_family

WEIGHTS = "weights.safetensors"


def save_weights(model: torch.nn.Module, out: Path) -> Path:
    path = Path(out) / WEIGHTS
    # safetensors refuses shared storage (a tied head); clone so every entry owns its tensor.
    save_file({k: v.detach().to(torch.float32).contiguous().clone() for k, v in model.state_dict().items()}, str(path))
    return path


def family_dir(card: dict) -> Path:
    return REPO / "packages" / f"model-{card['family']}"


def model_from_card(card: dict) -> torch.nn.Module:
    family = load_family(family_dir(card))
    return build_model(family, card["config"], card["vocab"]).eval()


def load_checkpoint(checkpoint: Path) -> tuple[torch.nn.Module, dict]:
    """The reference model of a checkpoint folder, with its weights (whose sha256 must match the card)."""
    checkpoint = Path(checkpoint)
    card = json.loads((checkpoint / "card.json").read_text())
    entry = next((f for f in card["files"] if f["path"] == WEIGHTS), None)
    path = checkpoint / WEIGHTS
    if entry is None or not path.exists():
        raise SystemExit(f"{checkpoint} has no {WEIGHTS} in its card: backfill it with "
                         f"python -m ssmbench_trainer.weights --checkpoint {checkpoint} --from <run>/best.pt")
    if hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
        raise SystemExit(f"{path} does not match the sha256 in its card: the file is corrupt or was replaced")
    model = model_from_card(card)
    model.load_state_dict(load_file(str(path)))
    return model, card


@torch.no_grad()
def golden_error(model: torch.nn.Module, golden: dict) -> float:
    """max |model logits - golden logits| at the golden positions and vocabulary entries."""
    logits = model(torch.tensor(golden["input_ids"], dtype=torch.int64))[0].numpy()
    picked = logits[:, golden["positions"]][:, :, golden["vocab_index"]]
    return float(np.abs(picked - np.asarray(golden["logits"])).max())


def backfill(checkpoint: Path, state_dict_path: Path, tolerance: float = 1e-5) -> dict:
    checkpoint = Path(checkpoint)
    card_path = checkpoint / "card.json"
    card = json.loads(card_path.read_text())
    model = model_from_card(card)
    model.load_state_dict(torch.load(state_dict_path, map_location="cpu"))
    err = golden_error(model, json.loads((checkpoint / "golden.json").read_text()))
    # golden.json keeps 6 decimals, so the same weights reproduce it to about 5e-7.
    if err > tolerance:
        raise SystemExit(f"{state_dict_path} is not the model of {checkpoint}: its logits differ from golden.json by {err:.3g}")
    path = save_weights(model, checkpoint)
    entry = {"path": WEIGHTS, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "bytes": path.stat().st_size}
    card["files"] = [f for f in card["files"] if f["path"] != WEIGHTS] + [entry]
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return {"checkpoint": str(checkpoint), "golden_error": err, **entry}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--from", dest="state_dict", required=True, type=Path, help="the training run's best.pt")
    args = ap.parse_args(argv)
    print(json.dumps(backfill(args.checkpoint, args.state_dict)))


if __name__ == "__main__":
    main()
