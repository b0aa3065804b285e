"""TensorBoard logging: the event files hold the scalars of metrics.jsonl and the task's figures."""

from __future__ import annotations

import json

import pytest
import torch

from memnets.training import TrainConfig, fit
from tests._line import LineModel, LineTask

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


class _LineTask(LineTask):
    def __init__(self):
        super().__init__(torch.tensor([0.5, -1.0, 2.0]))
        self.figures_drawn = 0

    def evaluate(self, model, generator, device):
        x, y = self.sample(32, generator, device)
        return {"mse": ((model(x) - y) ** 2).mean().item()}

    def figures(self, model, device):
        import matplotlib.pyplot as plt

        self.figures_drawn += 1
        figure, ax = plt.subplots(figsize=(2, 2))
        ax.plot(model.lin.weight.detach()[0].tolist())
        return {"weights": figure}


def _config(out, **overrides):
    return TrainConfig(**{**dict(out=str(out), steps=12, batch_size=8, eval_every=4, log_every=2, progress=False,
                                 device="cpu", lr=1e-2, tensorboard=True), **overrides})


def _events(out):
    accumulator = event_accumulator.EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0,
                                                                                              "images": 0})
    accumulator.Reload()
    return accumulator


def _scalars(accumulator, tag):
    return [(e.step, e.value) for e in accumulator.Scalars(tag)]


def test_event_files_hold_the_jsonl_scalars_and_a_figure_per_evaluation(tmp_path):
    torch.manual_seed(0)
    task = _LineTask()
    fit(LineModel(), task, _config(tmp_path / "run"))
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    events = _events(tmp_path / "run")
    tags = set(events.Tags()["scalars"])
    assert {"loss", "mse", "grad_norm", "lr", "samples", "eval/mse"} <= tags
    for tag in ("loss", "eval/mse", "grad_norm"):
        expected = [(r["step"], r[tag]) for r in records if tag in r]
        got = _scalars(events, tag)
        assert [s for s, _ in got] == [s for s, _ in expected]
        assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6)  # stored as float32
    assert [s for s, _ in _scalars(events, "loss")] == [2, 4, 6, 8, 10, 12]
    assert task.figures_drawn == 3
    images = events.Images("weights")
    assert [image.step for image in images] == [4, 8, 12] and all(image.width > 0 for image in images)


def test_no_event_files_and_no_figures_without_the_flag(tmp_path):
    task = _LineTask()
    fit(LineModel(), task, _config(tmp_path / "run", tensorboard=False))
    assert not (tmp_path / "run" / "tensorboard").exists() and task.figures_drawn == 0


def test_a_resumed_run_drops_the_events_after_its_checkpoint(tmp_path):
    torch.manual_seed(0)
    fit(LineModel(), _LineTask(), _config(tmp_path / "run", steps=8, checkpoint_every=4))
    torch.manual_seed(0)
    straight = _LineTask()
    fit(LineModel(), straight, _config(tmp_path / "straight", steps=12, checkpoint_every=4))
    fit(LineModel(), _LineTask(), _config(tmp_path / "run", steps=12, checkpoint_every=4, resume=True))
    resumed, reference = _events(tmp_path / "run"), _events(tmp_path / "straight")
    assert [s for s, _ in _scalars(resumed, "loss")] == [2, 4, 6, 8, 10, 12]
    assert [v for _, v in _scalars(resumed, "loss")] == [v for _, v in _scalars(reference, "loss")]


def test_a_missing_tensorboard_package_is_a_clear_error(monkeypatch, tmp_path):
    import memnets.training.logger as logger

    monkeypatch.setattr(logger, "tensorboard_available", lambda: False)
    with pytest.raises(ValueError, match=r"pip install tensorboard"):
        TrainConfig(tensorboard=True)
    with pytest.raises(ImportError, match=r"pip install tensorboard"):
        logger.RunLog(tmp_path, tensorboard=True)
    assert not list(tmp_path.iterdir())
