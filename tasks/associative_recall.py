"""Associative recall (Graves et al. 2014, §4.3): given an item, return the one that followed it.

    python -m tasks.associative_recall --out runs/associative_recall [--seed S] [--steps N] ...

Trains on K ~ U{2..6} items of three 6-bit vectors (TASKS.md); tests at K = 12, 15, 20.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import associative_recall_batch
from memnets.training import parse_config
from memnets.training.bits import BitTaskConfig, run_bit_task


@dataclass
class AssociativeRecallConfig(BitTaskConfig):
    """Associative recall: K ~ U{min_items..max_items}, tested at larger K."""

    out: str = "runs/associative_recall"
    steps: int = 3000
    batch_size: int = 64
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    eval_every: int = 200
    min_items: int = 2
    max_items: int = 6
    test_items: tuple[int, ...] = (12, 15, 20)


def main(argv=None) -> dict:
    cfg = parse_config(AssociativeRecallConfig, argv)
    return run_bit_task(
        cfg,
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
