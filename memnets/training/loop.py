"""The shared training loop: every task script of memnets trains through `fit`.

One loop for all families: optimiser choice, gradient clipping by value and by norm, a
curriculum hook, periodic evaluation, a tqdm progress bar with live metrics, metrics
appended to a JSON-lines file, atomic checkpoints every K steps and on Ctrl-C, a
``--resume`` that continues bit for bit, and a clear stop on a non-finite loss that keeps
the last good checkpoint.

Reproducibility: the data of step ``s`` come from a generator seeded with
``(seed, s)`` alone, so a resumed run sees exactly the batches an uninterrupted run
would have seen; the global torch RNG (dropout, random memory initialisation) is saved
in the checkpoint and restored.

Scaling up: the same loop runs under ``torchrun`` with DistributedDataParallel (every rank
draws the global batch of a step and keeps its slice, see `Task.shard`; rank 0 alone
writes metrics and checkpoints), compiles the models' per-step functions with
``--compile`` (`compile_steps`) and runs the forward
pass under bf16 autocast with ``--amp bf16``.
"""

from __future__ import annotations

import abc
import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from memnets.training.checkpoint import CHECKPOINT_FORMAT, atomic_save, load_checkpoint, model_spec
from memnets.training.compilation import compile_steps
from memnets.training.config import AMP_DTYPES, TrainConfig, learning_rate, resolve_device
from memnets.training.distributed import DistributedContext, get_world_size, process_group, shard_batch
from memnets.training.optim import make_optimizer

__all__ = ["Task", "FitResult", "NonFiniteLossError", "SpikeGuard", "LearningRateDrop", "Rollback", "fit",
           "step_generator", "EVAL_SEED"]

#: Seed of the generator used by every periodic evaluation (a fixed evaluation set).
EVAL_SEED = 2_147_483_647
_STEP_SEED_STRIDE = 1_000_003
#: Offset between the global-RNG seeds of ranks > 0 (dropout, random initial memories).
_RANK_SEED_OFFSET = 2**40


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator that supplies the training data of one step.

    Seeded from ``(seed, step)`` alone, so the data of a step do not depend on what ran
    before it: resuming, or skipping steps, gives the same batches.
    """
    return torch.Generator().manual_seed(seed * _STEP_SEED_STRIDE + step)


class NonFiniteLossError(RuntimeError):
    """Raised by `fit` when the loss or the gradient norm is NaN or infinite."""


class Task(abc.ABC):
    """What `fit` needs from a task: data, a loss, an evaluation.

    Subclass it and implement `sample` and `loss`; `evaluate`,
    `curriculum` and the state methods are optional. For multi-process training
    set `batch_dim` to where the batch dimension of `sample`'s tensors is,
    or override `shard`.
    """

    #: The batch dimension of the tensors `sample` returns, used by the default
    #: `shard`: one int for all of them (0 batch-first, 1 time-major), or a
    #: structure shaped like the batch (``BitBatch(inputs=1, targets=1, mask=1,
    #: lengths=0)``). ``None``: not declared; then only ``torch_geometric`` batches (split
    #: by graph) can be sharded, so that time is never split by mistake.
    batch_dim: Any = None

    @abc.abstractmethod
    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Any:
        """Draw one training batch with ``generator`` (a CPU generator) and put it on ``device``."""

    @abc.abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """Return the scalar loss to minimise and a dictionary of metrics to log."""

    def shard(self, batch: Any, rank: int, world_size: int) -> Any:
        """This rank's part of a global batch, in multi-process training.

        `fit` draws the *global* batch of every step on every rank (from the
        generator seeded with ``(seed, step)``) and trains each rank on its shard, so
        the ranks see disjoint data and a run matches the single-process run with the
        same global batch. The default cuts every tensor along `batch_dim` into
        ``world_size`` contiguous parts (`shard_batch`;
        it also splits ``torch_geometric`` batches by graph). For the averaged rank
        losses to equal the global loss, `loss` must be a mean over the batch's
        items (sequences, trees, graphs).
        """
        return shard_batch(batch, rank, world_size, self.batch_dim)

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        """Periodic evaluation (called in eval mode under ``torch.no_grad``); default: none."""
        return {}

    def curriculum(self, step: int, metrics: dict[str, float]) -> None:
        """Called after every step with the step's metrics (and evaluation results, when
        there are some); may change what `sample` draws. Default: no-op."""

    def state_dict(self) -> dict[str, Any]:
        """Plain-valued state that a checkpoint must carry (e.g. a curriculum's level)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""


@dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
        model: the trained model (the same object that was passed in).
        step: the number of optimiser steps done.
        history: every record appended to ``metrics.jsonl`` by this call.
        last_eval: the most recent evaluation's metrics.
    """

    model: nn.Module
    step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    last_eval: dict[str, float] = field(default_factory=dict)


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _truncate_jsonl(path: Path, step: int) -> None:
    """Drop the records after ``step`` (written after the checkpoint a run resumes from)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in kept))


