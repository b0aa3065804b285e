"""Tests of the shared training loop: checkpoints, resume, stops, optimisers, config."""

from __future__ import annotations

import json
import math
import os
import signal

import pytest
import torch
from torch import nn

import memnets
from memnets.nn.registry import register_model
from memnets.training import (
    CONTINUE,
    Action,
    GravesRMSprop,
    Guard,
    GuardConfig,
    LearningRateDrop,
    NonFiniteLossError,
    Rollback,
    SpikeGuard,
    Task,
    TrainConfig,
    fit,
    load_checkpoint,
    make_guards,
    make_optimizer,
    parse_config,
    step_generator,
)


@register_model
class _Regressor(nn.Module):
    def __init__(self, size: int = 4, hidden: int = 8, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(size, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


class _LinearTask(Task):
    """Learn y = x · w_true; the curriculum counts evaluations to exercise task state."""

    def __init__(self, size: int = 4, poison_at: int | None = None, interrupt_at: int | None = None,
                 spike_at: int | None = None, corrupt_at: int | None = None):
        self.w = torch.linspace(-1, 1, size)
        self.evaluations = 0
        self.poison_at = poison_at
        self.interrupt_at = interrupt_at
        self.spike_at = spike_at  # the loss of step spike_at + 1 (1-based) is scaled by 1e4
        self.scale = 1.0
        self.corrupt_at = corrupt_at  # the loss of step corrupt_at + 1 first moves the parameters far off
        self.corrupt = False

    def sample(self, batch_size, generator, device):
        x = torch.randn(batch_size, self.w.numel(), generator=generator)
        return x.to(device), (x @ self.w).to(device)

    def loss(self, model, batch):
        x, y = batch
        if self.corrupt:
            self.corrupt = False
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(3.0)
        loss = ((model(x) - y) ** 2).mean()
        return loss * self.scale, {"mse": loss.item()}

    def evaluate(self, model, generator, device):
        x, y = self.sample(64, generator, device)
        return {"mse": ((model(x) - y) ** 2).mean().item()}

    def curriculum(self, step, metrics):
        if "eval/mse" in metrics:
            self.evaluations += 1
        if self.poison_at is not None and step == self.poison_at:
            self.w = self.w * float("nan")
        self.scale = 1e4 if step == self.spike_at else 1.0
        self.corrupt = step == self.corrupt_at
        if self.interrupt_at is not None and step == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)

    def state_dict(self):
        return {"evaluations": self.evaluations}

    def load_state_dict(self, state):
        self.evaluations = state["evaluations"]


def _config(tmp_path, **overrides):
    base = dict(out=str(tmp_path / "run"), steps=20, batch_size=8, eval_every=5, checkpoint_every=5,
                log_every=1, progress=False, device="cpu", lr=1e-2)
    base.update(overrides)
    return GuardConfig(**base)


def _fit(model, task, cfg):
    """`fit` with the guards the config turns on, as the task harness calls it."""
    return fit(model, task, cfg, guards=make_guards(cfg))


def _model(seed=0):
    torch.manual_seed(seed)
    return _Regressor(size=4, hidden=8)


def test_fit_learns_writes_files_and_load_rebuilds(tmp_path):
    cfg = _config(tmp_path, steps=200, eval_every=50)
    result = _fit(_model(), _LinearTask(), cfg)
    assert result.step == 200
    assert result.last_eval["mse"] < 0.1
    out = tmp_path / "run"
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(1, 201))
    assert [r["step"] for r in records if "eval/mse" in r] == [50, 100, 150, 200]
    loaded = memnets.load(out / "model.pt")
    assert isinstance(loaded, _Regressor) and not loaded.training
    x = torch.randn(5, 4)
    result.model.eval()
    torch.testing.assert_close(loaded(x), result.model(x), rtol=0, atol=0)


