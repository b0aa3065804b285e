"""Dynamic N-grams (Graves et al. 2014, §4.4): predict the next bit under a random 6-gram table.

    python -m tasks.ngrams --out runs/ngrams [--seed S] [--steps N] [--model ntm|lstm|dnc] ...

Every sequence has its own table (P(next bit = 1 | the five previous bits) ~ Beta(1/2, 1/2),
drawn per context) and 200 bits; the model reads the bits one at a time and predicts each
next one, and the loss counts the 195 bits drawn from the table (`memnets.data.ngrams`).
Reports the model's bits per sequence on 1,000 fresh sequences beside the Bayes-optimal
estimator's loss on the same sequences (computed exactly from them) and the gap in percent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from memnets.data.bits import bits_per_sequence
from memnets.data.ngrams import NGRAM_LENGTH, NGRAM_ORDER, ngram_batch, optimal_bits_per_sequence
from memnets.training import option
from tasks import _bits, _harness

#: The gap to the optimal estimator under which a run counts as solved (issue: within 2 %).
SOLVED_GAP_PERCENT = 2.0


@dataclass
class NgramsConfig(_bits.BitTaskConfig):
    """Dynamic N-grams: a fresh N-gram table per sequence.

    Args:
        length: bits per sequence.
        order: the order n of the N-grams (contexts of n - 1 bits).
    """

    out: str = "runs/ngrams"
    seed: int = 1
    steps: int = 2000
    batch_size: int = 32
    eval_every: int = 200
    length: int = option(NGRAM_LENGTH, low=3)
    order: int = option(NGRAM_ORDER, low=2)

    def validate(self) -> None:
        super().validate()
        if self.length < self.order:
            raise ValueError(f"NgramsConfig: expected length >= order, got length={self.length} < order={self.order}")


@torch.no_grad()
def evaluate_ngrams(model: nn.Module, num_sequences: int, generator: torch.Generator, device: torch.device,
                    **kwargs: Any) -> dict[str, float]:
    """The model's and the Bayes-optimal estimator's bits per sequence on the same fresh sequences."""
    was_training = model.training
    model.eval()
    bits = optimal = 0.0
    done = 0
    while done < num_sequences:
        size = min(_harness.EVAL_BATCH, num_sequences - done)
        batch = ngram_batch(size, generator=generator, device=device, **kwargs)
        logits, _ = model(batch.inputs)
        bits += float(bits_per_sequence(logits, batch)) * size
        optimal += float(optimal_bits_per_sequence(batch, order=kwargs["order"])) * size
        done += size
    model.train(was_training)
    bits, optimal = bits / num_sequences, optimal / num_sequences
    return {"bits": bits, "optimal_bits": optimal, "gap_percent": 100.0 * (bits - optimal) / optimal}


def main(argv=None) -> dict:
    cfg = _harness.parse(NgramsConfig, argv, __doc__)
    kwargs = {"length": cfg.length, "order": cfg.order}

    def build(cfg: NgramsConfig):
        task = _bits.BitTask(ngram_batch, eval_sequences=cfg.eval_sequences, **kwargs)
        return _bits.build_bit_model(cfg, 1, 1), task

    def evaluate(model, task, setting, generator, device):
        return evaluate_ngrams(model, cfg.final_sequences, generator, device, **kwargs)

    def summary(results: dict[str, Any]) -> dict[str, Any]:
        return {"within_2_percent": results["evaluation"]["train"]["gap_percent"] < SOLVED_GAP_PERCENT}

    return _harness.run(cfg, build, {"train": {}}, evaluate, "ngrams", model_name=cfg.model, summary=summary,
                        curve_metrics=("bits",), log_y=False)


if __name__ == "__main__":
    main()