class _InterruptFlag:
    """Turns Ctrl-C into a flag checked between steps, so the checkpoint is consistent."""

    def __init__(self) -> None:
        self.raised = False
        self._previous = None

    def __enter__(self) -> "_InterruptFlag":
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread
            self._previous = None
        return self

    def _handle(self, signum, frame) -> None:
        if self.raised:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.raised = True

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class SpikeGuard:
    r"""Skips optimiser steps whose gradient norm is an outlier (``TrainConfig.skip_spikes``).

    Keeps an exponential moving average $a$ (decay ``DECAY``, bias-corrected) of the
    global gradient norms, each capped at its step's threshold $k\,\hat a$; a step whose
    norm exceeds $k\,\hat a$ is skipped, from step ``WARMUP + 1`` on. Under several
    processes every rank sees the same all-reduced norm and so takes the same decision.

    Args:
        factor: $k$; ``None`` never skips.
    """

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

    def state_dict(self) -> dict[str, float]:
        return {"average": self.average, "count": self.count, "skipped": self.skipped}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.average, self.count, self.skipped = float(state["average"]), int(state["count"]), int(state["skipped"])


class LearningRateDrop:
    r"""Drops the learning rate once a training metric is low (``TrainConfig.lr_drop_below``).

    Watches the mean of one training metric over the last ``WINDOW`` steps; the first time
    it falls below ``threshold``, `scale` becomes ``factor`` (and stays). The loop multiplies
    the scheduled learning rate by `scale`. The metrics are averaged over the ranks before
    they get here, so every process drops at the same step.

    Args:
        metric: the name of the training metric (``"loss"`` or one of the task's).
        threshold: the level that triggers the drop; ``None`` never drops.
        factor: the factor applied to the learning rate after the drop.
    """

    WINDOW = 20

    def __init__(self, metric: str, threshold: float | None, factor: float) -> None:
        self.metric, self.threshold, self.factor = metric, threshold, factor
        self.recent: list[float] = []
        self.dropped_at: int | None = None

    @property
    def scale(self) -> float:
        """The current multiplier of the learning rate: 1 before the drop, ``factor`` after."""
        return 1.0 if self.dropped_at is None else self.factor

    def update(self, step: int, metrics: dict[str, float]) -> None:
        """Record the metrics of (1-based) step ``step``; drop if the window's mean is low enough."""
        if self.threshold is None or self.dropped_at is not None:
            return
        if self.metric not in metrics:
            raise ValueError(f"fit: lr_drop_metric {self.metric!r} is not a training metric; the task reports "
                             f"{sorted(metrics)}")
        self.recent = (self.recent + [float(metrics[self.metric])])[-self.WINDOW:]
        if len(self.recent) == self.WINDOW and sum(self.recent) / self.WINDOW < self.threshold:
            self.dropped_at = step

    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "dropped_at": self.dropped_at}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent, self.dropped_at = list(state["recent"]), state["dropped_at"]