def test_checkpoint_loads_with_weights_only(tmp_path):
    _fit(_model(), _LinearTask(), _config(tmp_path, steps=5))
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert checkpoint["model"] == {"class": "_Regressor", "kwargs": {"size": 4, "hidden": 8, "dropout": 0.1}}
    assert checkpoint["step"] == 5


def test_resume_continues_bit_for_bit(tmp_path):
    straight = _fit(_model(), _LinearTask(), _config(tmp_path / "a", steps=20))
    _fit(_model(), _LinearTask(), _config(tmp_path / "b", steps=10))
    task = _LinearTask()
    resumed = _fit(_model(seed=123), task, _config(tmp_path / "b", steps=20, resume=True))
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert task.evaluations == 4  # two before the checkpoint, restored from task state, two after
    lines_a = (tmp_path / "a" / "run" / "metrics.jsonl").read_text().splitlines()
    lines_b = (tmp_path / "b" / "run" / "metrics.jsonl").read_text().splitlines()
    strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k != "time"} for x in lines]  # noqa: E731
    assert strip(lines_a) == strip(lines_b)


def test_spike_guard_skips_outliers_and_follows_lasting_changes():
    guard = SpikeGuard(5.0)
    assert [guard.check(1.0) for _ in range(SpikeGuard.WARMUP)] == [False] * SpikeGuard.WARMUP
    assert guard.limit() == pytest.approx(5.0)
    assert guard.check(5.5) and guard.skipped == 1
    assert not guard.check(4.9) and not guard.check(1.0)
    state = guard.state_dict()
    copy = SpikeGuard(5.0)
    copy.load_state_dict(state)
    assert copy.limit() == guard.limit() and copy.skipped == 1
    # A lasting ten-fold rise of the norm is skipped at first, then accepted.
    decisions = [guard.check(10.0) for _ in range(60)]
    assert decisions[0] and not decisions[-1]
    assert sum(decisions) < 30
    off = SpikeGuard(None)
    assert not any(off.check(x) for x in (1.0, 1e6, 1e12)) and off.limit() == float("inf")
    with pytest.raises(ValueError, match="skip_spikes"):
        GuardConfig(skip_spikes=0.0)


