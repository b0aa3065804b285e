r"""Optional stabilisers of the training loop, behind one interface.

A `Guard` sees every step's metrics (the loss, the gradient norm, the task's metrics)
after the backward pass and before the optimiser step, and answers with an `Action`:
go on, skip this step's update, or "I have restored an earlier state". It may also scale
the learning rate (`Guard.lr_scale`). `fit` knows nothing else about it; a guard's
``state_dict`` travels in the checkpoint, so a resumed run decides exactly as an
uninterrupted one.

Three guards: `SpikeGuard` (skip outlying gradients), `LearningRateDrop` (drop the rate
once a metric is low) and `Rollback` (restore a healthy snapshot when the loss climbs,
Chowdhery et al. 2022, §5.1). `GuardConfig` holds their settings for a task config and
`make_guards` builds the ones it turns on.
"""

from __future__ import annotations

import abc
import copy
import math
from dataclasses import dataclass
from typing import Any, Protocol

from memnets.training.config import TrainConfig, option

__all__ = ["Action", "CONTINUE", "Guard", "GuardConfig", "LearningRateDrop", "Rollback", "SpikeGuard",
           "TrainingState", "make_guards"]


@dataclass(frozen=True)
class Action:
    """A guard's answer for one step.

    Attributes:
        skip: do not apply this step's update (the step still counts).
        restored: the guard has put an earlier state back; the step trains on nothing and
            the task's curriculum does not advance. The later guards are not asked.
        record: a record for ``metrics.jsonl`` (e.g. where a rollback went).
        message: a line for the console.
    """

    skip: bool = False
    restored: bool = False
    record: dict[str, Any] | None = None
    message: str | None = None


#: The answer of a guard that lets the step through.
CONTINUE = Action()


class TrainingState(Protocol):
    """What a guard may save and put back: the model, optimiser, guards and task state."""

    def capture(self) -> dict[str, Any]:
        """A deep copy of the state."""

    def restore(self, state: dict[str, Any]) -> None:
        """Put back what `capture` returned."""


class Guard(abc.ABC):
    """The interface of a stabiliser of `fit`.

    Subclasses set `key` (their entry in the checkpoint) and implement `update`,
    `state_dict` and `load_state_dict`; `lr_scale` and `log` are optional.
    """

    #: The checkpoint entry of this guard's state.
    key = "guard"
    #: Whether a rollback snapshot holds (and restores) this guard's state.
    restorable = True

    @property
    def lr_scale(self) -> float:
        """The factor this guard applies to the scheduled learning rate."""
        return 1.0

    @abc.abstractmethod
    def update(self, step: int, metrics: dict[str, float], state: TrainingState) -> Action:
        """Look at the metrics of step ``step`` (1-based; ``metrics`` has ``loss`` and
        ``grad_norm``) before its update is applied; return what to do."""

    def log(self) -> dict[str, float]:
        """Counters added to every training record (e.g. the steps skipped so far)."""
        return {}

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The guard's state, written into the checkpoint under `key`."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Put back a state that `state_dict` returned."""


class SpikeGuard(Guard):
    r"""Skips optimiser steps whose gradient norm is an outlier.

    Keeps an exponential moving average $a$ (decay ``DECAY``, bias-corrected) of the
    global gradient norms, each capped at its step's threshold $k\,\hat a$; a step whose
    norm exceeds $k\,\hat a$ is skipped, from step ``WARMUP + 1`` on. A skipped step still
    counts and the data stream moves on. Under several processes every rank sees the same
    all-reduced norm and so takes the same decision.

    Args:
        factor: $k$; ``None`` never skips.
    """

    key = "spike_guard"
    DECAY = 0.98
    WARMUP = 20

    def __init__(self, factor: float | None) -> None:
        self.factor = factor
        self.average = 0.0
        self.count = 0
        self.skipped = 0

    def limit(self) -> float:
        """The norm above which the next step is skipped (``inf`` when off or warming up)."""
        if self.factor is None or self.count < self.WARMUP:
            return math.inf
        return self.factor * self.average / (1.0 - self.DECAY**self.count)

    def check(self, norm: float) -> bool:
        """Record this step's gradient norm; True if the step should be skipped."""
        if self.factor is None:
            return False
        limit = self.limit()
        self.count += 1
        self.average = self.DECAY * self.average + (1.0 - self.DECAY) * min(norm, limit)
        skip = norm > limit
        self.skipped += skip
        return skip

    def update(self, step: int, metrics: dict[str, float], state: TrainingState) -> Action:
        return Action(skip=True) if self.check(metrics["grad_norm"]) else CONTINUE

    def log(self) -> dict[str, float]:
        return {"skipped": self.skipped}

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average, "count": self.count, "skipped": self.skipped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average, self.count, self.skipped = float(state["average"]), int(state["count"]), int(state["skipped"])


