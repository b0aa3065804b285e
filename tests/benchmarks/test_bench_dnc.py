"""Smoke tests of benchmarks/bench_dnc.py: the pytorch-dnc adapter and one tiny run."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks import bench_dnc
from memnets.data.bits import copy_batch, masked_bce_loss


class _FakePytorchDNC(nn.Module):
    """pytorch-dnc's interface: DNC(input_size, hidden_size, ...); forward(x, hx, reset_experience)
    -> (outputs with input_size channels, hidden)."""

    def __init__(self, input_size, hidden_size, **kwargs):
        super().__init__()
        self.kwargs = kwargs
        self.linear = nn.Linear(input_size, input_size)

    def forward(self, x, hx=(None, None, None), reset_experience=False):
        assert reset_experience and hx == (None, None, None)
        return self.linear(x), (None, None, None)


def test_pytorch_dnc_adapter_uses_the_same_sizes_and_returns_logits():
    adapter = bench_dnc.PytorchDNCAdapter(_FakePytorchDNC)
    sizes = bench_dnc._SIZES
    assert adapter.net.kwargs["nr_cells"] == sizes["memory_size"]
    assert adapter.net.kwargs["cell_size"] == sizes["word_size"]
    assert adapter.net.kwargs["read_heads"] == sizes["num_read_heads"]
    assert adapter.net.kwargs["num_hidden_layers"] == 1 and adapter.net.kwargs["batch_first"] is False
    batch = copy_batch(3, length=4, generator=torch.Generator().manual_seed(0))
    logits, state = adapter(batch.inputs)
    assert state is None and logits.shape == batch.targets.shape
    masked_bce_loss(logits, batch).backward()
    assert adapter.net.linear.weight.grad is not None


def test_bench_dnc_runs_and_reports():
    results = bench_dnc.main(["--threads", "1", "--batch-sizes", "1", "--rounds", "1", "--sequences", "1",
                              "--memory-sizes", "4"])
    assert results["batch"][1]["seq_per_s"]["DNC"] > 0
    assert results["memory_sizes"][4]["DNC"]["seq_per_s"] > 0
    assert results["memory_sizes"][4]["DNC"]["saved_mib"] > 0
    assert results["params"]["DNC"] > 0
