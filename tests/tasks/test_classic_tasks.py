"""The classic-toolkit task scripts: they run, write their files in the task harness's
layout, and reload; every bad option is one line on stderr and exit status 2, every run's
subfolder is protected, Ctrl-C exits 130, no traceback."""

import json
import signal
import subprocess
import sys
import time

import torch

import memnets
from tasks import charlm, forecast, long_dependency
from tests.tasks.test_cli import _ROOT, _env, _run_cases, assert_usage_errors

_HARNESS_KEYS = {"task", "model", "seed", "steps", "examples", "parameters", "evaluation"}


def test_forecast_runs_every_kind_of_model(tmp_path):
    models = ["naive", "linear/direct", "linear/iterate", "gru/iterate", "rnn/direct", "lstm/seq2seq",
              "gru/encoder-decoder", "esn/iterate", "esn/direct", "esn/seq2seq", "narx/scheduled-sampling",
              "jordan/iterate", "tdnn/seq2seq"]
    metrics = forecast.main(["--out", str(tmp_path), "--steps", "3", "--eval-every", "3", "--fit-series", "40",
                             "--test-series", "16", "--esn-size", "20", "--hidden-size", "4", "--no-plots",
                             "--models", *models])
    assert set(metrics["test_mse"]) == set(models)
    assert _HARNESS_KEYS <= set(metrics) and metrics["task"] == "forecast" and metrics["steps"] == 3
    assert list(metrics["evaluation"]) == models
    assert metrics["evaluation"]["naive"]["mse"] == metrics["test_mse"]["naive"]
    assert json.loads((tmp_path / "metrics.json").read_text())["evaluation"].keys() == metrics["evaluation"].keys()
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
    assert _HARNESS_KEYS <= set(metrics) and metrics["task"] == "charlm" and metrics["model"] == "SequenceToSequence"
    assert metrics["steps"] == 2 and metrics["examples"] == 2 * 32
    assert metrics["evaluation"]["held_out"]["bits_per_char"] == metrics["held_out_bits_per_char"]
    assert (tmp_path / "samples.txt").exists() and (tmp_path / "learning_curve.png").exists()
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
    assert _HARNESS_KEYS <= set(metrics) and metrics["task"] == "long_dependency" and metrics["steps"] == 2
    assert list(metrics["evaluation"]) == ["rnn", "lstm", "gru"]
    assert metrics["evaluation"]["gru"]["test_mse"] == metrics["results"]["gru"]["test_mse"]
    assert (tmp_path / "gradient_norms.png").exists()
    norms = metrics["gradient_norms"]["lstm (trained)"]
    assert len(norms) == 7 and all(torch.isfinite(torch.tensor(norms)))
    assert memnets.load(tmp_path / "gru" / "model.pt").rnn.hidden_size == 4


def _bad_invocations(tmp_path) -> list[tuple[str, list[str], str]]:
    out = str(tmp_path / "out")
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    cases = [
        ("tasks.charlm", ["--corpus", "nope"], "expected corpus to be one of ['tempest'], got 'nope'"),
        ("tasks.charlm", ["--cell", "transformer"], "expected cell to be one of"),
        ("tasks.charlm", ["--hidden-size", "0"], "hidden_size must be greater than zero, got 0"),
        ("tasks.charlm", ["--seq-len", "-1"], "seq_len must be greater than zero, got -1"),
        ("tasks.charlm", ["--num-layers", "0"], "num_layers must be greater than zero"),
        ("tasks.charlm", ["--held-out", "1.5"], "held_out"),
        ("tasks.charlm", ["--held-out", "0"], "held_out"),
        ("tasks.charlm", ["--temperature", "0"], "expected temperature in (0.0, inf], got 0.0"),
        ("tasks.charlm", ["--sample-length", "0"], "sample_length must be greater than zero"),
        ("tasks.charlm", ["--prime", "\u03a9"], "expected prime to be made of characters of the corpus"),
        ("tasks.charlm", ["--lr", "0"], "expected lr in (0.0, inf], got 0.0"),
        ("tasks.charlm", ["--threads", "0"], "threads must be greater than zero"),
        ("tasks.charlm", ["--out", str(a_file)], "expected --out to be a directory"),
        ("tasks.forecast", ["--models", "gru/attention"], "expected models[0] to be one of"),
        ("tasks.forecast", ["--models", "naive", "naive"], "expected models without repeats"),
        ("tasks.forecast", ["--hidden-size", "0"], "hidden_size must be greater than zero, got 0"),
        ("tasks.forecast", ["--esn-size", "0"], "esn_size must be greater than zero, got 0"),
        ("tasks.forecast", ["--esn-leak-rate", "0"], "expected esn_leak_rate in (0.0, 1.0], got 0.0"),
        ("tasks.forecast", ["--esn-leak-rate", "1.5"], "esn_leak_rate"),
        ("tasks.forecast", ["--esn-ridge", "-1"], "esn_ridge"),
        ("tasks.forecast", ["--esn-spectral-radius", "-0.5"], "esn_spectral_radius"),
        ("tasks.forecast", ["--esn-washout", "50"], "esn_washout"),
        ("tasks.forecast", ["--ar-order", "0"], "ar_order"),
        ("tasks.forecast", ["--ar-order", "51"], "ar_order"),
        ("tasks.forecast", ["--schedule-k", "0.5"], "expected schedule_k in [1.0, inf], got 0.5"),
        ("tasks.forecast", ["--test-series", "0"], "test_series must be greater than zero"),
        ("tasks.forecast", ["--steps", "ten"], "invalid int value: 'ten'"),
        ("tasks.forecast", ["--out", str(a_file)], "expected --out to be a directory"),
        ("tasks.long_dependency", ["--cells", "lstm", "transformer"], "expected cells[1] to be one of"),
        ("tasks.long_dependency", ["--cells", "gru", "gru"], "expected cells without repeats"),
        ("tasks.long_dependency", ["--length", "1"], "length must be at least 2, got 1"),
        ("tasks.long_dependency", ["--hidden-size", "0"], "hidden_size must be greater than zero, got 0"),
        ("tasks.long_dependency", ["--test-sequences", "0"], "test_sequences must be greater than zero"),
        ("tasks.long_dependency", ["--diagnostic-sequences", "0"], "diagnostic_sequences must be greater than zero"),
        ("tasks.long_dependency", ["--batch-size", "0"], "batch_size must be greater than zero, got 0"),
        ("tasks.long_dependency", ["--resume", "--overwrite"], "at most one of resume and overwrite"),
        ("tasks.long_dependency", ["--out", str(a_file)], "expected --out to be a directory"),
    ]
    return [(module, ["--out", out, *argv] if "--out" not in argv else argv, message)
            for module, argv, message in cases]


