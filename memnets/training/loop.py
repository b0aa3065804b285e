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

import contextlib
import copy
import dataclasses
import math
import random
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from memnets.training.checkpoint import CHECKPOINT_FORMAT, atomic_save, check_run_directory, load_checkpoint, model_spec
from memnets.training.compilation import try_compile_steps
from memnets.training.config import AMP_DTYPES, TrainConfig, learning_rate, resolve_device
from memnets.training.distributed import DistributedContext, get_world_size, process_group
from memnets.training.guards import CONTINUE, Action, Guard
from memnets.training.logger import TENSORBOARD_DIR, RunLog, truncate_jsonl
from memnets.training.optim import make_optimizer
from memnets.training.task import Task

__all__ = ["EVAL_SEED", "FitResult", "NonFiniteLossError", "Task", "fit", "step_generator"]

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


class _Run:
    """The state a run carries: model, optimiser, task and guards; what a checkpoint and a
    rollback snapshot hold (the `TrainingState` the guards see)."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, task: Task, guards: Sequence[Guard],
                 device: torch.device) -> None:
        self.model, self.optimizer, self.task, self.guards, self.device = model, optimizer, task, guards, device

    def capture(self) -> dict[str, Any]:
        return {"state_dict": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "guards": {g.key: copy.deepcopy(g.state_dict()) for g in self.guards if g.restorable},
                "task_state": copy.deepcopy(self.task.state_dict())}

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        for guard in self.guards:
            if guard.key in state.get("guards", {}):
                guard.load_state_dict(state["guards"][guard.key])
        self.task.load_state_dict(state["task_state"])

    def checkpoint(self, step: int, spec: dict[str, Any], cfg: TrainConfig, world_size: int,
                   last_eval: dict[str, float]) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "step": step, "rng": _rng_state(self.device),
                "task_state": self.task.state_dict(), "config": dataclasses.asdict(cfg), "world_size": world_size,
                "last_eval": last_eval, "guards": {g.key: g.state_dict() for g in self.guards}}

    def resume(self, path: Path, spec: dict[str, Any]) -> tuple[int, dict[str, float]]:
        checkpoint = load_checkpoint(path, map_location=self.device)
        if checkpoint["format"] != CHECKPOINT_FORMAT:
            raise ValueError(f"fit: cannot resume from {path}: it is a {checkpoint['format']!r} checkpoint without "
                             f"a digest or guard state; start a new run (--overwrite) or load it with memnets.load")
        if checkpoint["model"] != spec:
            raise ValueError(f"fit: cannot resume: {path} holds {checkpoint['model']}, the model is {spec}")
        self.restore({**checkpoint, "guards": checkpoint.get("guards", {})})
        _set_rng_state(checkpoint["rng"], self.device)
        return checkpoint["step"], dict(checkpoint.get("last_eval", {}))


def _prepare_outputs(out: Path, step: int, overwrite: bool) -> None:
    """Keep the records up to ``step`` (0: none); remove what an overwritten run left."""
    (out / "metrics.json").unlink(missing_ok=True)  # written again once the run has finished
    if step:
        truncate_jsonl(out / "metrics.jsonl", step)
        return
    (out / "metrics.jsonl").unlink(missing_ok=True)
    shutil.rmtree(out / TENSORBOARD_DIR, ignore_errors=True)
    if overwrite:
        (out / "model.pt").unlink(missing_ok=True)


def _stop_if_not_finite(name: str, value: float, step: int, path: Path) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(f"fit: the {name} became {value} at step {step + 1}; stopping. "
                                 f"The last good checkpoint ({path}) is kept.")


def _train_step(train_model: nn.Module, run: _Run, cfg: TrainConfig, ctx: DistributedContext, step: int,
                autocast: Any, path: Path) -> tuple[dict[str, float], float, Action]:
    """One optimiser step (unless a guard skips it or restores a snapshot); returns the
    step's metrics (averaged over the ranks), its gradient norm and the guards' action."""
    train_model.train()
    batch = run.task.sample(cfg.batch_size, step_generator(cfg.seed, step), ctx.device)
    if ctx.enabled:
        batch = run.task.shard(batch, ctx.rank, ctx.world_size)
    with autocast:
        loss, metrics = run.task.loss(train_model, batch)
    # Averaged over the ranks, so that every rank takes the same decisions below.
    metrics = ctx.mean({"loss": loss.item(), **{k: float(v) for k, v in metrics.items()}})
    _stop_if_not_finite("loss", metrics["loss"], step, path)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()  # DistributedDataParallel averages the gradients over the ranks
    if cfg.clip_value is not None:
        nn.utils.clip_grad_value_(run.model.parameters(), cfg.clip_value)
    max_norm = cfg.clip_norm if cfg.clip_norm is not None else math.inf
    grad_norm = nn.utils.clip_grad_norm_(run.model.parameters(), max_norm).item()  # one sync a step
    _stop_if_not_finite("gradient norm", grad_norm, step, path)
    lr = learning_rate(cfg, step) * math.prod(guard.lr_scale for guard in run.guards)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    action = CONTINUE
    for guard in run.guards:
        answer = guard.update(step + 1, {**metrics, "grad_norm": grad_norm}, run)
        action = answer if answer.restored else Action(skip=action.skip or answer.skip)
        if action.restored:
            break
    if not (action.skip or action.restored):
        run.optimizer.step()
    return metrics, grad_norm, action


def _evaluate(run: _Run, ctx: DistributedContext, log: RunLog, step: int) -> dict[str, float]:
    """The task's periodic evaluation on rank 0 (its figures to TensorBoard), shared with all ranks."""
    results: dict[str, float] = {}
    if ctx.is_main:
        run.model.eval()
        with torch.no_grad():
            results = run.task.evaluate(run.model, torch.Generator().manual_seed(EVAL_SEED), ctx.device)
            if log.wants_figures:
                for tag, figure in run.task.figures(run.model, ctx.device).items():
                    log.figure(tag, figure, step)
        run.model.train()
        results = {k: float(v) for k, v in results.items()}
    return ctx.broadcast(results)


