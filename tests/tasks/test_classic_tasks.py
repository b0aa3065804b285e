"""Smoke tests of the classic-toolkit task scripts: they run, write their files, and reload."""

import json

import torch

import memnets
from tasks import charlm, forecast, long_dependency


def test_forecast_runs_every_kind_of_model(tmp_path):
    models = ["naive", "linear/direct", "linear/iterate", "gru/iterate", "rnn/direct", "lstm/seq2seq",
              "gru/encoder-decoder", "esn/iterate", "esn/direct", "esn/seq2seq", "narx/scheduled-sampling",
              "jordan/iterate", "tdnn/seq2seq"]
    metrics = forecast.main(["--out", str(tmp_path), "--steps", "3", "--eval-every", "3", "--fit-series", "40",
                             "--test-series", "16", "--esn-size", "20", "--hidden-size", "4", "--models", *models])
    assert set(metrics["test_mse"]) == set(models)
    mse = metrics["test_mse"]
    # the closed-form fits (least squares, ridge readouts) forecast a sine mixture far better
    # than repeating the last value; three training steps leave the trained models near their
    # initial guess, within twice the naive error (a diverged or NaN model is not)
    for name in ("linear/direct", "linear/iterate", "esn/iterate", "esn/direct", "esn/seq2seq"):
        assert mse[name] < 0.25 * mse["naive"], name
    assert all(0 < v < 2 * mse["naive"] for v in mse.values())
    assert (tmp_path / "results.md").read_text().count("\n") == len(models) + 2
    for folder in ("gru-iterate", "esn-direct", "narx-scheduled-sampling", "tdnn-seq2seq"):
        model = memnets.load(tmp_path / folder / "model.pt")
        assert not model.training
    esn = memnets.load(tmp_path / "esn-direct" / "model.pt")
    assert esn.readout_weight.abs().sum() > 0  # the fitted readout came back


def test_charlm_runs_and_samples(tmp_path):
    metrics = charlm.main(["--out", str(tmp_path), "--steps", "2", "--eval-every", "2", "--hidden-size", "8",
                           "--seq-len", "8", "--sample-length", "20", "--no-progress"])
    assert metrics["held_out_bits_per_char"] > 0 and metrics["unigram_bits_per_char"] > 0
    assert metrics["sample"].startswith("\nPROSPERO.\n") and len(metrics["sample"]) == 11 + 20
    model = memnets.load(tmp_path / "model.pt")
    assert model.output_size == len(metrics["vocabulary"])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["held_out_bits_per_char"] == metrics["held_out_bits_per_char"]


def test_long_dependency_runs_and_plots(tmp_path):
    metrics = long_dependency.main(["--out", str(tmp_path), "--steps", "2", "--eval-every", "2", "--length", "6",
                                    "--hidden-size", "4", "--test-sequences", "8", "--diagnostic-sequences", "4"])
    assert set(metrics["results"]) == {"rnn", "lstm", "gru"}
    assert (tmp_path / "gradient_norms.png").exists()
    norms = metrics["gradient_norms"]["lstm (trained)"]
    assert len(norms) == 7 and all(torch.isfinite(torch.tensor(norms)))
    assert memnets.load(tmp_path / "gru" / "model.pt").rnn.hidden_size == 4
