"""Repeat copy (Graves et al. 2014, §4.2): copy a sequence R times, then emit an end marker.

    python -m tasks.repeat_copy --out runs/repeat_copy [--seed S] [--steps N] [--model ntm|lstm|dnc] ...

Trains on L ~ U{1..10}, R ~ U{1..10}; tests beyond ten repeats and longer sequences. The
defaults are Graves et al.'s recipe: one sequence per step, the centred RMSprop
(`GravesRMSprop`) at 1e-4, every gradient element clipped to [-10, 10], no outlier-step
guard.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import repeat_copy_batch
from memnets.training import option
from tasks import _bits, _harness


@dataclass
class RepeatCopyConfig(_bits.BitTaskConfig):
    """Repeat copy: L ~ U{1..max_len}, R ~ U{1..max_repeats}; tested at R and L up to 20.

    Args:
        max_len: the longest training sequence.
        max_repeats: the most repeats in training.
        test_settings: the generalisation settings, each ``LENGTHxREPEATS``.
        zero_vectors: the probability that a training data vector is all zeros
            (`repeat_copy_batch`'s ``zero_vectors``; the evaluations draw the paper's bits).
    """

    out: str = "runs/repeat_copy"
    steps: int = 60000
    batch_size: int = 1
    optimizer: str = "rmsprop"
    lr: float = 1e-4
    clip_value: float | None = 10.0
    skip_spikes: float | None = None
    eval_every: int = 2000
    max_len: int = option(10, low=1)
    max_repeats: int = option(10, low=1)
    test_settings: tuple[str, ...] = option(("10x15", "10x20", "20x10", "20x20"))
    zero_vectors: float = option(0.0, low=0.0, high=1.0)

    def validate(self) -> None:
        super().validate()
        for setting in self.test_settings:
            parts = setting.split("x")
            if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
                raise ValueError(f"RepeatCopyConfig: expected test_settings like '10x15' (length x repeats, both "
                                 f"at least 1), got {setting!r}")

    def generalisation(self) -> dict[str, dict[str, int]]:
        """The test settings as arguments of `repeat_copy_batch`, by name."""
        settings = {}
        for setting in self.test_settings:
            length, repeats = (int(v) for v in setting.split("x"))
            settings[f"L={length},R={repeats}"] = {"length": length, "repeats": repeats}
        return settings


def main(argv=None) -> dict:
    cfg = _harness.parse(RepeatCopyConfig, argv, __doc__)
    return _bits.run_bits(
        cfg,
        "repeat_copy",
        repeat_copy_batch,
        input_size=10,
        output_size=9,
        train_kwargs={"max_len": cfg.max_len, "max_repeats": cfg.max_repeats},
        generalisation=cfg.generalisation(),
        curriculum_key="max_repeats",  # --curriculum: copy first (R <= 2), then more repeats
        plot_kwargs={"length": 5, "repeats": 3},
        sample_kwargs={"zero_vectors": cfg.zero_vectors} if cfg.zero_vectors else None,
    )


if __name__ == "__main__":
    main()
