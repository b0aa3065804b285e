"""Training configuration: one dataclass, validated from its fields' declared ranges, and
the command line built from it."""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, NoReturn, Sequence, TypeVar

import torch

from memnets._checks import check_choice, check_int, check_number

__all__ = ["AMP_DTYPES", "LR_SCHEDULES", "OPTIMIZERS", "TrainConfig", "option", "parse_config", "resolve_device",
           "learning_rate"]

C = TypeVar("C", bound="TrainConfig")

#: Learning-rate schedules of ``TrainConfig.lr_schedule``.
LR_SCHEDULES = ("constant", "cosine")

#: Optimisers `make_optimizer` builds.
OPTIMIZERS = ("adam", "amsgrad", "rmsprop", "sgd")

#: Mixed-precision settings of ``TrainConfig.amp``: the autocast dtype of each.
AMP_DTYPES = {None: None, "bf16": torch.bfloat16}


def option(default: Any, *, low: float | None = None, high: float | None = None, open_low: bool = False,
           open_high: bool = False, choices: Sequence[Any] | None = None) -> Any:
    """A dataclass field whose valid values are declared beside its default.

    `TrainConfig.validate` (run by ``__post_init__``, so by every subclass too) checks
    each field declared this way: its type against the annotation, numbers against
    ``[low, high]`` (either end open on request), strings against ``choices``. A tuple
    field is checked element by element; ``None`` passes where the annotation allows it.

    Args:
        default: the default value (a tuple for a tuple field).
        low: the smallest valid number (``None``: unbounded).
        high: the largest valid number (``None``: unbounded).
        open_low: ``low`` itself is invalid.
        open_high: ``high`` itself is invalid.
        choices: the valid values.

    Examples:
        >>> @dataclass
        ... class Config(TrainConfig):
        ...     memory_size: int = option(128, low=1)
        ...     controller: str = option("lstm", choices=("lstm", "feedforward"))
        >>> Config(memory_size=0)
        Traceback (most recent call last):
        ...
        ValueError: Config: memory_size must be greater than zero, got 0
    """
    rule = {"low": low, "high": high, "open_low": open_low, "open_high": open_high,
            "choices": tuple(choices) if choices is not None else None}
    return dataclasses.field(default=default, metadata={"memnets": rule})


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return next(a for a in args if a is not type(None)), type(None) in args
    return hint, False


def _check_value(where: str, name: str, value: Any, kind: Any, rule: dict[str, Any]) -> None:
    if rule["choices"] is not None:
        check_choice(where, name, value, rule["choices"])
        return
    if kind is int:
        check_int(where, minimum=-sys.maxsize if rule["low"] is None else int(rule["low"]) + rule["open_low"],
                  **{name: value})
        if rule["high"] is not None:  # the interval named in full: [low, high]
            low = None if rule["low"] is None else int(rule["low"]) + rule["open_low"]
            check_number(where, low, rule["high"], **{name: value})
    elif kind is float:
        check_number(where, rule["low"], rule["high"], open_low=rule["open_low"], **{name: value})
    elif kind is str and not isinstance(value, str):
        raise TypeError(f"{where}: {name} should be of type str, got: {type(value).__name__}")
    elif kind is bool and not isinstance(value, bool):
        raise TypeError(f"{where}: {name} should be of type bool, got: {type(value).__name__}")
    if rule["open_high"] and rule["high"] is not None and value == rule["high"]:
        raise ValueError(f"{where}: expected {name} below {rule['high']!r}, got {value!r}")


def _rules(cls: type) -> dict[str, dict[str, Any]]:
    """Each field's `option` rule, from the most derived class that declares one: a
    subclass that only changes a default (``lr: float = 3e-3``) keeps its base's rule."""
    rules: dict[str, dict[str, Any]] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            for field in dataclasses.fields(klass):
                if "memnets" in field.metadata:
                    rules[field.name] = field.metadata["memnets"]
    return rules


