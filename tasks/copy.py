"""Copy (Graves et al. 2014, §4.1): read a sequence of 8-bit vectors, then write it back.

    python -m tasks.copy --out runs/copy [--seed S] [--steps N] [--model ntm|lstm] ...

Trains on L ~ U{1..20} (TASKS.md), reports wrong bits and bits per sequence on 1,000
fresh sequences at the training lengths and at L = 30, 50, 80, 120.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import copy_batch
from memnets.training import parse_config
from memnets.training.bits import BitTaskConfig, run_bit_task


@dataclass
class CopyConfig(BitTaskConfig):
    """Copy task: NTM (or --model lstm) on L ~ U{min_len..max_len}, tested at longer lengths."""

    out: str = "runs/copy"
    # Seed 1 by default: 9 of the seeds 0-9 converge with these settings, seed 6 does not
    # (0.241 wrong bits per sequence); the NTM page of the docs has all ten.
    seed: int = 1
    steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-3
    lr_schedule: str = "cosine"
    # Roll back to the last healthy snapshot (and halve the rate) when the loss climbs to ten
    # times its best running average: without it, seeds 3 and 8 fell back to chance after
    # converging (the NTM page of the docs).
    rollback: float | None = 10.0
    eval_every: int = 200
    min_len: int = 1
    max_len: int = 20
    test_lengths: tuple[int, ...] = (30, 50, 80, 120)


def main(argv=None) -> dict:
    cfg = parse_config(CopyConfig, argv)
    return run_bit_task(
        cfg,
        copy_batch,
        input_size=9,
        output_size=8,
        train_kwargs={"min_len": cfg.min_len, "max_len": cfg.max_len},
        generalisation={f"L={n}": {"length": n} for n in cfg.test_lengths},
        curriculum_key="max_len",
        plot_kwargs={"length": cfg.max_len},
    )


if __name__ == "__main__":
    main()
