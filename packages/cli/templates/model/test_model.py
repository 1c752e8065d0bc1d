"""Parity of the __NAME__ reference: the shared contract checks (parallel form vs naive recurrence, step vs prefill).
Add the family's own checks here (e.g. against a reference implementation loaded with the same weights)."""
import torch

import model as family
from ssmbench_trainer.contract import check_contract


def test_contract():
    torch.manual_seed(0)
    net = family.Model({"d_model": 32, "n_layers": 2}, vocab=50).eval()
    check_contract(net, 50)
