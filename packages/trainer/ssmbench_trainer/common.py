"""Loading a family's model.py and a task's .npy split; shared by training and export."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]


def load_family(model_dir: str | Path):
    """Import packages/model-<family>/model.py as a module (each family is self-contained)."""
    path = Path(model_dir) / "model.py"
    if not path.exists():
        raise SystemExit(f"no model.py in {model_dir}: a model package holds its PyTorch reference there")
    name = f"ssmbench_family_{Path(model_dir).name.replace('-', '_')}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for attr in ("Model", "FAMILY", "PAPER", "DEFAULT_CONFIG"):
        if not hasattr(module, attr):
            raise SystemExit(f"{path} lacks {attr}: see docs/adding-a-model.md for the contract")
    return module


def load_split(data_dir: str | Path, split: str):
    """-> (inputs int64 [n, T], targets int64 [n, T], meta dict) as written by @ssmbench/tasks writeSplit."""
    d = Path(data_dir)
    meta = json.loads((d / f"{split}.meta.json").read_text())
    inputs = torch.from_numpy(np.load(d / f"{split}.inputs.npy").astype(np.int64))
    targets = torch.from_numpy(np.load(d / f"{split}.targets.npy").astype(np.int64))
    return inputs, targets, meta


def build_model(family, config: dict, vocab: int):
    return family.Model(config, vocab)


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())
