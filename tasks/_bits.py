"""What the bit-sequence task scripts share: the task object, the config, the models, the epilogue.

A `BitTask` wraps one of the generators of `memnets.data.bits` for `fit`: it draws
batches, computes the masked loss and both metrics (bits per sequence, wrong bits per
sequence), evaluates on a fixed set of fresh sequences, optionally runs a length
curriculum, and draws the sequence figure (the NTM's and the DNC's head weightings and
memory) for TensorBoard. `run_bits` is the body of every bit-task script, on the
shared harness (`tasks._harness`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from memnets.data.bits import BATCH_DIMS, BitBatch, bits_per_sequence, masked_bce_loss, wrong_bits_per_sequence
from memnets.training import GuardConfig, Task, option
from memnets.training.plots import read_jsonl
from tasks import _harness

__all__ = ["BitTask", "BitTaskConfig", "CONVERGED_WRONG_BITS", "MODELS", "build_bit_model", "evaluate_bits",
           "plot_bit_sequence", "run_bits", "sequence_figure_of"]

#: Collier & Beel (2018)'s criterion: converged when fewer than 0.1 wrong bits per
#: sequence remain on 1,000 fresh sequences of the training distribution.
CONVERGED_WRONG_BITS = 0.1

#: The models of ``--model``.
MODELS = ("ntm", "lstm", "dnc")


@torch.no_grad()
def evaluate_bits(
    model: nn.Module,
    make_batch: Callable[..., BitBatch],
    num_sequences: int = 1000,
    batch_size: int = _harness.EVAL_BATCH,
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


@torch.no_grad()
def sequence_figure_of(model: nn.Module, make_batch: Callable[..., BitBatch], device: torch.device | str = "cpu",
                       **kwargs: Any):
    """The figure of one fresh sequence (seed 0) through ``model``: inputs, targets, outputs
    and, for a model with a ``trace`` (NTM, DNC), the first heads' weightings and the memory."""
    from memnets.training.plots import sequence_figure

    batch = make_batch(1, generator=torch.Generator().manual_seed(0), device=device, **kwargs)
    length = int(batch.lengths[0])
    inputs, targets = batch.inputs[:length, 0], batch.targets[:length, 0]
    trace = getattr(model, "trace", None)
    if not callable(trace):
        logits, _ = model(batch.inputs[:length])
        return sequence_figure(inputs, targets, torch.sigmoid(logits[:, 0]))
    logits, states = trace(batch.inputs[:length])

    def first_head(weights: Tensor) -> Tensor:  # (T, B, H, N) or (T, B, N) -> (T, N)
        return weights[:, 0, 0] if weights.dim() == 4 else weights[:, 0]

    return sequence_figure(inputs, targets, torch.sigmoid(logits[:, 0]), write_weights=first_head(states.write_weights),
                           read_weights=first_head(states.read_weights), memory=states.memory[-1, 0])


def plot_bit_sequence(model: nn.Module, make_batch: Callable[..., BitBatch], png_path: str | Path,
                      device: torch.device | str = "cpu", **kwargs: Any) -> None:
    """Save `sequence_figure_of` to ``png_path``."""
    import matplotlib.pyplot as plt

    figure = sequence_figure_of(model, make_batch, device, **kwargs)
    figure.savefig(png_path, dpi=110)
    plt.close(figure)


