"""Training configuration: one dataclass, overridable from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

import torch

__all__ = ["AMP_DTYPES", "TrainConfig", "parse_config", "resolve_device"]

C = TypeVar("C", bound="TrainConfig")

#: Learning-rate schedules of ``TrainConfig.lr_schedule``.
LR_SCHEDULES = ("constant", "cosine")

#: Optimisers `make_optimizer` builds.
OPTIMIZERS = ("adam", "amsgrad", "rmsprop", "sgd")

#: Mixed-precision settings of ``TrainConfig.amp``: the autocast dtype of each.
AMP_DTYPES = {None: None, "bf16": torch.bfloat16}


@dataclass
class TrainConfig:
    r"""Settings of the shared training loop; task scripts subclass it with their own fields.

    Args:
        out: output folder: ``model.pt`` (the checkpoint), ``metrics.jsonl`` (one JSON
            record per logged step and per evaluation), ``metrics.json`` (the final
            evaluation) and the plots.
        seed: seeds the model's initialisation (in the task script) and the data stream.
        steps: number of optimiser steps.
        batch_size: sequences (or trees, graphs) per step.
        optimizer: ``"adam"``, ``"amsgrad"``, ``"rmsprop"`` (the centred form of Graves 2013,
            `GravesRMSprop`) or ``"sgd"``.
        lr: learning rate.
        momentum: momentum of RMSprop and SGD.
        weight_decay: L2 penalty handed to the optimiser.
        adam_beta1: Adam's (and AMSGrad's) first-moment decay $\beta_1$ (default 0.9). A
            larger $\beta_1$ averages the gradient noise over more steps and raises the
            sharpness that Adam tolerates before its iterates oscillate, about
            $(2 + 2\beta_1) / ((1 - \beta_1)\,\eta)$ (Cohen et al. 2022, "Adaptive gradient
            methods at the edge of stability"): 38/lr at 0.9, 99/lr at 0.98. On the NTM's
            copy task 0.98 made two stable seeds unstable (the NTM page of the docs).
        adam_beta2: Adam's (and AMSGrad's) second-moment decay $\beta_2$ (default 0.999).
        rmsprop_eps: the constant $\daleth$ that `GravesRMSprop` adds inside its square
            root. Graves (2013) used $10^{-4}$ with a loss summed over each sequence; the
            bit tasks' loss is a mean over the answer bits, a few hundred times smaller, and
            its gradients' spread (about $10^{-5}$ to $10^{-3}$ per weight for the NTM on
            repeat copy) sits far below $\sqrt{10^{-4}} = 0.01$, so $10^{-4}$ would turn
            RMSprop into plain momentum SGD with a 20 to 200 times smaller step. Hence
            $10^{-8}$ by default, the scale of ``torch.optim.RMSprop``'s constant.
        clip_norm: clip the global gradient norm to this value (``None``: off).
        clip_value: clip every gradient element to ``[-clip_value, clip_value]``
            (``None``: off), applied before norm clipping.
        skip_spikes: skip the optimiser step when the global gradient norm exceeds this
            multiple of its running average (``None``: off). The average is an
            exponential moving average (decay 0.98, bias-corrected) of the previous steps'
            norms, each capped at the threshold of its step; the check starts at step 21.
            A skipped step still counts and the data stream moves on; ``metrics.jsonl``
            records the number skipped so far. Why: a step onto a cliff of the loss (sharp
            NTM addressing) gives a gradient tens to hundreds of times the usual size, and
            Adam turns even a clipped spike into a step of several learning rates on the
            parameters whose gradients are usually small; skipping leaves them alone.
            Every skipped step raises the average by about 8 % (at a factor of 5), so a
            lasting change of the gradients' scale is followed within a few dozen steps.
        lr_drop_below: multiply the learning rate by ``lr_drop_factor``, once, as soon as
            the mean of the training metric ``lr_drop_metric`` over the last 20 steps falls
            below this value (``None``: never). On top of ``lr_schedule``. Why: once the
            NTM has solved copy, the peak learning rate that found the solution quickly is
            too large for the sharp minimum it sits in, and the loss starts to oscillate
            and can climb back to chance (`LearningRateDrop`).
        lr_drop_metric: the training metric ``lr_drop_below`` watches (``"loss"``, or one
            of the task's metrics, e.g. ``"wrong_bits"``).
        lr_drop_factor: the factor of that drop.
        rollback: roll the run back to its last healthy snapshot when the median of the
            last 5 training losses exceeds this multiple of the lowest running average of
            the loss so far (``None``: off; `Rollback`). The restored run multiplies its learning rate by
            ``rollback_lr_factor`` and carries on with new batches (the data stream is not
            rewound), as Chowdhery et al. (2022, PaLM, §5.1) did after loss spikes. Why: an
            NTM that has solved copy can start to oscillate and, thirty steps later, fall
            back to chance, where it stays for hundreds of steps.
        rollback_every: take a snapshot (model, optimiser, the guards' state, the task's
            state) every this many steps, when the recent losses are healthy.
        rollback_lr_factor: multiply the learning rate by this at every rollback.
        eval_every: run the task's evaluation every this many steps (and at the end).
        checkpoint_every: write the checkpoint every this many steps (and at the end,
            and on Ctrl-C).
        log_every: append a training record to ``metrics.jsonl`` every this many steps.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
        resume: continue from ``out/model.pt`` if it exists, bit for bit.
        progress: show a tqdm progress bar.
        threads: CPU threads for torch's intra-op parallelism (``torch.set_num_threads``);
            ``None`` keeps torch's default. Models made of many small operations (the NTM
            step) run fastest on one thread per process.
        compile: compile the model's per-step function with ``torch.compile`` (the
            NTM step, the recurrent cells, the graph layers), not the unrolled sequence;
            see `compile_steps`.
        lr_schedule: ``"constant"``, or ``"cosine"``: the learning rate falls from ``lr``
            to ``lr * min_lr_ratio`` along half a cosine over ``steps``
            (Loshchilov & Hutter 2017, without restarts). It is computed from the step
            number alone, so a resumed run follows the same schedule.
        min_lr_ratio: the final learning rate of the cosine schedule, as a fraction of ``lr``.
        amp: ``None`` (full precision) or ``"bf16"``: run the forward pass and the loss
            under ``torch.autocast`` in bfloat16 (the NTM keeps its addressing in float32).
            Evaluation always runs in full precision.

    Multi-process training (``torchrun --nproc_per_node=N``) needs no setting:
    ``batch_size`` is the global batch and must be divisible by N.
    """

    out: str = "runs/default"
    seed: int = 0
    steps: int = 2000
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    rmsprop_eps: float = 1e-8
    clip_norm: float | None = 10.0
    clip_value: float | None = None
    skip_spikes: float | None = None
    lr_drop_below: float | None = None
    lr_drop_metric: str = "loss"
    lr_drop_factor: float = 0.1
    rollback: float | None = None
    rollback_every: int = 50
    rollback_lr_factor: float = 0.5
    eval_every: int = 200
    checkpoint_every: int = 500
    log_every: int = 10
    device: str = "auto"
    resume: bool = False
    progress: bool = True
    threads: int | None = None
    lr_schedule: str = "constant"
    min_lr_ratio: float = 0.05
    compile: bool = False
    amp: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "checkpoint_every", "log_every", "rollback_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "steps" else 1):
                raise ValueError(f"TrainConfig: expected {name} to be a positive integer, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig: expected optimizer in {OPTIMIZERS}, got {self.optimizer!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig: expected lr > 0, got {self.lr!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"TrainConfig: expected threads to be a positive integer or None, got {self.threads!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"TrainConfig: expected lr_schedule in {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"TrainConfig: expected 0 <= min_lr_ratio <= 1, got {self.min_lr_ratio!r}")
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"TrainConfig: expected amp in {tuple(AMP_DTYPES)}, got {self.amp!r}")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"TrainConfig: expected 0 <= {name} < 1, got {getattr(self, name)!r}")
        if not self.rmsprop_eps > 0:
            raise ValueError(f"TrainConfig: expected rmsprop_eps > 0, got {self.rmsprop_eps!r}")
        if not 0 < self.lr_drop_factor <= 1:
            raise ValueError(f"TrainConfig: expected 0 < lr_drop_factor <= 1, got {self.lr_drop_factor!r}")
        for name in ("clip_norm", "clip_value", "skip_spikes"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"TrainConfig: expected {name} > 0 or None, got {value!r}")
        if self.rollback is not None and not self.rollback > 1:
            raise ValueError(f"TrainConfig: expected rollback > 1 or None, got {self.rollback!r}")
        if not 0 < self.rollback_lr_factor <= 1:
            raise ValueError(f"TrainConfig: expected 0 < rollback_lr_factor <= 1, got {self.rollback_lr_factor!r}")


def _parse_optional(kind: type):
    def parse(text: str):
        if text.lower() in ("none", "null", "off"):
            return None
        return kind(text)

    parse.__name__ = kind.__name__
    return parse


def parse_config(cls: type[C], argv: Sequence[str] | None = None, description: str | None = None) -> C:
    """Build a config dataclass from command-line overrides (``--field value``).

    Every field of ``cls`` becomes an option named after it (``--batch-size`` and
    ``--batch_size`` both work); booleans take ``--flag`` / ``--no-flag``; optional
    numbers accept ``none``.

    Args:
        cls: a dataclass, usually a subclass of `TrainConfig`.
        argv: the arguments (default: ``sys.argv[1:]``).
        description: the ``--help`` text.

    Returns:
        An instance of ``cls``.

    Examples:
        >>> parse_config(TrainConfig, ["--steps", "10", "--no-progress"]).steps
        10
    """
    parser = argparse.ArgumentParser(description=description or cls.__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        names = [f"--{field.name.replace('_', '-')}"]
        if "_" in field.name:
            names.append(f"--{field.name}")
        # Unwrap ``X | None`` only; ``tuple[int, ...]`` keeps its own arguments.
        args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else ()
        optional = type(None) in args
        base = next((a for a in args if a is not type(None)), hint) if args else hint
        if base is bool:
            parser.add_argument(*names, dest=field.name, action=argparse.BooleanOptionalAction, default=default)
        elif typing.get_origin(base) in (list, tuple):
            inner = typing.get_args(base)[0]
            parser.add_argument(*names, dest=field.name, type=inner, nargs="+", default=default)
        else:
            kind: Any = _parse_optional(base) if optional else base
            parser.add_argument(*names, dest=field.name, type=kind, default=default)
    namespace = parser.parse_args(argv)
    values = vars(namespace)
    for field in dataclasses.fields(cls):
        if isinstance(values[field.name], list) and isinstance(field.default, tuple):
            values[field.name] = tuple(values[field.name])
    return cls(**values)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` becomes CUDA when available, else CPU; anything else is passed to torch.

    Raises:
        ValueError: if CUDA is asked for and not available.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"expected an available device, got {device!r} but CUDA is not available")
    return resolved


def learning_rate(cfg: TrainConfig, step: int) -> float:
    r"""The learning rate of optimiser step ``step`` (0-based) under ``cfg.lr_schedule``.

    $$\eta_s = \eta_{\min} + \tfrac12 (\eta - \eta_{\min})\bigl(1 + \cos(\pi s / S)\bigr)$$

    for ``"cosine"`` (S = ``cfg.steps``, $\eta_{\min}$ = ``lr * min_lr_ratio``); ``lr``
    for ``"constant"``.
    """
    if cfg.lr_schedule == "constant" or cfg.steps == 0:
        return cfg.lr
    low = cfg.lr * cfg.min_lr_ratio
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * min(step, cfg.steps) / cfg.steps))