def fit(model: nn.Module, task: Task, cfg: TrainConfig, guards: Sequence[Guard] = ()) -> FitResult:
    """Train ``model`` on ``task`` with the settings in ``cfg``.

    Writes into ``cfg.out``: ``model.pt`` (checkpoint: model class and arguments, weights,
    optimiser, step, RNG, task and guard state; read by `memnets.load`),
    ``metrics.jsonl`` (one record per ``log_every`` steps with the loss, the gradient norm,
    the learning rate and the task's metrics, and one per evaluation with keys prefixed
    ``eval/``) and, with ``cfg.tensorboard``, the same scalars and the task's `Task.figures`
    as TensorBoard event files in ``out/tensorboard``. A stale ``metrics.json`` is removed
    (the task script writes it once the run has finished).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) it joins the process group (gloo on the CPU,
    nccl on CUDA), trains a DistributedDataParallel copy of the model on every rank with
    ``cfg.batch_size / world_size`` items of each global batch, logs the metrics averaged
    over the ranks, writes files on rank 0 only, and leaves the group when it returns or
    raises. The checkpoint holds the plain model's weights and resumes under any world size.

    Args:
        model: a module whose class is decorated with `register_model`.
        task: the `Task`.
        cfg: the `TrainConfig`.
        guards: the stabilisers asked at every step, in order (see `memnets.training.guards`;
            `make_guards` builds them from a `GuardConfig`).

    Returns:
        A `FitResult`.

    Raises:
        NonFiniteLossError: on a NaN or infinite loss or gradient norm; the checkpoint on
            disk is the last good one.
        KeyboardInterrupt: after Ctrl-C, once the checkpoint has been written.
        ValueError: if ``cfg.batch_size`` is not divisible by the number of processes, or
            ``cfg.out`` holds a checkpoint that neither ``cfg.resume`` nor ``cfg.overwrite``
            allows to touch (`check_run_directory`).
    """
    spec = model_spec(model)  # fail early if the model cannot be checkpointed
    world_size = get_world_size()
    if cfg.batch_size % world_size:
        raise ValueError(f"fit: expected batch_size (the global batch) divisible by the world size {world_size}, "
                         f"got {cfg.batch_size}")
    check_run_directory(cfg.out, resume=cfg.resume, overwrite=cfg.overwrite, steps=cfg.steps)
    with process_group(resolve_device(cfg.device)) as ctx:
        return _fit(model, task, cfg, list(guards), spec, ctx)


