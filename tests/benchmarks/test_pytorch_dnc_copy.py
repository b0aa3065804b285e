"""benchmarks/pytorch_dnc_copy.py: pytorch-dnc's copy task as its script defines it, the wrong-bit
count, and one tiny run against a stand-in for pytorch-dnc's package."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from torch import nn

from benchmarks import pytorch_dnc_copy as check


def test_copy_task_batch_layout():
    inputs, targets, length = check.copy_task_batch(7, 4, torch.Generator().manual_seed(3))
    assert 1 <= length <= 4 and inputs.shape == targets.shape == (7, 2 * length + 1, 6)
    assert torch.equal(inputs[:, length, -1], torch.ones(7)) and inputs[:, :, -1].sum() == 7  # one marker each
    assert torch.equal(targets[:, length + 1:, :-1], inputs[:, :length, :-1])  # the answer is the data
    assert targets[:, :length + 1].abs().sum() == 0 and inputs[:, length + 1:].abs().sum() == 0
    lengths = {check.copy_task_batch(1, 3, g)[2] for g in [torch.Generator().manual_seed(s) for s in range(40)]}
    assert lengths == {1, 2, 3}


class _Oracle(nn.Module):
    """Writes the data back on the answer steps: logits +/-10 from the inputs."""

    def forward(self, x):
        length = (x.shape[1] - 1) // 2
        out = torch.full_like(x, -10.0)
        out[:, length + 1:, :-1] = x[:, :length, :-1] * 20 - 10
        return out


class _Silent(nn.Module):
    def forward(self, x):
        return torch.full_like(x, -1.0)


def test_wrong_bits_counts_answer_bits_only():
    batches = [check.copy_task_batch(10, 4, torch.Generator().manual_seed(s)) for s in range(3)]
    assert check.wrong_bits(_Oracle(), batches) == 0.0
    ones = sum(float(t[:, length + 1:, :-1].sum()) for _, t, length in batches)
    assert check.wrong_bits(_Silent(), batches) == pytest.approx(ones / 30)


def test_tiny_run_against_a_stand_in_package(tmp_path, monkeypatch):
    package = tmp_path / "dnc"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class DNC(nn.Module):
            def __init__(self, input_size, hidden_size, **kwargs):
                super().__init__()
                self.kwargs = kwargs
                self.linear = nn.Linear(input_size, input_size)

            def forward(self, x, hx, reset_experience=False, pass_through_memory=True):
                assert reset_experience and self.kwargs["batch_first"]
                return self.linear(x), (None, None, None)
    """))
    monkeypatch.delitem(sys.modules, "dnc", raising=False)
    results = check.main(["--pytorch-dnc", str(tmp_path), "--sequences", "64", "--eval-every", "32", "--memnets",
                          "--json", str(tmp_path / "out.json")])
    monkeypatch.delitem(sys.modules, "dnc", raising=False)
    assert results["sequences"] == 64 and set(results["models"]) == {"pytorch-dnc", "memnets"}
    for model in results["models"].values():
        assert [seen for seen, _ in model["curve"]] == [32, 64]
        assert model["final_wrong_bits"] >= 0 and isinstance(model["converged"], bool)
    assert (tmp_path / "out.json").is_file()


def test_bad_budget_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        check.main(["--pytorch-dnc", str(tmp_path), "--sequences", "0"])
    assert "expected --sequences and --eval-every >= 1, got 0" in capsys.readouterr().err