class LearningRateDrop(Guard):
    r"""Drops the learning rate once a training metric is low.

    Watches the mean of one training metric over the last ``WINDOW`` steps; the first time
    it falls below ``threshold``, `lr_scale` becomes ``factor`` (and stays), from the next
    step on. The metrics are averaged over the ranks before they get here, so every
    process drops at the same step.

    Args:
        metric: the name of the training metric (``"loss"`` or one of the task's).
        threshold: the level that triggers the drop; ``None`` never drops.
        factor: the factor applied to the learning rate after the drop.
    """

    key = "lr_drop"
    WINDOW = 20

    def __init__(self, metric: str, threshold: float | None, factor: float) -> None:
        self.metric, self.threshold, self.factor = metric, threshold, factor
        self.recent: list[float] = []
        self.dropped_at: int | None = None

    @property
    def scale(self) -> float:
        """The current multiplier of the learning rate: 1 before the drop, ``factor`` after."""
        return 1.0 if self.dropped_at is None else self.factor

    lr_scale = scale

    def observe(self, step: int, metrics: dict[str, float]) -> None:
        """Record the metrics of (1-based) step ``step``; drop if the window's mean is low enough."""
        if self.threshold is None or self.dropped_at is not None:
            return
        if self.metric not in metrics:
            raise ValueError(f"fit: lr_drop_metric {self.metric!r} is not a training metric; the task reports "
                             f"{sorted(metrics)}")
        self.recent = (self.recent + [float(metrics[self.metric])])[-self.WINDOW:]
        if len(self.recent) == self.WINDOW and sum(self.recent) / self.WINDOW < self.threshold:
            self.dropped_at = step

    def update(self, step: int, metrics: dict[str, float], state: TrainingState) -> Action:
        self.observe(step, metrics)
        return CONTINUE

    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "dropped_at": self.dropped_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent, self.dropped_at = list(state["recent"]), state["dropped_at"]


class Rollback(Guard):
    r"""Rolls a run back to its last healthy snapshot when the loss climbs.

    Keeps an exponential moving average $a$ (decay ``DECAY``, bias-corrected) of the
    training losses and its lowest value so far, $a^\ast$ (from step ``WARMUP`` on). When
    the median of the last ``WINDOW`` losses exceeds $k\,a^\ast$ it restores the snapshot
    (the model, the optimiser, the other guards and the task's state), multiplies the
    learning rate by ``lr_factor`` (for the rest of the run: every rollback multiplies
    again) and the run goes on with the next step's batch (the data stream is not
    rewound). The median makes one or two outlying batches harmless; measuring against the
    best level, not the current average, catches a slow climb too.

    Snapshots are taken every ``every`` steps when the recent losses are healthy (their
    median at most ``HEALTHY`` times $a^\ast$), so the state restored predates the climb.
    After a rollback the statistics start afresh (a new warm-up of ``WARMUP`` steps): the
    restored state is judged by its own losses. The snapshot is part of `state_dict`, so a
    resumed run can still roll back. Put it first among the guards: its snapshot must
    hold the others' state from before the step.

    Reference: Chowdhery et al. (2022), "PaLM: Scaling language modeling with pathways",
    §5.1 (restart from a checkpoint before the spike and carry on with other batches).

    Args:
        factor: $k$; ``None`` never rolls back.
        every: steps between snapshots.
        lr_factor: the learning-rate multiplier applied at each rollback.
    """

    key = "rollback"
    restorable = False  # its statistics are judged afresh after a rollback, and it holds the snapshot
    DECAY = 0.95
    WARMUP = 50
    WINDOW = 5
    HEALTHY = 1.5

    def __init__(self, factor: float | None, every: int = 50, lr_factor: float = 0.5) -> None:
        self.factor, self.every, self.lr_factor = factor, every, lr_factor
        self.average = 0.0
        self.count = 0
        self.best = math.inf
        self.recent: list[float] = []
        self.scale = 1.0
        self.rollbacks = 0
        self.snapshot: dict[str, Any] | None = None

    @property
    def enabled(self) -> bool:
        return self.factor is not None

    @property
    def lr_scale(self) -> float:
        return self.scale

    def reference(self) -> float:
        """The lowest bias-corrected running average of the losses so far (``inf`` while warming up)."""
        return self.best

    def median(self) -> float:
        """The median of the last ``WINDOW`` losses."""
        ordered = sorted(self.recent)
        return ordered[len(ordered) // 2]

    def observe(self, loss: float) -> bool:
        """Record one training loss; True if the run should roll back now."""
        if not self.enabled:
            return False
        self.recent = (self.recent + [float(loss)])[-self.WINDOW:]
        self.count += 1
        self.average = self.DECAY * self.average + (1.0 - self.DECAY) * float(loss)
        if self.count >= self.WARMUP:
            self.best = min(self.best, self.average / (1.0 - self.DECAY**self.count))
        return (self.snapshot is not None and len(self.recent) == self.WINDOW
                and self.median() > self.factor * self.best)

    def snapshot_due(self, step: int) -> bool:
        """Whether to take a snapshot before step ``step`` (0-based): every ``every`` steps,
        when the recent losses are healthy."""
        if not self.enabled or step % self.every:
            return False
        return len(self.recent) < self.WINDOW or self.median() <= self.HEALTHY * self.best

    def take(self, step: int, state: dict[str, Any]) -> None:
        """Keep ``state`` (already copied) as the snapshot of step ``step``."""
        self.snapshot = {"step": step, **state}

    def restore(self) -> dict[str, Any]:
        """Go back to the snapshot: reset the statistics, lower the scale; returns the snapshot."""
        snapshot = self.snapshot
        self.average, self.count, self.best = 0.0, 0, math.inf
        self.recent = []
        self.scale *= self.lr_factor
        self.rollbacks += 1
        return snapshot

    def update(self, step: int, metrics: dict[str, float], state: TrainingState) -> Action:
        if not self.enabled:
            return CONTINUE
        if self.snapshot_due(step - 1):
            self.take(step - 1, state.capture())
        if not self.observe(metrics["loss"]):
            return CONTINUE
        median, best = self.median(), self.reference()
        snapshot = self.restore()
        state.restore(copy.deepcopy({k: v for k, v in snapshot.items() if k != "step"}))
        return Action(
            restored=True,
            record={"step": step, "rollback_to": snapshot["step"], "lr_scale": self.scale, "rollbacks": self.rollbacks},
            message=(f"step {step}: the median of the last {self.WINDOW} training losses ({median:.4g}) exceeds "
                     f"{self.factor:g} x the lowest running average ({best:.4g}); rolled back to step "
                     f"{snapshot['step']}, learning rate x{self.scale:.3g} from now on"),
        )

    def log(self) -> dict[str, float]:
        return {"rollbacks": self.rollbacks} if self.enabled else {}

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average, "count": self.count, "best": self.best, "recent": list(self.recent),
                "scale": self.scale, "rollbacks": self.rollbacks, "snapshot": self.snapshot}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average, self.count, self.best = float(state["average"]), int(state["count"]), float(state["best"])
        self.recent, self.scale = [float(v) for v in state["recent"]], float(state["scale"])
        self.rollbacks, self.snapshot = int(state["rollbacks"]), state["snapshot"]