@dataclass
class TrainConfig:
    r"""Settings of the shared training loop; task scripts subclass it with their own fields.

    Every field declared with `option` is checked when the config is made (a wrong type
    raises ``TypeError``, a value out of range ``ValueError``); subclasses add their own
    fields the same way and cross-field rules by overriding `validate` (calling
    ``super().validate()``).

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
        adam_beta1: Adam's (and AMSGrad's) first-moment decay $\beta_1$.
        adam_beta2: Adam's (and AMSGrad's) second-moment decay $\beta_2$.
        rmsprop_eps: the constant $\daleth$ that `GravesRMSprop` adds inside its square
            root (Graves 2013 used $10^{-4}$ with a loss summed over each sequence; the
            default here is the scale of ``torch.optim.RMSprop``'s constant, which suits a
            loss averaged over the outputs).
        clip_norm: clip the global gradient norm to this value (``None``: off).
        clip_value: clip every gradient element to ``[-clip_value, clip_value]``
            (``None``: off), applied before norm clipping.
        lr_schedule: ``"constant"``, or ``"cosine"``: the learning rate falls from ``lr``
            to ``lr * min_lr_ratio`` along half a cosine over ``steps``
            (Loshchilov & Hutter 2017, without restarts); see `learning_rate`.
        min_lr_ratio: the final learning rate of the cosine schedule, as a fraction of ``lr``.
        eval_every: run the task's evaluation every this many steps (and at the end).
        checkpoint_every: write the checkpoint every this many steps (and at the end,
            and on Ctrl-C).
        log_every: append a training record to ``metrics.jsonl`` every this many steps.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ...
        resume: continue from ``out/model.pt`` if it exists, bit for bit.
        overwrite: start afresh in an ``out`` that holds another run's checkpoint,
            replacing it (without it `fit` refuses, so that no run is lost by mistake).
        progress: show a tqdm progress bar.
        threads: CPU threads for torch's intra-op parallelism (``torch.set_num_threads``);
            ``None`` keeps torch's default.
        compile: compile the model's per-step function with ``torch.compile`` (the
            NTM step, the recurrent cells, the graph layers), not the unrolled sequence;
            see `compile_steps`.
        amp: ``None`` (full precision) or ``"bf16"``: run the forward pass and the loss
            under ``torch.autocast`` in bfloat16. Evaluation always runs in full precision.
        tensorboard: also write the logged scalars (and the task's figures at each
            evaluation) as TensorBoard event files into ``out/tensorboard``; needs the
            ``tensorboard`` package (``pip install memnets[tensorboard]``).

    Multi-process training (``torchrun --nproc_per_node=N``) needs no setting:
    ``batch_size`` is the global batch and must be divisible by N.
    """

    out: str = option("runs/default")
    seed: int = option(0, low=0)
    steps: int = option(2000, low=0)
    batch_size: int = option(32, low=1)
    optimizer: str = option("adam", choices=OPTIMIZERS)
    lr: float = option(1e-3, low=0.0, open_low=True)
    momentum: float = option(0.9, low=0.0, high=1.0, open_high=True)
    weight_decay: float = option(0.0, low=0.0)
    adam_beta1: float = option(0.9, low=0.0, high=1.0, open_high=True)
    adam_beta2: float = option(0.999, low=0.0, high=1.0, open_high=True)
    rmsprop_eps: float = option(1e-8, low=0.0, open_low=True)
    clip_norm: float | None = option(10.0, low=0.0, open_low=True)
    clip_value: float | None = option(None, low=0.0, open_low=True)
    lr_schedule: str = option("constant", choices=LR_SCHEDULES)
    min_lr_ratio: float = option(0.05, low=0.0, high=1.0)
    eval_every: int = option(200, low=1)
    checkpoint_every: int = option(500, low=1)
    log_every: int = option(10, low=1)
    device: str = option("auto")
    resume: bool = option(False)
    overwrite: bool = option(False)
    progress: bool = option(True)
    threads: int | None = option(None, low=1)
    compile: bool = option(False)
    amp: str | None = option(None, choices=tuple(k for k in AMP_DTYPES if k is not None))
    tensorboard: bool = option(False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field against its declaration (see `option`) and the device.

        Override it for rules that tie several fields together, calling
        ``super().validate()`` first.

        Raises:
            TypeError: a field of the wrong type.
            ValueError: a field out of its range, or an unavailable device.
        """
        where = type(self).__name__
        hints = typing.get_type_hints(type(self))
        rules = _rules(type(self))
        for field in dataclasses.fields(self):
            rule = rules.get(field.name)
            if rule is None:
                continue
            value = getattr(self, field.name)
            kind, optional = _unwrap(hints[field.name])
            if value is None and optional:
                continue
            if typing.get_origin(kind) is tuple:
                if not isinstance(value, tuple):
                    raise TypeError(f"{where}: {field.name} should be a tuple, got: {type(value).__name__}")
                inner = typing.get_args(kind)[0]
                for i, item in enumerate(value):
                    _check_value(where, f"{field.name}[{i}]", item, inner, rule)
            else:
                _check_value(where, field.name, value, kind, rule)
        if self.tensorboard:
            from memnets.training.logger import tensorboard_available

            if not tensorboard_available():
                raise ValueError(f"{where}: tensorboard needs the tensorboard package "
                                 f"(pip install tensorboard, or memnets[tensorboard])")
        if self.resume and self.overwrite:
            raise ValueError(f"{where}: expected at most one of resume and overwrite, got both")
        try:
            resolve_device(self.device)
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"{where}: device {self.device!r}: {error}") from None


def _parse_optional(kind: type):
    def parse(text: str):
        if text.lower() in ("none", "null", "off"):
            return None
        return kind(text)

    parse.__name__ = kind.__name__
    return parse


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (then exit 2), no usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message.splitlines()[0] if message else message} (see --help)\n")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The description as written (a module docstring), the defaults after each option."""


_ARG = re.compile(r"^(\w+)(?: \([^)]*\))?: (.*)$")


def _field_help(cls: type) -> dict[str, str]:
    """The text of each field in the ``Args:`` sections of ``cls``'s docstrings (subclasses win)."""
    helps: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        section: int | None = None  # the indentation of the entries of the open Args: section
        name = None
        for line in (klass.__doc__ or "").splitlines():
            indent, text = len(line) - len(line.lstrip()), line.strip()
            if text == "Args:":
                section, name = -1, None
            elif section is None:
                continue
            elif not text:
                section = None
            elif section == -1 or indent == section:
                match = _ARG.match(text)
                section, name = indent, match.group(1) if match else None
                if name is not None:
                    helps[name] = match.group(2)
            elif indent > section and name is not None:
                helps[name] += " " + text
            else:
                section = None
    return {k: v.replace("%", "%%").replace("``", "") for k, v in helps.items()}


def build_parser(cls: type, description: str | None = None) -> argparse.ArgumentParser:
    """The command line of a config dataclass: ``--field value`` for every field.

    ``--batch-size`` and ``--batch_size`` both work; booleans take ``--flag`` /
    ``--no-flag``; optional numbers accept ``none``; tuples take several values; a field
    with ``choices`` lists them. The help of each option is its entry in the ``Args:``
    section of the config's docstring.
    """
    parser = _Parser(description=description or cls.__doc__, formatter_class=_Formatter)
    hints = typing.get_type_hints(cls)
    helps = _field_help(cls)
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        names = [f"--{field.name.replace('_', '-')}"] + ([f"--{field.name}"] if "_" in field.name else [])
        base, optional = _unwrap(hints[field.name])
        common: dict[str, Any] = {"dest": field.name, "default": default, "help": helps.get(field.name, " ")}
        if base is bool:
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **common)
        elif typing.get_origin(base) in (list, tuple):
            parser.add_argument(*names, type=typing.get_args(base)[0], nargs="+", **common)
        else:
            kind: Any = _parse_optional(base) if optional else base
            parser.add_argument(*names, type=kind, metavar=field.name.upper(), **common)
    return parser


def parse_config(cls: type[C], argv: Sequence[str] | None = None, description: str | None = None) -> C:
    """Build a config dataclass from command-line overrides (``--field value``), validated.

    Every field of ``cls`` becomes an option named after it (see `build_parser`). The
    config is validated before anything else runs: a bad value ends the program through
    argparse's error, one line on stderr and exit status 2, never a traceback.

    Args:
        cls: a dataclass, usually a subclass of `TrainConfig`.
        argv: the arguments (default: ``sys.argv[1:]``).
        description: the ``--help`` text (default: the class docstring).

    Returns:
        An instance of ``cls``.

    Examples:
        >>> parse_config(TrainConfig, ["--steps", "10", "--no-progress"]).steps
        10
    """
    parser = build_parser(cls, description)
    values = vars(parser.parse_args(argv))
    for field in dataclasses.fields(cls):
        if isinstance(values[field.name], list) and isinstance(field.default, tuple):
            values[field.name] = tuple(values[field.name])
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        parser.error(str(error))


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` becomes CUDA when available, else CPU; anything else is passed to torch.

    Raises:
        ValueError: if the name is not a device, or CUDA is asked for and not available.
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"expected a device such as 'cpu', 'cuda' or 'auto', got {device!r}") from None
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
