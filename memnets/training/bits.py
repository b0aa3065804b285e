"""The bit-sequence tasks (copy, repeat copy, associative recall, priority sort) as `Task` objects.

A `BitTask` wraps one of the generators of `memnets.data.bits` for
`fit`: it draws batches, computes the masked loss and both metrics
of TASKS.md (bits per sequence, wrong bits per sequence), evaluates on a fixed set of
fresh sequences, and optionally runs a length curriculum.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from memnets.data.bits import BATCH_DIMS, BitBatch, bits_per_sequence, masked_bce_loss, wrong_bits_per_sequence
from memnets.training.checkpoint import write_json
from memnets.training.config import TrainConfig, resolve_device
from memnets.training.distributed import is_main_process
from memnets.training.loop import Task

__all__ = ["BitTask", "BitTaskConfig", "CONVERGED_WRONG_BITS", "build_bit_model", "evaluate_bits",
           "plot_bit_sequence", "run_bit_task"]

#: Collier & Beel (2018)'s criterion: converged when fewer than 0.1 wrong bits per
#: sequence remain on 1,000 fresh sequences of the training distribution.
CONVERGED_WRONG_BITS = 0.1


@torch.no_grad()
def evaluate_bits(
    model: nn.Module,
    make_batch: Callable[..., BitBatch],
    num_sequences: int = 1000,
    batch_size: int = 250,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    **kwargs: Any,
) -> dict[str, float]:
    """Both bit metrics of a model, averaged over ``num_sequences`` fresh sequences.

    Args:
        model: maps inputs (T, B, C_in) to ``(logits, state)``.
        make_batch: a generator of `memnets.data.bits` (e.g. ``copy_batch``).
        num_sequences: how many sequences to average over.
        batch_size: sequences per forward pass.
        generator: the CPU generator drawing the sequences.
        device: where the model runs.
        **kwargs: passed to ``make_batch`` (lengths, item counts, ...).

    Returns:
        ``{"wrong_bits": ..., "bits": ...}`` per sequence.
    """
    was_training = model.training
    model.eval()
    wrong = bits = 0.0
    done = 0
    while done < num_sequences:
        size = min(batch_size, num_sequences - done)
        batch = make_batch(size, generator=generator, device=device, **kwargs)
        logits, _ = model(batch.inputs)
        wrong += float(wrong_bits_per_sequence(logits, batch)) * size
        bits += float(bits_per_sequence(logits, batch)) * size
        done += size
    model.train(was_training)
    return {"wrong_bits": wrong / num_sequences, "bits": bits / num_sequences}


class BitTask(Task):
    """A bit-sequence task for `fit`.

    Args:
        make_batch: the generator of `memnets.data.bits` (``copy_batch``, ...).
        eval_sequences: fresh sequences per periodic evaluation (TASKS.md: 1,000).
        curriculum: ``None``, or the name of the generator's "largest size" argument
            (e.g. ``"max_len"``) to grow: training starts at ``curriculum_start`` and the
            limit grows by one each time the training batches' wrong bits per sequence,
            averaged over ``curriculum_window`` steps, fall below ``curriculum_threshold``,
            until it reaches the value in ``**kwargs``.
        curriculum_start: the first limit of the curriculum.
        curriculum_threshold: wrong bits per sequence that let the curriculum advance.
        curriculum_window: steps averaged before each curriculum decision.
        **kwargs: the training distribution, passed to ``make_batch``.
    """

    batch_dim = BATCH_DIMS  # time-major: multi-process training splits dim 1 (lengths: dim 0)

    def __init__(
        self,
        make_batch: Callable[..., BitBatch],
        *,
        eval_sequences: int = 1000,
        curriculum: str | None = None,
        curriculum_start: int = 2,
        curriculum_threshold: float = 0.5,
        curriculum_window: int = 20,
        **kwargs: Any,
    ):
        self.make_batch = make_batch
        self.kwargs = dict(kwargs)
        self.eval_sequences = eval_sequences
        self.curriculum_key = curriculum
        if curriculum is not None:
            if curriculum not in kwargs:
                raise ValueError(f"BitTask: curriculum={curriculum!r} needs that argument's final value, got {kwargs}")
            if not isinstance(curriculum_start, int) or curriculum_start < 1:
                raise ValueError(f"BitTask: expected curriculum_start to be a positive integer, got {curriculum_start!r}")
            self.curriculum_final = int(kwargs[curriculum])
            self.level = min(curriculum_start, self.curriculum_final)
        else:
            self.level = None
        self.curriculum_threshold = curriculum_threshold
        self.curriculum_window = curriculum_window
        self._recent: list[float] = []

    def _train_kwargs(self) -> dict[str, Any]:
        if self.curriculum_key is None:
            return self.kwargs
        return {**self.kwargs, self.curriculum_key: self.level}

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> BitBatch:
        return self.make_batch(batch_size, generator=generator, device=device, **self._train_kwargs())

    def loss(self, model: nn.Module, batch: BitBatch) -> tuple[Tensor, dict[str, float]]:
        logits, _ = model(batch.inputs)
        loss = masked_bce_loss(logits, batch)
        with torch.no_grad():
            metrics = {"wrong_bits": float(wrong_bits_per_sequence(logits, batch)),
                       "bits": float(bits_per_sequence(logits, batch))}
        if self.level is not None:
            metrics["level"] = float(self.level)
        return loss, metrics

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return evaluate_bits(model, self.make_batch, self.eval_sequences, generator=generator, device=device,
                             **self.kwargs)

    def curriculum(self, step: int, metrics: dict[str, float]) -> None:
        if self.level is None or self.level >= self.curriculum_final:
            return
        self._recent.append(metrics["wrong_bits"])
        if len(self._recent) >= self.curriculum_window:
            if sum(self._recent) / len(self._recent) < self.curriculum_threshold:
                self.level += 1
            self._recent = []

    def state_dict(self) -> dict[str, Any]:
        return {"level": self.level, "recent": list(self._recent)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.level = state["level"]
        self._recent = list(state["recent"])


@dataclass
class BitTaskConfig(TrainConfig):
    """Settings shared by the bit-task scripts: the training loop's, plus the model's.

    Args:
        model: ``"ntm"`` or ``"lstm"`` (the `LSTMBaseline`).
        controller_size: NTM controller units.
        memory_size: NTM memory slots N.
        word_size: NTM word size W.
        num_read_heads: NTM read heads.
        num_write_heads: NTM write heads.
        shift_range: NTM shift range S (shifts -S..S).
        controller: NTM controller, ``"lstm"`` or ``"feedforward"``.
        memory_init: NTM memory initialisation, ``"constant"``, ``"learned"`` or ``"random"``.
        weighting_init: NTM initial weightings, ``"first_slot"`` or ``"random"``.
        lstm_hidden_size: LSTM baseline units per layer.
        lstm_layers: LSTM baseline layers.
        eval_sequences: fresh sequences per periodic evaluation during training.
        final_sequences: fresh sequences per setting of the final evaluation written to
            ``metrics.json`` (TASKS.md's criterion: 1,000), whatever ``eval_sequences`` is.
        curriculum: grow the task's size limit from small to the full range during training.
        curriculum_start: the size limit the curriculum starts at.
        curriculum_threshold: training wrong bits per sequence (mean of 20 steps) below
            which the curriculum raises the limit by one.
        plots: save the learning curve and a sequence figure.
        threads: CPU threads (default 1: the NTM's many small operations run fastest on
            one thread; raise it for the LSTM baseline or large batches).
        skip_spikes: the loop's outlier-step guard (`SpikeGuard`), on by default here
            (factor 5): without it NTM runs on copy collapse back to chance after a
            single outlying gradient (see the NTM page's results); ``None`` turns it off.
    """

    model: str = "ntm"
    controller_size: int = 100
    memory_size: int = 128
    word_size: int = 20
    num_read_heads: int = 1
    num_write_heads: int = 1
    shift_range: int = 1
    controller: str = "lstm"
    memory_init: str = "constant"
    weighting_init: str = "first_slot"
    lstm_hidden_size: int = 256
    lstm_layers: int = 3
    eval_sequences: int = 1000
    final_sequences: int = 1000
    curriculum: bool = False
    curriculum_start: int = 2
    curriculum_threshold: float = 0.5
    plots: bool = True
    threads: int | None = 1
    skip_spikes: float | None = 5.0


def build_bit_model(cfg: BitTaskConfig, input_size: int, output_size: int) -> nn.Module:
    """The model a `BitTaskConfig` names, seeded with ``cfg.seed``."""
    from memnets.nn.baselines import LSTMBaseline
    from memnets.nn.memory.ntm import NTM

    torch.manual_seed(cfg.seed)
    if cfg.model == "ntm":
        return NTM(input_size, output_size, controller_size=cfg.controller_size, memory_size=cfg.memory_size,
                   word_size=cfg.word_size, num_read_heads=cfg.num_read_heads, num_write_heads=cfg.num_write_heads,
                   shift_range=cfg.shift_range, controller=cfg.controller, memory_init=cfg.memory_init,
                   weighting_init=cfg.weighting_init)
    if cfg.model == "lstm":
        return LSTMBaseline(input_size, output_size, hidden_size=cfg.lstm_hidden_size, num_layers=cfg.lstm_layers)
    raise ValueError(f"build_bit_model: expected model 'ntm' or 'lstm', got {cfg.model!r}")


def _convergence(records: list[dict], batch_size: int) -> dict[str, Any]:
    evals = [(r["step"], r["eval/wrong_bits"]) for r in records if "eval/wrong_bits" in r]
    first = next((step for step, wrong in evals if wrong < CONVERGED_WRONG_BITS), None)
    after = [wrong for step, wrong in evals if first is not None and step >= first]
    return {
        "converged_at_step": first,
        "sequences_to_convergence": None if first is None else first * batch_size,
        "worst_wrong_bits_after_convergence": max(after) if after else None,
    }


def run_bit_task(
    cfg: BitTaskConfig,
    make_batch: Callable[..., BitBatch],
    input_size: int,
    output_size: int,
    train_kwargs: dict[str, Any],
    generalisation: dict[str, dict[str, Any]],
    curriculum_key: str | None = None,
    plot_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, evaluate and plot one bit task: the body of every bit-task script.

    Trains ``cfg.model`` with `fit`, evaluates both metrics on
    ``cfg.final_sequences`` fresh sequences of the training distribution and of every
    generalisation setting, writes ``metrics.json``, prints the table and saves the
    learning curve and a sequence figure.

    Args:
        cfg: the script's config.
        make_batch: the task's generator from `memnets.data.bits`.
        input_size: input channels.
        output_size: output channels.
        train_kwargs: the training distribution (arguments of ``make_batch``).
        generalisation: name -> arguments of ``make_batch`` for each test setting.
        curriculum_key: the argument a curriculum grows (used when ``cfg.curriculum``).
        plot_kwargs: arguments of ``make_batch`` for the plotted sequence.

    Returns:
        The dictionary written to ``metrics.json``.
    """
    from memnets.training.loop import EVAL_SEED, fit
    from memnets.training.plots import plot_learning_curve, read_jsonl

    model = build_bit_model(cfg, input_size, output_size)
    task = BitTask(make_batch, eval_sequences=cfg.eval_sequences,
                   curriculum=curriculum_key if cfg.curriculum else None, curriculum_start=cfg.curriculum_start,
                   curriculum_threshold=cfg.curriculum_threshold, **train_kwargs)
    fit(model, task, cfg)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    device = resolve_device(cfg.device)
    out = Path(cfg.out)

    def evaluate(kwargs: dict[str, Any], offset: int) -> dict[str, float]:
        generator = torch.Generator().manual_seed(EVAL_SEED - 1 - offset)
        return evaluate_bits(model, make_batch, cfg.final_sequences, generator=generator, device=device, **kwargs)

    results: dict[str, Any] = {
        "model": cfg.model,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "sequences": cfg.steps * cfg.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train": evaluate(train_kwargs, 0),
        "generalisation": {name: evaluate(kw, i + 1) for i, (name, kw) in enumerate(generalisation.items())},
    }
    results["converged"] = results["train"]["wrong_bits"] < CONVERGED_WRONG_BITS
    results.update(_convergence(read_jsonl(out / "metrics.jsonl"), cfg.batch_size))
    write_json(out / "metrics.json", results)

    print(f"\n{cfg.model} after {cfg.steps} steps ({results['sequences']} sequences), seed {cfg.seed}:")
    print(f"  {'setting':<16}{'wrong bits/seq':>16}{'bits/seq':>12}")
    rows = [("training", results["train"])] + list(results["generalisation"].items())
    for name, r in rows:
        print(f"  {name:<16}{r['wrong_bits']:>16.3f}{r['bits']:>12.3f}")
    print(f"  converged (< {CONVERGED_WRONG_BITS} wrong bits/seq at training lengths): {results['converged']}")

    if cfg.plots:
        plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png", title=f"{out.name}: {cfg.model}")
        plot_bit_sequence(model, make_batch, out / "sequence.png", device=device, **(plot_kwargs or train_kwargs))
    return results


@torch.no_grad()
def plot_bit_sequence(model: nn.Module, make_batch: Callable[..., BitBatch], png_path, device="cpu",
                      **kwargs: Any) -> None:
    """Plot one fresh sequence through ``model``; for an NTM also its head weightings and memory."""
    from memnets.training.plots import plot_sequence

    batch = make_batch(1, generator=torch.Generator().manual_seed(0), device=device, **kwargs)
    length = int(batch.lengths[0])
    inputs, targets = batch.inputs[:length, 0], batch.targets[:length, 0]
    trace = getattr(model, "trace", None)
    if callable(trace):
        logits, states = trace(batch.inputs[:length])
        plot_sequence(png_path, inputs, targets, torch.sigmoid(logits[:, 0]),
                      write_weights=states.write_weights[:, 0, 0], read_weights=states.read_weights[:, 0, 0],
                      memory=states.memory[-1, 0])
    else:
        logits, _ = model(batch.inputs[:length])
        plot_sequence(png_path, inputs, targets, torch.sigmoid(logits[:, 0]))
