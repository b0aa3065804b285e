"""Character language model on *The Tempest* (public domain, shipped in the package).

    python -m tasks.charlm --out runs/charlm [--seed S] [--steps N] [--cell lstm|gru|rnn] ...
    python -m tasks.charlm --out runs/charlm --steps 6000 --resume    # continue a run

Next-character prediction with teacher forcing (the true previous character is the
input) on random windows of the first 90 % of the play; reports bits per character on
the held-out last 10 %, read as one stream with the state carried across chunks, next to
a unigram baseline; prints text sampled from the model (the generation loop of
`memnets.nn.recurrent.feedback.generate`). Writes ``metrics.json`` (the task harness's
layout, the setting ``held_out``, plus the figures above at its top level), ``samples.txt``
and, unless ``--no-plots``, ``learning_curve.png``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets.data.text import (
    CORPORA,
    CharVocabulary,
    load_corpus,
    random_windows,
    split_text,
)
from memnets.nn.recurrent import InputFeedback, SequenceToSequence, generate
from memnets.nn.recurrent.modes import CELL_TYPES
from memnets.training import Task, fit, is_main_process, option, write_json
from tasks import _harness

_LN2 = math.log(2.0)
#: Characters per chunk when the held-out text is read as one stream.
_EVAL_CHUNK = 500


@dataclass
class CharLMConfig(_harness.TaskConfig):
    """Character-level language model on a shipped public-domain text.

    Args:
        corpus: the shipped text (``memnets.data.CORPORA``).
        held_out: the fraction at the end of the text held out, in (0, 1).
        seq_len: characters per training window.
        cell: the recurrent layer (rnn, lstm, gru).
        hidden_size: units per layer.
        num_layers: stacked layers.
        sample_length: characters sampled after training.
        temperature: the sampling temperature (> 0).
        prime: the text the model reads before sampling (characters of the corpus).
    """

    out: str = "runs/charlm"
    steps: int = 3000
    batch_size: int = 32
    lr: float = 3e-3
    clip_norm: float | None = 1.0
    eval_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 50
    threads: int | None = option(1, low=1)
    corpus: str = option("tempest", choices=tuple(CORPORA))
    held_out: float = option(0.1, low=0.0, high=1.0, open_low=True, open_high=True)
    seq_len: int = option(64, low=1)
    cell: str = option("lstm", choices=CELL_TYPES)
    hidden_size: int = option(128, low=1)
    num_layers: int = option(1, low=1)
    sample_length: int = option(400, low=1)
    temperature: float = option(0.8, low=0.0, open_low=True)
    prime: str = "\nPROSPERO.\n"

    def validate(self) -> None:
        super().validate()
        if not self.prime:
            raise ValueError("CharLMConfig: expected a non-empty prime, got ''")


def _one_hot(ids: Tensor, vocab_size: int) -> Tensor:
    return F.one_hot(ids, vocab_size).float()


@torch.no_grad()
def bits_per_character(model: nn.Module, ids: Tensor, vocab_size: int, device: torch.device) -> float:
    """Cross-entropy in bits of each next character of ``ids``, read as one stream."""
    state, total, count = None, 0.0, 0
    ids = ids.to(device)
    for start in range(0, len(ids) - 1, _EVAL_CHUNK):
        chunk = ids[start:start + _EVAL_CHUNK + 1]
        logits, state = model(_one_hot(chunk[:-1], vocab_size)[:, None], state)
        total += F.cross_entropy(logits[:, 0], chunk[1:], reduction="sum").item()
        count += len(chunk) - 1
    return total / count / _LN2


def unigram_bits_per_character(train: Tensor, held: Tensor, vocab_size: int) -> float:
    """The held-out cross-entropy of character frequencies (add-one smoothed)."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1.0
    log_probs = (counts / counts.sum()).log()
    return float(-log_probs[held].mean() / _LN2)