def test_every_bad_option_is_one_line_and_exit_status_2(tmp_path):
    assert_usage_errors(tmp_path, _bad_invocations(tmp_path))


def test_help_is_the_module_docstring(tmp_path):
    names = ("charlm", "forecast", "long_dependency")
    results = _run_cases(tmp_path, [(f"tasks.{name}", ["--help"]) for name in names])
    for module, (code, output) in zip((charlm, forecast, long_dependency), results):
        assert code == 0, output
        assert module.__doc__.splitlines()[0] in output and "--resume" in output


_TINY_LD = ["--steps", "2", "--eval-every", "2", "--length", "4", "--hidden-size", "4", "--test-sequences", "8",
            "--diagnostic-sequences", "4", "--no-progress", "--no-plots", "--device", "cpu"]
_TINY_FC = ["--steps", "2", "--eval-every", "2", "--test-series", "8", "--hidden-size", "4", "--no-progress",
            "--no-plots", "--device", "cpu"]


def test_every_run_subfolder_is_protected_from_a_run_by_mistake(tmp_path):
    torch.set_num_threads(1)
    ld, fc = tmp_path / "ld", tmp_path / "fc"
    long_dependency.main(["--out", str(ld), "--cells", "gru", *_TINY_LD])
    forecast.main(["--out", str(fc), "--models", "naive", "gru/iterate", *_TINY_FC])
    before = {path: path.read_bytes() for path in (ld / "gru" / "model.pt", fc / "gru-iterate" / "model.pt",
                                                   ld / "metrics.json", fc / "metrics.json")}
    results = _run_cases(tmp_path, [
        ("tasks.long_dependency", ["--out", str(ld), "--cells", "rnn", "gru", *_TINY_LD]),  # gru/ holds a run
        ("tasks.long_dependency", ["--out", str(ld), "--cells", "gru", "--resume", *_TINY_LD[2:], "--steps", "1"]),
        ("tasks.forecast", ["--out", str(fc), "--models", "gru/iterate", *_TINY_FC]),
    ])
    (fresh, fresh_out), (shorter, shorter_out), (fc_fresh, fc_out) = results
    assert fresh == 2 and f"{ld / 'gru'} holds a checkpoint" in fresh_out and "--overwrite" in fresh_out
    assert shorter == 2 and "it has already done 2 steps" in shorter_out
    assert fc_fresh == 2 and "gru-iterate holds a checkpoint" in fc_out
    for output in (fresh_out, shorter_out, fc_out):
        assert len(output.strip().splitlines()) == 1 and "Traceback" not in output, output
    assert not (ld / "rnn").exists()  # refused before any work, the first cell's run too
    assert {path: path.read_bytes() for path in before} == before
    # --resume to the same step count continues (nothing to do); --overwrite replaces.
    assert long_dependency.main(["--out", str(ld), "--cells", "gru", "--resume", *_TINY_LD])["steps"] == 2
    resumed = forecast.main(["--out", str(fc), "--models", "gru/iterate", "--overwrite", *_TINY_FC[:-4],
                             "--steps", "1", "--eval-every", "1", "--no-progress", "--no-plots"])
    assert resumed["steps"] == 1 and json.loads((fc / "metrics.json").read_text())["steps"] == 1


def test_ctrl_c_in_a_multi_model_script_exits_130_without_a_traceback(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tasks.long_dependency", "--out", str(out), "--steps", "100000", "--log-every",
               "1", "--eval-every", "100000", "--cells", "lstm", "gru", *_TINY_LD[4:]]
    process = subprocess.Popen(command, cwd=_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    log = out / "lstm" / "metrics.jsonl"
    try:
        deadline = time.monotonic() + 240
        while not (log.exists() and log.read_text().count("\n") >= 2):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "resume with --resume" in stdout + stderr
    assert not (out / "gru").exists() and not (out / "metrics.json").exists()  # it stopped there