class Rollback:
    r"""Rolls a run back to its last healthy snapshot when the loss climbs (``TrainConfig.rollback``).

    Keeps an exponential moving average $a$ (decay ``DECAY``, bias-corrected) of the
    training losses and its lowest value so far, $a^\ast$ (from step ``WARMUP`` on), the
    level the run has reached. When the median of the last ``WINDOW`` losses exceeds
    $k\,a^\ast$ the loop restores the snapshot (the model, the optimiser, the other guards
    and the task's state), multiplies the learning rate by ``lr_factor``
    (for the rest of the run: every rollback multiplies again) and goes on with the next
    step's batch. The median makes one or two outlying batches harmless; a run that starts
    to oscillate or falls back to chance keeps it high. Measuring the climb against the
    best level, not the current average, catches a slow climb too (an average would rise
    with it).

    Snapshots are taken every ``every`` steps when the recent losses are healthy (their
    median at most ``HEALTHY`` times $a^\ast$), so the state restored predates the climb.
    After a rollback the average and its lowest value start afresh (with a new warm-up of
    ``WARMUP`` steps): the restored state is judged by its own losses.
    The loop keeps the snapshot in its checkpoint, so ``--resume`` can still roll back.
    Under several processes the losses are averaged over the ranks before they get here,
    so every rank decides alike. With a curriculum the loss rises whenever the task grows;
    a rollback restores the curriculum's level as well.

    Reference: Chowdhery et al. (2022), PaLM, §5.1 (restart from a checkpoint before the
    spike and carry on with other batches).

    Args:
        factor: $k$; ``None`` never rolls back.
        every: steps between snapshots.
        lr_factor: the learning-rate multiplier applied at each rollback.
    """

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

    def reference(self) -> float:
        """The lowest bias-corrected running average of the losses so far (``inf`` while warming up)."""
        return self.best

    def median(self) -> float:
        """The median of the last ``WINDOW`` losses."""
        ordered = sorted(self.recent)
        return ordered[len(ordered) // 2]

    def update(self, loss: float) -> bool:
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
        """Whether to take a snapshot before step ``step``: every ``every`` steps, when the
        recent losses are healthy."""
        if not self.enabled or step % self.every:
            return False
        return len(self.recent) < self.WINDOW or self.median() <= self.HEALTHY * self.best

    def take(self, step: int, state: dict[str, Any]) -> None:
        """Keep ``state`` (already copied) as the snapshot of step ``step``."""
        self.snapshot = {"step": step, **state}

    def restore(self) -> dict[str, Any]:
        """Go back to the snapshot: reset the average, lower the scale; returns the snapshot."""
        snapshot = self.snapshot
        # The statistics start afresh: the restored run is judged against its own losses from
        # now on (a restored state whose loss stays above k times the old best would otherwise
        # roll back again and again, halving the rate each time).
        self.average, self.count, self.best = 0.0, 0, math.inf
        self.recent = []
        self.scale *= self.lr_factor
        self.rollbacks += 1
        return snapshot

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average, "count": self.count, "best": self.best, "recent": list(self.recent),
                "scale": self.scale, "rollbacks": self.rollbacks, "snapshot": self.snapshot}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average, self.count, self.best = float(state["average"]), int(state["count"]), float(state["best"])
        self.recent, self.scale = [float(v) for v in state["recent"]], float(state["scale"])
        self.rollbacks, self.snapshot = int(state["rollbacks"]), state["snapshot"]


def fit(model: nn.Module, task: Task, cfg: TrainConfig) -> FitResult:
    """Train ``model`` on ``task`` with the settings in ``cfg``.

    Writes into ``cfg.out``: ``model.pt`` (checkpoint: model class and arguments, weights,
    optimiser, step, RNG and task state; read by `memnets.load`),
    ``metrics.jsonl`` (one record per ``log_every`` steps with the loss and the task's
    metrics, and one per evaluation with keys prefixed ``eval/``).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) it joins the process group (gloo on the CPU,
    nccl on CUDA), trains a DistributedDataParallel copy of the model on every rank with
    ``cfg.batch_size / world_size`` items of each global batch, logs the metrics averaged
    over the ranks, writes files on rank 0 only, and leaves the group when it returns or
    raises. The checkpoint holds the plain model's weights and resumes under any world size.

    Args:
        model: a module whose class is decorated with
            `register_model`.
        task: the `Task`.
        cfg: the `TrainConfig`.

    Returns:
        A `FitResult`.

    Raises:
        NonFiniteLossError: on a NaN or infinite loss or gradient norm; the checkpoint on
            disk is the last good one.
        KeyboardInterrupt: after Ctrl-C, once the checkpoint has been written.
        ValueError: if ``cfg.batch_size`` is not divisible by the number of processes.
    """
    spec = model_spec(model)  # fail early if the model cannot be checkpointed
    world_size = get_world_size()
    if cfg.batch_size % world_size:
        raise ValueError(f"fit: expected batch_size (the global batch) divisible by the world size {world_size}, "
                         f"got {cfg.batch_size}")
    with process_group(resolve_device(cfg.device)) as ctx:
        return _fit(model, task, cfg, spec, ctx)