def _compile(model: nn.Module, device: torch.device, report: bool) -> None:
    """Compile the model's steps, or say why not and leave it eager."""
    reason = try_compile_steps(model, device)
    if reason is not None and report:
        print(f"torch.compile is not available here ({reason}); training eager, which is slower "
              f"but trains the same model (--no-compile silences this)", file=sys.stderr, flush=True)


def _fit(model: nn.Module, task: Task, cfg: TrainConfig, guards: list[Guard], spec: dict[str, Any],
         ctx: DistributedContext) -> FitResult:
    """The body of `fit`, once the process group (if any) is up."""
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    out, device = Path(cfg.out), ctx.device
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.pt"
    model.to(device)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay,
                               adam_beta1=cfg.adam_beta1, adam_beta2=cfg.adam_beta2, rmsprop_eps=cfg.rmsprop_eps)
    run = _Run(model, optimizer, task, guards, device)
    step, last_eval = run.resume(path, spec) if cfg.resume and path.exists() else (0, {})
    if ctx.is_main:
        _prepare_outputs(out, step, cfg.overwrite)
    ctx.barrier()
    if ctx.rank > 0:  # rank 0 keeps the single-process RNG stream; the others get their own
        torch.manual_seed(cfg.seed * _STEP_SEED_STRIDE + step + ctx.rank * _RANK_SEED_OFFSET)
    if cfg.compile:
        _compile(model, device, ctx.is_main)
    train_model = ctx.wrap(model)  # DistributedDataParallel with several processes, else the model
    amp_dtype = AMP_DTYPES[cfg.amp]
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    def save() -> None:
        if ctx.is_main:
            atomic_save(run.checkpoint(step, spec, cfg, ctx.world_size, last_eval), path)
        ctx.barrier()

    log = RunLog(out, enabled=ctx.is_main, tensorboard=cfg.tensorboard, start_step=step)
    start, start_step = time.perf_counter(), step
    bar = tqdm(total=cfg.steps, initial=step, disable=not (cfg.progress and ctx.is_main), dynamic_ncols=True,
               desc=out.name)
    try:
        with _InterruptFlag() as interrupt:
            while step < cfg.steps:
                metrics, grad_norm, action = _train_step(train_model, run, cfg, ctx, step, autocast, path)
                step += 1
                if action.record is not None:
                    log.record(action.record)
                if action.message is not None and ctx.is_main:
                    bar.write(action.message)
                seen = metrics
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    last_eval = _evaluate(run, ctx, log, step)
                    seen = {**metrics, **{f"eval/{k}": v for k, v in last_eval.items()}}
                    log.record({"step": step, "time": time.perf_counter() - start,
                                **{f"eval/{k}": v for k, v in last_eval.items()}})
                if not action.restored:  # a restored step trained on nothing: the task does not advance
                    task.curriculum(step, seen)
                if step % cfg.log_every == 0:
                    elapsed = time.perf_counter() - start
                    log.record({"step": step, "samples": step * cfg.batch_size, "time": elapsed,
                                **({} if action.restored else {"grad_norm": grad_norm}),
                                "lr": optimizer.param_groups[0]["lr"],
                                **{k: v for g in guards for k, v in g.log().items()}, **metrics})
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
                        print(f"Interrupted at step {step}; checkpoint written to {path} (resume with --resume).")
                    raise KeyboardInterrupt
    finally:
        bar.close()
        log.close()
        # Drop the DistributedDataParallel wrapper now, while the process group still exists:
        # on an error the traceback would keep it alive until after the group is destroyed,
        # and then its last reference to the group would go at an arbitrary moment (see
        # process_group).
        train_model = None  # noqa: F841
    return FitResult(model=model, step=step, history=log.history, last_eval=last_eval)
