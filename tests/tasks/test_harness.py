"""The task harness: the command line from the config and the docstring, validation as usage
errors, the run-directory rules, the shared epilogue."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch

from memnets.training import NonFiniteLossError, option
from tasks import _harness
from tests._line import LineModel, LineTask

_DOC = """A line through the harness: fit y = x . w.

    python -m my_task --out runs/line
"""


class _LineTask(LineTask):
    def __init__(self, size: int, poison: bool = False):
        super().__init__(torch.linspace(-1, 1, size) * (float("nan") if poison else 1.0))


@dataclass
class _Config(_harness.TaskConfig):
    """The line's settings.

    Args:
        size: the input size, at least 1.
        scale: a number in [0, 1].
        kind: ``"a"`` or ``"b"``.
    """

    out: str = "runs/line"
    steps: int = 20
    batch_size: int = 8
    lr: float = 1e-2
    progress: bool = False
    device: str = "cpu"
    plots: bool = False
    size: int = option(3, low=1)
    scale: float = option(0.5, low=0.0, high=1.0)
    kind: str = option("a", choices=("a", "b"))


def _usage_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as stop:
        _harness.parse(_Config, argv, _DOC)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_help_is_the_module_docstring_and_each_fields_docstring_entry(capsys):
    with pytest.raises(SystemExit) as stop:
        _harness.parse(_Config, ["--help"], _DOC)
    assert stop.value.code == 0
    text = capsys.readouterr().out
    assert "A line through the harness: fit y = x . w." in text and "python -m my_task --out runs/line" in text
    assert "the input size, at least 1." in text and "(default: 3)" in text
    assert "number of optimiser steps." in text  # TrainConfig's own entries
    assert "save the learning curve" in text  # TaskConfig's


def test_every_declared_rule_is_checked_including_overridden_defaults(capsys, tmp_path):
    out = ["--out", str(tmp_path / "o")]
    assert "size must be greater than zero, got 0" in _usage_error(capsys, [*out, "--size", "0"])
    assert "expected scale in [0.0, 1.0], got 1.5" in _usage_error(capsys, [*out, "--scale", "1.5"])
    assert "expected kind to be one of ['a', 'b'], got 'c'" in _usage_error(capsys, [*out, "--kind", "c"])
    # lr's default is overridden in _Config without a rule: TrainConfig's rule still applies.
    assert "expected lr in (0.0, inf], got 0.0" in _usage_error(capsys, [*out, "--lr", "0"])
    assert "invalid float value: 'fast'" in _usage_error(capsys, [*out, "--lr", "fast"])
    assert "unrecognized arguments: --sise" in _usage_error(capsys, [*out, "--sise", "3"])
    with pytest.raises(TypeError, match="size should be of type int, got: float"):
        _Config(size=2.0)
    cfg = _harness.parse(_Config, [*out, "--size", "4", "--clip-norm", "none"], _DOC)
    assert (cfg.size, cfg.clip_norm) == (4, None)


def _run(cfg, poison=False):
    return _harness.run(cfg, build=lambda c: (LineModel(c.size), _LineTask(c.size, poison)),
                        settings={"train": {}, "wide": {"n": 512}},
                        evaluate=lambda model, task, setting, generator, device: {
                            "mse": task.loss(model, task.sample(setting.get("n", 64), generator, device))[1]["mse"],
                            "examples": setting.get("n", 64)},
                        name="line", summary=lambda results: {"good": results["evaluation"]["train"]["mse"] < 1})


def test_run_writes_metrics_json_prints_the_table_and_seeds_each_setting(capsys, tmp_path):
    cfg = _harness.parse(_Config, ["--out", str(tmp_path / "run")], _DOC)
    results = _run(cfg)
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved == results
    assert {k: saved[k] for k in ("task", "model", "seed", "steps", "examples")} == {
        "task": "line", "model": "LineModel", "seed": 0, "steps": 20, "examples": 160}
    assert saved["parameters"] == 4 and list(saved["evaluation"]) == ["train", "wide"]
    assert saved["good"] == (saved["evaluation"]["train"]["mse"] < 1)
    table = capsys.readouterr().out
    assert "line, LineModel after 20 steps (160 examples), seed 0:" in table
    assert "train" in table and "wide" in table and "good:" in table
    # The settings' generators are fixed and distinct.
    assert torch.equal(torch.rand(3, generator=_harness.evaluation_generator(1)),
                       torch.rand(3, generator=_harness.evaluation_generator(1)))
    assert not torch.equal(torch.rand(3, generator=_harness.evaluation_generator(0)),
                           torch.rand(3, generator=_harness.evaluation_generator(1)))


def test_a_bad_model_argument_found_by_build_is_a_usage_error(capsys, tmp_path):
    cfg = _harness.parse(_Config, ["--out", str(tmp_path / "run")], _DOC)

    def build(cfg):
        raise ValueError("Model: hidden_size must be greater than zero, got 0")

    with pytest.raises(SystemExit) as stop:
        _harness.run(cfg, build, {}, lambda *args: {}, "line")
    assert stop.value.code == 2 and not (tmp_path / "run").exists()
    assert capsys.readouterr().err.strip().endswith("hidden_size must be greater than zero, got 0 (see --help)")


def test_a_non_finite_loss_exits_1_with_one_line(capsys, tmp_path):
    cfg = _harness.parse(_Config, ["--out", str(tmp_path / "run")], _DOC)
    with pytest.raises(SystemExit) as stop:
        _run(cfg, poison=True)
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the loss became nan at step 1" in err[0]
    with pytest.raises(SystemExit):
        with _harness.exits_cleanly(tmp_path):
            raise NonFiniteLossError("fit: the loss became inf")


def test_print_table_keeps_long_metric_names_apart(capsys):
    _harness.print_table("t", {"n=16": {"accuracy": 0.5, "graph_accuracy_linear": 0.25},
                               "n=64": {"accuracy": 0.125}})
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == ["setting", "accuracy", "graph_accuracy_linear"]
    assert lines[3].split() == ["n=16", "0.5", "0.25"] and lines[4].split() == ["n=64", "0.125", "-"]
    assert len(lines[2]) == len(lines[3]) == len(lines[4])  # the columns line up