def _fit(model: nn.Module, task: Task, cfg: TrainConfig, spec: dict[str, Any], ctx: DistributedContext) -> FitResult:
    """The body of `fit`, once the process group (if any) is up."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path, jsonl_path = out / "model.pt", out / "metrics.jsonl"
    device = ctx.device
    model.to(device)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay,
                               adam_beta1=cfg.adam_beta1, adam_beta2=cfg.adam_beta2, rmsprop_eps=cfg.rmsprop_eps)

    step, last_eval = 0, {}
    guard = SpikeGuard(cfg.skip_spikes)
    drop = LearningRateDrop(cfg.lr_drop_metric, cfg.lr_drop_below, cfg.lr_drop_factor)
    rollback = Rollback(cfg.rollback, cfg.rollback_every, cfg.rollback_lr_factor)
    if cfg.resume and ckpt_path.exists():
        checkpoint = load_checkpoint(ckpt_path, map_location=device)
        if checkpoint["model"] != spec:
            raise ValueError(f"fit: cannot resume: checkpoint holds {checkpoint['model']}, the model is {spec}")
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        task.load_state_dict(checkpoint["task_state"])
        _set_rng_state(checkpoint["rng"], device)
        step, last_eval = checkpoint["step"], dict(checkpoint.get("last_eval", {}))
        if "spike_guard" in checkpoint:
            guard.load_state_dict(checkpoint["spike_guard"])
        if "lr_drop" in checkpoint:
            drop.load_state_dict(checkpoint["lr_drop"])
        if "rollback" in checkpoint:
            rollback.load_state_dict(checkpoint["rollback"])
        if ctx.is_main:
            _truncate_jsonl(jsonl_path, step)
    elif jsonl_path.exists() and ctx.is_main:
        jsonl_path.unlink()
    if ctx.rank > 0:  # rank 0 keeps the single-process RNG stream; the others get their own
        torch.manual_seed(cfg.seed * _STEP_SEED_STRIDE + step + ctx.rank * _RANK_SEED_OFFSET)
    if cfg.compile:
        compile_steps(model)
    train_model = ctx.wrap(model)  # DistributedDataParallel with several processes, else the model
    amp_dtype = AMP_DTYPES[cfg.amp]
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    def save() -> None:
        if ctx.is_main:
            atomic_save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "model": spec,
                    "state_dict": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step,
                    "rng": _rng_state(device),
                    "task_state": task.state_dict(),
                    "config": dataclasses.asdict(cfg),
                    "world_size": ctx.world_size,
                    "last_eval": last_eval,
                    "spike_guard": guard.state_dict(),
                    "lr_drop": drop.state_dict(),
                    "rollback": rollback.state_dict(),
                },
                ckpt_path,
            )
        ctx.barrier()

    history: list[dict[str, Any]] = []
    start, start_step = time.perf_counter(), step
    bar = tqdm(total=cfg.steps, initial=step, disable=not (cfg.progress and ctx.is_main), dynamic_ncols=True,
               desc=out.name)
    try:
        with open(jsonl_path if ctx.is_main else os.devnull, "a") as log, _InterruptFlag() as interrupt:

            def record(entry: dict[str, Any]) -> None:
                history.append(entry)
                log.write(json.dumps(entry) + "\n")
                log.flush()

            def evaluate() -> dict[str, float]:
                results: dict[str, float] = {}
                if ctx.is_main:  # rank 0 evaluates, the others take its results
                    model.eval()
                    with torch.no_grad():
                        results = task.evaluate(model, torch.Generator().manual_seed(EVAL_SEED), device)
                    model.train()
                    results = {k: float(v) for k, v in results.items()}
                return ctx.broadcast(results)

            def take_snapshot() -> None:
                rollback.take(step, {
                    "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
                    "optimizer": copy.deepcopy(optimizer.state_dict()),
                    "spike_guard": guard.state_dict(),
                    "lr_drop": drop.state_dict(),  # a copy already, as load_state_dict takes one
                    "task_state": copy.deepcopy(task.state_dict()),
                })

            def roll_back() -> None:
                median, best = rollback.median(), rollback.reference()
                snapshot = rollback.restore()
                model.load_state_dict(snapshot["state_dict"])
                optimizer.load_state_dict(copy.deepcopy(snapshot["optimizer"]))
                guard.load_state_dict(snapshot["spike_guard"])
                drop.load_state_dict(snapshot["lr_drop"])
                task.load_state_dict(copy.deepcopy(snapshot["task_state"]))
                record({"step": step + 1, "rollback_to": snapshot["step"], "lr_scale": rollback.scale,
                        "rollbacks": rollback.rollbacks})
                if ctx.is_main:
                    bar.write(f"step {step + 1}: the median of the last {Rollback.WINDOW} training losses ({median:.4g}) "
                              f"exceeds {rollback.factor:g} x the lowest running average ({best:.4g}); "
                              f"rolled back to step {snapshot['step']}, learning rate x{rollback.scale:.3g} from now on")

            while step < cfg.steps:
                if rollback.snapshot_due(step):
                    take_snapshot()
                train_model.train()
                batch = task.sample(cfg.batch_size, step_generator(cfg.seed, step), device)
                if ctx.enabled:
                    batch = task.shard(batch, ctx.rank, ctx.world_size)
                with autocast:
                    loss, metrics = task.loss(train_model, batch)
                # Averaged over the ranks, so that every rank takes the same decisions below.
                metrics = ctx.mean({"loss": loss.item(), **{k: float(v) for k, v in metrics.items()}})
                if not math.isfinite(metrics["loss"]):
                    raise NonFiniteLossError(
                        f"fit: the loss became {metrics['loss']} at step {step + 1}; stopping. "
                        f"The last good checkpoint ({ckpt_path}) is kept."
                    )
                rolled_back = rollback.update(metrics["loss"])
                grad_norm = None
                if rolled_back:  # restore the snapshot; this step's batch is not trained on
                    del loss
                    roll_back()
                else:
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()  # DistributedDataParallel averages the gradients over the ranks
                    if cfg.clip_value is not None:
                        nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
                    max_norm = cfg.clip_norm if cfg.clip_norm is not None else float("inf")
                    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm).item()  # one sync a step
                    if not math.isfinite(grad_norm):
                        raise NonFiniteLossError(
                            f"fit: the gradient norm became {grad_norm} at step {step + 1}; stopping. "
                            f"The last good checkpoint ({ckpt_path}) is kept."
                        )
                    skip = guard.check(grad_norm)
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate(cfg, step) * drop.scale * rollback.scale
                    if not skip:
                        optimizer.step()
                step += 1
                if not rolled_back:
                    drop.update(step, metrics)
                curriculum_metrics = metrics
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    last_eval = evaluate()
                    eval_metrics = {f"eval/{k}": v for k, v in last_eval.items()}
                    record({"step": step, "time": time.perf_counter() - start, **eval_metrics})
                    curriculum_metrics = {**metrics, **eval_metrics}
                if not rolled_back:  # a rolled-back step trained on nothing: the task does not advance
                    task.curriculum(step, curriculum_metrics)
                if step % cfg.log_every == 0:
                    elapsed = time.perf_counter() - start
                    record({"step": step, "samples": step * cfg.batch_size, "time": elapsed,
                            **({"grad_norm": grad_norm} if grad_norm is not None else {}),
                            "lr": optimizer.param_groups[0]["lr"],
                            **({"skipped": guard.skipped} if cfg.skip_spikes is not None else {}),
                            **({"rollbacks": rollback.rollbacks} if rollback.enabled else {}), **metrics})
                    rate = (step - start_step) / max(elapsed, 1e-9)
                    bar.set_postfix({**{k: f"{v:.3g}" for k, v in metrics.items()}, "it/s": f"{rate:.1f}"},
                                    refresh=False)
                bar.update(1)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    save()
                if ctx.any(interrupt.raised):  # every rank stops at the same step
                    save()
                    bar.close()
                    if ctx.is_main:
                        print(f"Interrupted at step {step}; checkpoint written to {ckpt_path} (resume with --resume).")
                    raise KeyboardInterrupt
    finally:
        bar.close()
        # Drop the DistributedDataParallel wrapper now, while the process group still exists:
        # on an error the traceback would keep it alive until after the group is destroyed,
        # and then its last reference to the group would go at an arbitrary moment (see
        # process_group).
        train_model = None  # noqa: F841
    return FitResult(model=model, step=step, history=history, last_eval=last_eval)
