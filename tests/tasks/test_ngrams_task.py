"""tasks/ngrams.py: a tiny run for each model, the report beside the Bayes-optimal loss."""

from __future__ import annotations

import json

import pytest
import torch

from tasks import ngrams

_TINY = ["--no-compile", "--controller-size", "16", "--memory-size", "8", "--word-size", "4", "--no-progress",
         "--eval-sequences", "8", "--final-sequences", "8", "--device", "cpu", "--length", "30",
         "--lstm-hidden-size", "8", "--lstm-layers", "1"]


@pytest.mark.parametrize("model", ["dnc", "ntm", "lstm"])
def test_ngrams_runs_and_reports_the_optimal_loss(tmp_path, model):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    results = ngrams.main(["--out", str(out), "--steps", "2", "--batch-size", "4", "--eval-every", "2",
                           "--no-plots", "--model", model, *_TINY])
    row = results["evaluation"]["train"]
    assert results["model"] == model and results["steps"] == 2
    assert 0 < row["optimal_bits"] < row["bits"]  # two steps of training are far from optimal
    assert row["gap_percent"] == pytest.approx(100 * (row["bits"] - row["optimal_bits"]) / row["optimal_bits"])
    assert results["within_2_percent"] is False
    assert json.loads((out / "metrics.json").read_text())["evaluation"]["train"]["bits"] == row["bits"]


def test_ngrams_rejects_a_length_below_the_order(tmp_path):
    with pytest.raises(SystemExit) as error:
        ngrams.main(["--out", str(tmp_path / "run"), "--length", "4", "--order", "6"])
    assert error.value.code == 2