class CharLMTask(Task):
    """Random windows of the training text; held-out bits per character."""

    batch_dim = 1  # time-major (T, B) windows

    def __init__(self, train: Tensor, held: Tensor, vocab_size: int, seq_len: int):
        self.train, self.held, self.vocab_size, self.seq_len = train, held, vocab_size, seq_len

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> tuple[Tensor, Tensor]:
        x, y = random_windows(self.train, batch_size, self.seq_len, generator)
        return x.to(device), y.to(device)

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        x, y = batch
        logits, _ = model(_one_hot(x, self.vocab_size))
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        return loss, {"bits_per_char": loss.item() / _LN2}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return {"held_out_bits_per_char": bits_per_character(model, self.held, self.vocab_size, device)}


def sample_text(model: nn.Module, vocab: CharVocabulary, prime: str, length: int, temperature: float,
                seed: int, device: torch.device) -> str:
    """Prime the model with ``prime`` and sample ``length`` characters."""
    prefix = _one_hot(vocab.encode(prime), len(vocab))[:, None].to(device)
    with torch.no_grad():
        _, fed = generate(InputFeedback(model, len(vocab)), length, prefix=prefix, feedback="sample",
                          temperature=temperature, generator=torch.Generator().manual_seed(seed), return_fed=True)
    return prime + vocab.decode(fed[:, 0].argmax(-1).cpu())


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(CharLMConfig, argv, __doc__)
    text = load_corpus(cfg.corpus)
    vocab = CharVocabulary(text)
    unknown = sorted(set(cfg.prime) - set(vocab.chars))
    if unknown:
        _harness.usage_error(f"expected prime to be made of characters of the corpus {cfg.corpus!r}, "
                             f"got {cfg.prime!r} with {''.join(unknown)!r}")
    train, held = split_text(vocab.encode(text), cfg.held_out)
    torch.manual_seed(cfg.seed)
    model = SequenceToSequence(len(vocab), cfg.hidden_size, len(vocab), cell=cfg.cell, num_layers=cfg.num_layers)
    task = CharLMTask(train, held, len(vocab), cfg.seq_len)
    out = Path(cfg.out)
    with _harness.exits_cleanly(out):
        result = fit(model, task, cfg)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    device = next(model.parameters()).device
    unigram = unigram_bits_per_character(train, held, len(vocab))
    evaluation = _harness.evaluate_settings(
        model, task, {"held_out": {}},
        lambda model, task, setting, generator, device: {
            "bits_per_char": bits_per_character(model, task.held, task.vocab_size, device),
            "unigram_bits": unigram},
        device)
    bpc = evaluation["held_out"]["bits_per_char"]
    sample = sample_text(model, vocab, cfg.prime, cfg.sample_length, cfg.temperature, cfg.seed, device)
    _harness.print_table(f"charlm, {cfg.cell} ({cfg.corpus}), {result.step} steps, seed {cfg.seed}:", evaluation)
    print(f"held-out bits per character: {bpc:.3f} (unigram baseline {unigram:.3f}); "
          f"{len(train)} training and {len(held)} held-out characters, vocabulary {len(vocab)}")
    print(f"--- sample (temperature {cfg.temperature:.2f}) ---")
    print(sample)
    (out / "samples.txt").write_text(sample + "\n")
    metrics = {
        "task": "charlm",
        "model": type(model).__name__,
        "seed": cfg.seed,
        "steps": result.step,
        "examples": result.step * cfg.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "evaluation": evaluation,
        "held_out_bits_per_char": bpc,
        "unigram_bits_per_char": unigram,
        "train_characters": len(train),
        "held_out_characters": len(held),
        "vocabulary": "".join(vocab.chars),
        "sample": sample,
        "config": dataclasses.asdict(cfg),
    }
    write_json(out / "metrics.json", metrics)
    if cfg.plots:
        from memnets.training.plots import plot_learning_curve

        plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png",
                            metrics=("bits_per_char", "eval/held_out_bits_per_char"),
                            log_y=False, title=f"charlm: {cfg.cell}, {cfg.corpus}")
    return metrics


if __name__ == "__main__":
    main()