class BitTask(Task):
    """A bit-sequence task for `fit`.

    Args:
        make_batch: the generator of `memnets.data.bits` (``copy_batch``, ...).
        eval_sequences: fresh sequences per periodic evaluation.
        curriculum: ``None``, or the name of the generator's "largest size" argument
            (e.g. ``"max_len"``) to grow: training starts at ``curriculum_start`` and the
            limit grows by one each time the training batches' wrong bits per sequence,
            averaged over ``curriculum_window`` steps, fall below ``curriculum_threshold``,
            until it reaches the value in ``**kwargs``.
        curriculum_start: the first limit of the curriculum.
        curriculum_threshold: wrong bits per sequence that let the curriculum advance.
        curriculum_window: steps averaged before each curriculum decision.
        plot_kwargs: arguments of ``make_batch`` for the sequence figure (default: the
            training distribution).
        sample_kwargs: arguments of ``make_batch`` for the training batches only (e.g.
            ``zero_vectors`` of ``copy_batch``); the evaluations draw from ``**kwargs``.
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
        plot_kwargs: dict[str, Any] | None = None,
        sample_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.make_batch = make_batch
        self.kwargs = dict(kwargs)
        self.sample_kwargs = dict(sample_kwargs or {})
        self.eval_sequences = eval_sequences
        self.plot_kwargs = dict(plot_kwargs) if plot_kwargs is not None else dict(kwargs)
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
            return {**self.kwargs, **self.sample_kwargs}
        return {**self.kwargs, **self.sample_kwargs, self.curriculum_key: self.level}

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

    def figures(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        return {"sequence": sequence_figure_of(model, self.make_batch, device, **self.plot_kwargs)}

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
class BitTaskConfig(_harness.TaskConfig, GuardConfig):
    """Settings shared by the bit-task scripts: the training loop's, the guards', the model's.

    Args:
        model: ``"ntm"`` (`memnets.NTM`), ``"lstm"`` (`memnets.SequenceToSequence`, a
            stacked LSTM with a linear read-out) or ``"dnc"`` (`memnets.DNC`).
        controller_size: NTM/DNC controller units.
        memory_size: NTM/DNC memory slots N.
        word_size: NTM/DNC word size W.
        num_read_heads: NTM/DNC read heads.
        num_write_heads: NTM write heads.
        shift_range: NTM shift range S (shifts -S..S).
        controller: NTM controller, ``"lstm"`` or ``"feedforward"``.
        memory_init: NTM memory initialisation, ``"constant"``, ``"learned"`` or ``"random"``.
        weighting_init: NTM initial weightings, ``"first_slot"`` or ``"random"``.
        lstm_hidden_size: LSTM units per layer.
        lstm_layers: LSTM layers.
        eval_sequences: fresh sequences per periodic evaluation during training.
        final_sequences: fresh sequences per setting of the final evaluation written to
            ``metrics.json``.
        curriculum: grow the task's size limit from small to the full range during training.
        curriculum_start: the size limit the curriculum starts at.
        curriculum_threshold: training wrong bits per sequence (mean of 20 steps) below
            which the curriculum raises the limit by one.
        threads: CPU threads (the NTM's many small operations run fastest on one thread;
            raise it for the LSTM or large batches).
        skip_spikes: the outlier-step guard (`SpikeGuard`), on by default here (factor 5);
            ``None`` turns it off.
        compile: compile the model's step with ``torch.compile`` (on by default here: it
            doubles the NTM's training throughput; where compilation is unavailable the
            loop says so and trains eager).
    """

    model: str = option("ntm", choices=MODELS)
    controller_size: int = option(100, low=1)
    memory_size: int = option(128, low=1)
    word_size: int = option(20, low=1)
    num_read_heads: int = option(1, low=1)
    num_write_heads: int = option(1, low=1)
    shift_range: int = option(1, low=0)
    controller: str = option("lstm", choices=("lstm", "feedforward"))
    memory_init: str = option("constant", choices=("constant", "learned", "random"))
    weighting_init: str = option("first_slot", choices=("first_slot", "random"))
    lstm_hidden_size: int = option(256, low=1)
    lstm_layers: int = option(3, low=1)
    eval_sequences: int = option(1000, low=1)
    final_sequences: int = option(1000, low=1)
    curriculum: bool = option(False)
    curriculum_start: int = option(2, low=1)
    curriculum_threshold: float = option(0.5, low=0.0)
    threads: int | None = 1
    skip_spikes: float | None = 5.0
    compile: bool = option(True)

    def validate(self) -> None:
        super().validate()
        if self.shift_range >= self.memory_size:
            raise ValueError(f"{type(self).__name__}: expected shift_range below memory_size ({self.memory_size}), "
                             f"got {self.shift_range}")


def build_bit_model(cfg: BitTaskConfig, input_size: int, output_size: int) -> nn.Module:
    """The model a `BitTaskConfig` names (the caller seeds torch first)."""
    import memnets

    if cfg.model == "ntm":
        return memnets.NTM(input_size, output_size, controller_size=cfg.controller_size,
                           memory_size=cfg.memory_size, word_size=cfg.word_size, num_read_heads=cfg.num_read_heads,
                           num_write_heads=cfg.num_write_heads, shift_range=cfg.shift_range,
                           controller=cfg.controller, memory_init=cfg.memory_init, weighting_init=cfg.weighting_init)
    if cfg.model == "lstm":
        return memnets.SequenceToSequence(input_size, cfg.lstm_hidden_size, output_size, cell="lstm",
                                          num_layers=cfg.lstm_layers)
    if cfg.model == "dnc":
        return memnets.DNC(input_size, output_size, controller_size=cfg.controller_size,
                           memory_size=cfg.memory_size, word_size=cfg.word_size,
                           num_read_heads=cfg.num_read_heads, batch_first=False)
    raise ValueError(f"build_bit_model: expected model in {MODELS}, got {cfg.model!r}")


def _convergence(records: list[dict], batch_size: int) -> dict[str, Any]:
    evals = [(r["step"], r["eval/wrong_bits"]) for r in records if "eval/wrong_bits" in r]
    first = next((step for step, wrong in evals if wrong < CONVERGED_WRONG_BITS), None)
    after = [wrong for step, wrong in evals if first is not None and step >= first]
    return {
        "converged_at_step": first,
        "sequences_to_convergence": None if first is None else first * batch_size,
        "worst_wrong_bits_after_convergence": max(after) if after else None,
    }


def run_bits(
    cfg: BitTaskConfig,
    name: str,
    make_batch: Callable[..., BitBatch],
    input_size: int,
    output_size: int,
    train_kwargs: dict[str, Any],
    generalisation: dict[str, dict[str, Any]],
    curriculum_key: str | None = None,
    plot_kwargs: dict[str, Any] | None = None,
    sample_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train, evaluate and plot one bit task: the body of every bit-task script.

    Trains ``cfg.model`` with `fit`, evaluates both metrics on ``cfg.final_sequences``
    fresh sequences of the training distribution (the setting ``"train"``) and of every
    generalisation setting, writes ``metrics.json`` (with ``converged``: below
    `CONVERGED_WRONG_BITS` on the training distribution, and when the periodic evaluation
    first got there), prints the table and saves the learning curve and a sequence figure.

    Args:
        cfg: the script's config.
        name: the task's name.
        make_batch: the task's generator from `memnets.data.bits`.
        input_size: input channels.
        output_size: output channels.
        train_kwargs: the training distribution (arguments of ``make_batch``).
        generalisation: name -> arguments of ``make_batch`` for each test setting.
        curriculum_key: the argument a curriculum grows (used when ``cfg.curriculum``).
        plot_kwargs: arguments of ``make_batch`` for the plotted sequence.
        sample_kwargs: arguments of ``make_batch`` for the training batches only (the
            periodic and final evaluations draw from ``train_kwargs``).

    Returns:
        The dictionary written to ``metrics.json``.
    """

    def build(cfg: BitTaskConfig) -> tuple[nn.Module, BitTask]:
        task = BitTask(make_batch, eval_sequences=cfg.eval_sequences,
                       curriculum=curriculum_key if cfg.curriculum else None, curriculum_start=cfg.curriculum_start,
                       curriculum_threshold=cfg.curriculum_threshold, plot_kwargs=plot_kwargs,
                       sample_kwargs=sample_kwargs, **train_kwargs)
        return build_bit_model(cfg, input_size, output_size), task

    def evaluate(model: nn.Module, task: BitTask, setting: dict[str, Any], generator: torch.Generator,
                 device: torch.device) -> dict[str, float]:
        return evaluate_bits(model, make_batch, cfg.final_sequences, generator=generator, device=device,
                             **(setting or train_kwargs))

    def summary(results: dict[str, Any]) -> dict[str, Any]:
        converged = results["evaluation"]["train"]["wrong_bits"] < CONVERGED_WRONG_BITS
        return {"converged": converged, **_convergence(read_jsonl(Path(cfg.out) / "metrics.jsonl"), cfg.batch_size)}

    def plot(model: nn.Module, task: BitTask, out: Path, device: torch.device) -> None:
        plot_bit_sequence(model, make_batch, out / "sequence.png", device=device, **task.plot_kwargs)

    return _harness.run(cfg, build, {"train": {}, **generalisation}, evaluate, name, model_name=cfg.model,
                        summary=summary, curve_metrics=("wrong_bits", "bits"), plot=plot)
