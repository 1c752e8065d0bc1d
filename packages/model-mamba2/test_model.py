"""Parity of the Mamba-2 reference: the shared contract (chunked SSD prefill vs the token-by-token recurrence, step vs
prefill), the chunked SSD against its quadratic (masked-attention) form, and the ONNX export with a dynamic length."""
import pytest
import torch

import model as family
from ssmbench_trainer.contract import (check_contract, check_default_config, check_onnx_export,
                                       check_parallel_matches_sequential, close, seeded_model)

torch.set_num_threads(1)


SMALL = {"d_model": 32, "n_layers": 2, "d_state": 8, "headdim": 16, "chunk": 8}


def test_contract():
    check_contract(seeded_model(family.Model, SMALL, 50, seed=0), 50)


def test_default_config():
    net = check_default_config(family.Model, {"conv.0": ["batch", 192, 3], "ssm.0": ["batch", 4, 32, 32],
                                              "conv.1": ["batch", 192, 3], "ssm.1": ["batch", 4, 32, 32]}, seed=1)
    mixer = net.layers[0][0].fn
    assert (mixer.d_inner, mixer.n_heads, mixer.headdim, mixer.d_state, mixer.chunk) == (128, 4, 32, 32, 32)


@torch.no_grad()
@pytest.mark.parametrize("T", [1, 7, 8, 9, 24, 50])
def test_chunked_ssd_equals_quadratic_form(T):
    """Chunked SSD (chunk 8) == the whole-sequence masked form y = (L o C B^T)(dt x), in float64, with decays from
    very slow to very fast (A up to 16 and large dt: no floor is needed)."""
    torch.manual_seed(T)
    mixer = family.Mamba2Mixer(32, d_state=8, headdim=16, chunk=8).double().eval()
    with torch.no_grad():
        mixer.dt_bias.copy_(torch.tensor([-6.0, -1.0, 1.0, 3.0]))      # dt from 0.0025 to 3 (dt A down to -48)
    u = torch.randn(2, T, 32, dtype=torch.float64)
    out1, (c1, h1) = mixer(u)
    out2, (c2, h2) = mixer(u, form="quadratic")
    close(out1, out2, 1e-10)
    close(h1, h2, 1e-10)
    close(c1, c2, 0)


@torch.no_grad()
def test_long_sequence_many_chunks():
    net = seeded_model(family.Model, SMALL, 50, seed=3)
    check_parallel_matches_sequential(net, 50, lengths=(8 * 150 + 5,), batch=1, tol=1e-4)


def test_onnx_prefill_dynamic_length(tmp_path):
    """prefill.onnx and step.onnx traced at 40 tokens equal PyTorch at 37 and 300 (see check_onnx_export)."""
    # One layer and 6 scan levels (up to 1024 tokens): the export's time is mostly per-node overhead.
    cfg = {"d_model": 16, "n_layers": 1, "d_state": 8, "headdim": 8, "chunk": 16, "scan_levels": 6}
    check_onnx_export(seeded_model(family.Model, cfg, 20, seed=4), 20, tmp_path)