def test_skipped_spike_leaves_parameters_unchanged(tmp_path):
    spiked = _fit(_model(), _LinearTask(spike_at=30), _config(tmp_path / "a", steps=31, skip_spikes=5.0))
    before = _fit(_model(), _LinearTask(), _config(tmp_path / "b", steps=30, skip_spikes=5.0))
    for p, q in zip(spiked.model.parameters(), before.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    records = [json.loads(x) for x in (tmp_path / "a" / "run" / "metrics.jsonl").read_text().splitlines()]
    skipped = {r["step"]: r["skipped"] for r in records if "skipped" in r}
    assert skipped[30] == 0 and skipped[31] == 1
    # Without the guard the same spike moves the parameters.
    unguarded = _fit(_model(), _LinearTask(spike_at=30), _config(tmp_path / "c", steps=31))
    assert any(not torch.equal(p, q) for p, q in zip(unguarded.model.parameters(), before.model.parameters()))


def test_resume_restores_the_spike_guard(tmp_path):
    cfg = dict(steps=40, skip_spikes=5.0)
    straight = _fit(_model(), _LinearTask(spike_at=30), _config(tmp_path / "a", **cfg))
    _fit(_model(), _LinearTask(spike_at=30), _config(tmp_path / "b", **{**cfg, "steps": 25}))
    resumed = _fit(_model(seed=7), _LinearTask(spike_at=30), _config(tmp_path / "b", **cfg, resume=True))
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    strip = lambda path: [{k: v for k, v in json.loads(x).items() if k != "time"}  # noqa: E731
                          for x in (path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert strip(tmp_path / "a") == strip(tmp_path / "b")
    assert strip(tmp_path / "a")[-1]["skipped"] == 1


def test_learning_rate_drop_fires_once_on_the_window_mean():
    drop = LearningRateDrop("wrong_bits", threshold=1.0, factor=0.3)
    for step in range(1, LearningRateDrop.WINDOW):
        drop.observe(step, {"wrong_bits": 0.0})
    assert drop.scale == 1.0  # the window is not full yet
    drop.observe(LearningRateDrop.WINDOW, {"wrong_bits": 19.0})  # mean exactly 0.95
    assert drop.dropped_at == LearningRateDrop.WINDOW and drop.scale == 0.3
    drop.observe(100, {"wrong_bits": 50.0})
    assert drop.scale == 0.3  # once dropped, it stays
    copy = LearningRateDrop("wrong_bits", 1.0, 0.3)
    copy.load_state_dict(drop.state_dict())
    assert copy.scale == 0.3 and copy.dropped_at == drop.dropped_at
    high = LearningRateDrop("wrong_bits", 1.0, 0.3)
    for step in range(1, 100):
        high.observe(step, {"wrong_bits": 1.0})
    assert high.scale == 1.0
    with pytest.raises(ValueError, match="lr_drop_metric 'accuracy'.*'loss'"):
        LearningRateDrop("accuracy", 1.0, 0.3).observe(1, {"loss": 0.1, "mse": 0.1})
    assert LearningRateDrop("loss", None, 0.3).scale == 1.0
    with pytest.raises(ValueError, match="lr_drop_factor"):
        GuardConfig(lr_drop_factor=0.0)


def test_learning_rate_drop_in_fit_and_across_resume(tmp_path):
    cfg = dict(steps=40, lr_drop_below=1e9, lr_drop_metric="mse", lr_drop_factor=0.25)
    straight = _fit(_model(), _LinearTask(), _config(tmp_path / "a", **cfg))
    lrs = {r["step"]: r["lr"] for r in straight.history if "lr" in r}
    window = LearningRateDrop.WINDOW
    assert all(lrs[s] == 1e-2 for s in range(1, window + 1))
    assert all(lrs[s] == pytest.approx(0.25e-2) for s in range(window + 1, 41))
    _fit(_model(), _LinearTask(), _config(tmp_path / "b", **{**cfg, "steps": 25}))
    resumed = _fit(_model(seed=5), _LinearTask(), _config(tmp_path / "b", **cfg, resume=True))
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_rollback_fires_on_the_window_median_not_on_outliers():
    rollback = Rollback(4.0, every=10, lr_factor=0.5)
    assert not rollback.observe(100.0)  # no snapshot yet: never fires
    rollback = Rollback(4.0, every=10, lr_factor=0.5)
    rollback.take(0, {})
    for _ in range(Rollback.WARMUP):
        assert not rollback.observe(1.0)
    assert rollback.reference() == pytest.approx(1.0)
    assert not rollback.observe(50.0) and not rollback.observe(50.0)  # two outliers in five: median 1
    assert not rollback.observe(1.0) and not rollback.observe(1.0) and not rollback.observe(1.0)
    assert not rollback.observe(10.0) and not rollback.observe(10.0)  # median still 1
    assert rollback.observe(10.0)  # three of five far above the average
    assert rollback.reference() == pytest.approx(1.0)  # the lowest average, not the current one
    assert not rollback.snapshot_due(0)  # not healthy: no snapshot at a due step
    snapshot = rollback.restore()
    assert snapshot["step"] == 0 and rollback.scale == 0.5 and rollback.rollbacks == 1 and rollback.recent == []
    assert rollback.count == 0 and rollback.reference() == math.inf  # the statistics start afresh
    copy = Rollback(4.0)
    copy.load_state_dict(rollback.state_dict())
    assert copy.state_dict() == rollback.state_dict()
    assert not Rollback(None).observe(1e9)
    with pytest.raises(ValueError, match="rollback"):
        GuardConfig(rollback=1.0)
    with pytest.raises(ValueError, match="rollback_lr_factor"):
        GuardConfig(rollback=4.0, rollback_lr_factor=0.0)


def test_rollback_restores_the_snapshot_in_fit_and_across_resume(tmp_path):
    # The parameters are thrown far off by the loss of step 63; the losses of steps 63-65 are
    # high, the median of five is high at step 65, and the run goes back to its snapshot of step 60.
    cfg = dict(rollback=4.0, rollback_every=10, lr=3e-3)
    rolled = _fit(_model(), _LinearTask(corrupt_at=62), _config(tmp_path / "a", steps=65, **cfg))
    before = _fit(_model(), _LinearTask(), _config(tmp_path / "b", steps=60, **cfg))
    for p, q in zip(rolled.model.parameters(), before.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    events = [r for r in rolled.history if "rollback_to" in r]
    assert events == [{"step": 65, "rollback_to": 60, "lr_scale": 0.5, "rollbacks": 1}]
    lrs = {r["step"]: r["lr"] for r in rolled.history if "lr" in r}
    assert lrs[64] == pytest.approx(3e-3) and "grad_norm" not in [r for r in rolled.history if r.get("step") == 65
                                                                   and "loss" in r][0]
    # Without the rollback the run stays far off for a while.
    unguarded = _fit(_model(), _LinearTask(corrupt_at=62), _config(tmp_path / "c", steps=65, lr=3e-3))
    assert any(not torch.equal(p, q) for p, q in zip(unguarded.model.parameters(), before.model.parameters()))
    # The snapshot travels in the checkpoint: stopping at step 64 and resuming gives the same run.
    straight = _fit(_model(), _LinearTask(corrupt_at=62), _config(tmp_path / "d", steps=80, **cfg))
    _fit(_model(), _LinearTask(corrupt_at=62), _config(tmp_path / "e", steps=64, **cfg))
    resumed = _fit(_model(seed=3), _LinearTask(), _config(tmp_path / "e", steps=80, resume=True, **cfg))
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    lrs = {r["step"]: r["lr"] for r in straight.history if "lr" in r}
    assert lrs[80] == pytest.approx(1.5e-3)
    checkpoint = torch.load(tmp_path / "e" / "run" / "model.pt", weights_only=True)
    assert checkpoint["guards"]["rollback"]["rollbacks"] == 1
    assert checkpoint["guards"]["rollback"]["snapshot"]["step"] == 70


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = _config(tmp_path, steps=20, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
        _fit(_model(), _LinearTask(poison_at=7), cfg)
    checkpoint = load_checkpoint(tmp_path / "run" / "model.pt")
    assert checkpoint["step"] == 5
    assert all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())


def test_ctrl_c_writes_checkpoint_then_stops(tmp_path):
    cfg = _config(tmp_path, steps=50, checkpoint_every=100)
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(), _LinearTask(interrupt_at=12), cfg)
    assert load_checkpoint(tmp_path / "run" / "model.pt")["step"] == 12


def test_unregistered_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="register_model"):
        _fit(nn.Linear(4, 1), _LinearTask(), _config(tmp_path))


def test_load_refuses_foreign_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="memnets-checkpoint"):
        memnets.load(tmp_path / "x.pt")


def test_step_generator_depends_only_on_seed_and_step():
    a = torch.rand(3, generator=step_generator(1, 7))
    b = torch.rand(3, generator=step_generator(1, 7))
    c = torch.rand(3, generator=step_generator(1, 8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_graves_rmsprop_matches_equations():
    torch.manual_seed(0)
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    opt = GravesRMSprop([w], lr=1e-2, decay=0.95, momentum=0.9, eps=1e-4)
    ref = w.detach().clone()
    n = torch.zeros_like(ref)
    g = torch.zeros_like(ref)
    delta = torch.zeros_like(ref)
    for _ in range(5):
        grads = torch.randn(5, dtype=torch.float64)
        w.grad = grads.clone()
        opt.step()
        n = 0.95 * n + 0.05 * grads**2
        g = 0.95 * g + 0.05 * grads
        delta = 0.9 * delta - 1e-2 * grads / torch.sqrt(n - g**2 + 1e-4)
        ref = ref + delta
    torch.testing.assert_close(w.detach(), ref)


def test_parse_config_overrides_and_validation():
    cfg = parse_config(TrainConfig, ["--steps", "7", "--batch-size", "3", "--clip-norm", "none", "--no-progress"])
    assert (cfg.steps, cfg.batch_size, cfg.clip_norm, cfg.progress) == (7, 3, None, False)
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_cosine_learning_rate_schedule():
    from memnets.training.config import learning_rate

    cfg = TrainConfig(lr=1.0, steps=100, lr_schedule="cosine", min_lr_ratio=0.1)
    assert learning_rate(cfg, 0) == pytest.approx(1.0)
    assert learning_rate(cfg, 50) == pytest.approx(0.55)
    assert learning_rate(cfg, 100) == pytest.approx(0.1)
    assert learning_rate(TrainConfig(lr=0.3), 77) == 0.3
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")


def test_adam_beta2_reaches_the_optimiser_and_is_checked():
    params = [nn.Parameter(torch.zeros(3))]
    for name in ("adam", "amsgrad"):
        optimizer = make_optimizer(name, params, lr=1e-3, adam_beta2=0.99)
        assert optimizer.param_groups[0]["betas"] == (0.9, 0.99)
    assert make_optimizer("adam", params, lr=1e-3).param_groups[0]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="adam_beta2"):
        make_optimizer("adam", params, lr=1e-3, adam_beta2=1.0)
    with pytest.raises(ValueError, match="adam_beta2"):
        TrainConfig(adam_beta2=-0.1)


def test_adam_beta1_reaches_the_optimiser_and_is_checked(tmp_path):
    params = [nn.Parameter(torch.zeros(3))]
    for name in ("adam", "amsgrad"):
        optimizer = make_optimizer(name, params, lr=1e-3, adam_beta1=0.98, adam_beta2=0.99)
        assert optimizer.param_groups[0]["betas"] == (0.98, 0.99)
    with pytest.raises(ValueError, match="adam_beta1"):
        make_optimizer("adam", params, lr=1e-3, adam_beta1=1.0)
    with pytest.raises(ValueError, match="adam_beta1"):
        TrainConfig(adam_beta1=-0.1)
    assert parse_config(TrainConfig, ["--adam-beta1", "0.98"]).adam_beta1 == 0.98
    _fit(_model(), _LinearTask(), _config(tmp_path, steps=2, adam_beta1=0.98))
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert tuple(saved["optimizer"]["param_groups"][0]["betas"]) == (0.98, 0.999)


def test_rmsprop_eps_reaches_the_optimiser_and_is_checked(tmp_path):
    params = [nn.Parameter(torch.zeros(3))]
    assert make_optimizer("rmsprop", params, lr=1e-4).param_groups[0]["eps"] == 1e-4  # Graves' constant
    assert make_optimizer("rmsprop", params, lr=1e-4, rmsprop_eps=1e-8).param_groups[0]["eps"] == 1e-8
    with pytest.raises(ValueError, match="rmsprop_eps"):
        TrainConfig(rmsprop_eps=0.0)
    assert TrainConfig().rmsprop_eps == 1e-8
    assert parse_config(TrainConfig, ["--rmsprop-eps", "1e-6"]).rmsprop_eps == 1e-6
    _fit(_model(), _LinearTask(), _config(tmp_path, steps=2, optimizer="rmsprop", rmsprop_eps=1e-6))
    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert saved["optimizer"]["param_groups"][0]["eps"] == 1e-6


def test_graves_rmsprop_step_scales_with_its_constant():
    # A gradient spread far below sqrt(eps): the constant, not the spread, sets the step.
    def first_step(eps):
        p = nn.Parameter(torch.zeros(1))
        opt = GravesRMSprop([p], lr=1e-4, momentum=0.0, eps=eps)
        p.grad = torch.full((1,), 1e-4)
        opt.step()
        return -p.item()

    # n - g^2 = 0.05 * 1e-8 - 0.0025 * 1e-8 = 0.0475e-8 after one step.
    spread = 0.0475e-8
    assert first_step(1e-4) == pytest.approx(1e-4 * 1e-4 / (spread + 1e-4) ** 0.5, rel=1e-5)
    assert first_step(1e-8) == pytest.approx(1e-4 * 1e-4 / (spread + 1e-8) ** 0.5, rel=1e-5)
    assert first_step(1e-8) > 50 * first_step(1e-4)


class _EveryOtherStep(Guard):
    """Skips the updates of even steps; counts them; halves the learning rate from step 10."""

    key = "every_other"

    def __init__(self):
        self.skipped, self.seen = 0, 0

    @property
    def lr_scale(self):
        return 0.5 if self.seen >= 10 else 1.0

    def update(self, step, metrics, state):
        assert {"loss", "grad_norm", "mse"} <= set(metrics)
        self.seen += 1
        if step % 2 == 0:
            self.skipped += 1
            return Action(skip=True)
        return CONTINUE

    def log(self):
        return {"every_other_skipped": self.skipped}

    def state_dict(self):
        return {"skipped": self.skipped, "seen": self.seen}

    def load_state_dict(self, state):
        self.skipped, self.seen = state["skipped"], state["seen"]


def test_a_custom_guard_skips_scales_logs_and_resumes(tmp_path):
    straight = fit(_model(), _LinearTask(), _config(tmp_path / "a", steps=20), guards=[_EveryOtherStep()])
    records = {r["step"]: r for r in straight.history if "loss" in r}
    assert records[20]["every_other_skipped"] == 10
    assert records[10]["lr"] == pytest.approx(1e-2) and records[11]["lr"] == pytest.approx(0.5e-2)
    # Only the odd steps moved the parameters: a guard that skips nothing but sees the same
    # steps differs.
    unguarded = fit(_model(), _LinearTask(), _config(tmp_path / "b", steps=20))
    assert any(not torch.equal(p, q) for p, q in zip(straight.model.parameters(), unguarded.model.parameters()))
    assert load_checkpoint(tmp_path / "a" / "run" / "model.pt")["guards"]["every_other"] == {"skipped": 10, "seen": 20}
    fit(_model(), _LinearTask(), _config(tmp_path / "c", steps=9), guards=[_EveryOtherStep()])
    resumed = fit(_model(seed=4), _LinearTask(), _config(tmp_path / "c", steps=20, resume=True),
                  guards=[_EveryOtherStep()])
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_fit_refuses_to_overwrite_or_shorten_a_run(tmp_path):
    _fit(_model(), _LinearTask(), _config(tmp_path, steps=6))
    before = (tmp_path / "run" / "model.pt").read_bytes()
    with pytest.raises(ValueError, match="holds a checkpoint"):
        _fit(_model(), _LinearTask(), _config(tmp_path, steps=3))
    with pytest.raises(ValueError, match="already done 6 steps"):
        _fit(_model(), _LinearTask(), _config(tmp_path, steps=3, resume=True))
    assert (tmp_path / "run" / "model.pt").read_bytes() == before
    result = _fit(_model(), _LinearTask(), _config(tmp_path, steps=3, overwrite=True))
    assert result.step == 3 and load_checkpoint(tmp_path / "run" / "model.pt")["step"] == 3
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 3
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="expected --out to be a directory"):
        _fit(_model(), _LinearTask(), _config(tmp_path, out=str(tmp_path / "file")))
