"""Repeat copy (Graves et al. 2014, §4.2): copy a sequence R times, then emit an end marker.

    python -m tasks.repeat_copy --out runs/repeat_copy [--seed S] [--steps N] [--model ntm|lstm] ...

Trains on L ~ U{1..10}, R ~ U{1..10} (TASKS.md); tests beyond ten repeats and longer
sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import repeat_copy_batch
from memnets.training import parse_config
from memnets.training.bits import BitTaskConfig, run_bit_task


@dataclass
class RepeatCopyConfig(BitTaskConfig):
    """Repeat copy: L ~ U{1..max_len}, R ~ U{1..max_repeats}; tested at R and L up to 20.

    The defaults are Graves et al.'s and pytorch-ntm's recipe: one sequence per step, the
    centred RMSprop at 1e-4 (its constant 1e-8, see `TrainConfig.rmsprop_eps`), every
    gradient element clipped to [-10, 10], no outlier-step guard. Adam on batches of 8 to
    64 stalled on a plateau where the model answers with each channel's majority bit (the
    NTM page of the docs).
    """

    out: str = "runs/repeat_copy"
    steps: int = 60000
    batch_size: int = 1
    optimizer: str = "rmsprop"
    lr: float = 1e-4
    clip_value: float | None = 10.0
    skip_spikes: float | None = None
    eval_every: int = 2000
    max_len: int = 10
    max_repeats: int = 10
    test_settings: tuple[str, ...] = ("10x15", "10x20", "20x10", "20x20")


def main(argv=None) -> dict:
    cfg = parse_config(RepeatCopyConfig, argv)
    generalisation = {}
    for setting in cfg.test_settings:
        length, repeats = (int(v) for v in setting.split("x"))
        generalisation[f"L={length},R={repeats}"] = {"length": length, "repeats": repeats}
    return run_bit_task(
        cfg,
        repeat_copy_batch,
        input_size=10,
        output_size=9,
        train_kwargs={"max_len": cfg.max_len, "max_repeats": cfg.max_repeats},
        generalisation=generalisation,
        curriculum_key="max_repeats",  # --curriculum: copy first (R <= 2), then more repeats
        plot_kwargs={"length": 5, "repeats": 3},
    )


if __name__ == "__main__":
    main()