@dataclass
class GuardConfig(TrainConfig):
    """The training loop's settings plus the stabilisers' (see `make_guards`).

    Args:
        skip_spikes: skip the optimiser step when the global gradient norm exceeds this
            multiple of its running average (`SpikeGuard`; ``None``: off).
        lr_drop_below: multiply the learning rate by ``lr_drop_factor``, once, as soon as
            the mean of the training metric ``lr_drop_metric`` over the last 20 steps falls
            below this value (`LearningRateDrop`; ``None``: never).
        lr_drop_metric: the training metric ``lr_drop_below`` watches (``"loss"`` or one
            of the task's metrics).
        lr_drop_factor: the factor of that drop.
        rollback: roll the run back to its last healthy snapshot when the median of the
            last 5 training losses exceeds this multiple of the lowest running average of
            the loss so far (`Rollback`; ``None``: off).
        rollback_every: steps between the rollback's snapshots.
        rollback_lr_factor: multiply the learning rate by this at every rollback.
    """

    skip_spikes: float | None = option(None, low=0.0, open_low=True)
    lr_drop_below: float | None = option(None)
    lr_drop_metric: str = option("loss")
    lr_drop_factor: float = option(0.1, low=0.0, high=1.0, open_low=True)
    rollback: float | None = option(None, low=1.0, open_low=True)
    rollback_every: int = option(50, low=1)
    rollback_lr_factor: float = option(0.5, low=0.0, high=1.0, open_low=True)


def make_guards(cfg: TrainConfig) -> list[Guard]:
    """The guards a config turns on, in the order `fit` must ask them (`Rollback` first).

    A config without the `GuardConfig` fields has none.
    """
    if not isinstance(cfg, GuardConfig):
        return []
    guards: list[Guard] = []
    if cfg.rollback is not None:
        guards.append(Rollback(cfg.rollback, cfg.rollback_every, cfg.rollback_lr_factor))
    if cfg.skip_spikes is not None:
        guards.append(SpikeGuard(cfg.skip_spikes))
    if cfg.lr_drop_below is not None:
        guards.append(LearningRateDrop(cfg.lr_drop_metric, cfg.lr_drop_below, cfg.lr_drop_factor))
    return guards
