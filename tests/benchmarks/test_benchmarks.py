"""Smoke tests of the NTM benchmark: it runs, and the pytorch-ntm adapter is wired right."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks import bench_ntm
from memnets.data.bits import copy_batch, masked_bce_loss


class _FakeEncapsulatedNTM(nn.Module):
    """pytorch-ntm's interface: init_sequence(B), then one call per step -> (sigmoid output, state)."""

    def __init__(self, num_inputs, num_outputs, controller_size, controller_layers, num_heads, n, m):
        super().__init__()
        self.linear = nn.Linear(num_inputs, num_outputs)
        self.calls = 0

    def init_sequence(self, batch_size):
        self.batch_size = batch_size

    def forward(self, x):
        self.calls += 1
        return torch.sigmoid(self.linear(x)), None


def test_pytorch_ntm_adapter_feeds_one_step_per_call_and_returns_logits():
    adapter = bench_ntm.PytorchNTMAdapter(_FakeEncapsulatedNTM)
    batch = copy_batch(3, length=4, generator=torch.Generator().manual_seed(0))
    logits, state = adapter(batch.inputs)
    assert state is None and logits.shape == batch.targets.shape
    assert adapter.net.calls == batch.inputs.shape[0]
    torch.testing.assert_close(logits, adapter.net.linear(batch.inputs), rtol=1e-4, atol=1e-4)
    masked_bce_loss(logits, batch).backward()
    assert adapter.net.linear.weight.grad is not None


def test_bench_ntm_runs_and_reports_both_models():
    results = bench_ntm.main(["--no-compile", "--threads", "1", "--batch-sizes", "2", "--rounds", "1", "--sequences", "2"])
    rates = results["batch"][2]["seq_per_s"]
    assert set(rates) == {"NTM", "LSTM"} and all(r > 0 for r in rates.values())
    assert abs(results["params"]["NTM"] - results["params"]["LSTM"]) < 0.05 * results["params"]["NTM"]
