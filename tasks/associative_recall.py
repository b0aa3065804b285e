"""Associative recall (Graves et al. 2014, §4.3): given an item, return the one that followed it.

    python -m tasks.associative_recall --out runs/associative_recall [--seed S] [--steps N] ...

Trains on K ~ U{2..6} items of three 6-bit vectors; tests at K = 12, 15, 20.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import associative_recall_batch
from memnets.training import option
from tasks import _bits, _harness


@dataclass
class AssociativeRecallConfig(_bits.BitTaskConfig):
    """Associative recall: K ~ U{min_items..max_items}, tested at larger K.

    Args:
        min_items: the fewest items in training (at least 2: a query needs a successor).
        max_items: the most items in training.
        test_items: the item counts of the generalisation test.
    """

    out: str = "runs/associative_recall"
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    eval_every: int = 200
    min_items: int = option(2, low=2)
    max_items: int = option(6, low=2)
    test_items: tuple[int, ...] = option((12, 15, 20), low=2)

    def validate(self) -> None:
        super().validate()
        if self.min_items > self.max_items:
            raise ValueError(f"AssociativeRecallConfig: expected min_items <= max_items, got {self.min_items} > "
                             f"{self.max_items}")


def main(argv=None) -> dict:
    cfg = _harness.parse(AssociativeRecallConfig, argv, __doc__)
    return _bits.run_bits(
        cfg,
        "associative_recall",
        associative_recall_batch,
        input_size=8,
        output_size=6,
        train_kwargs={"min_items": cfg.min_items, "max_items": cfg.max_items},
        generalisation={f"K={k}": {"items": k} for k in cfg.test_items},
        curriculum_key="max_items",
        plot_kwargs={"items": cfg.max_items},
    )


if __name__ == "__main__":
    main()
