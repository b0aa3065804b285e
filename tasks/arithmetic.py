"""Arithmetic expressions: compute the value of nested + / − expressions, deeper than trained on.

    python -m tasks.arithmetic --out runs/arithmetic [--seed S] [--steps N] [--model tree|lstm] ...

Expressions over integers −10..10 with ``+`` and ``-``, nesting depth 1..4 in training;
the final evaluation tests every depth from 1 to 8 (generalisation in depth, where tree
models should beat sequence models). A regression: the model outputs the value in units
of ``--value-scale``; a prediction counts as right when it rounds to the value. The tree
model reads the gold tree, the LSTM baseline the fully bracketed infix string
``( 3 + ( -4 - 7 ) )``. The default tree encoder is the N-ary Tree-LSTM with N = 2:
subtraction is not symmetric, and a child-sum model cannot tell ``a - b`` from ``b - a``.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.trees import (
    ARITHMETIC_SEQUENCE_VOCAB,
    ARITHMETIC_VOCAB,
    arithmetic_batch,
)
from memnets.training.config import LR_SCHEDULES, option
from tasks import _harness
from tasks._trees import TreeTask, TreeTaskConfig, run_tree_task


@dataclass
class ArithmeticConfig(TreeTaskConfig):
    """Arithmetic: train on depth min_depth..max_depth, test on every depth up to max_test_depth.

    Args:
        min_depth: shallowest nesting depth in training.
        max_depth: deepest nesting depth in training (4).
        max_test_depth: the final evaluation tests every depth up to this (8).
        leaf_prob: probability that an operator's shallower operand is a number.
        value_scale: the regression's unit: the model outputs value / value_scale.
        lr_schedule: cosine by default: the regression needs its error well below half a
            unit, and a decaying learning rate gets there.
    """

    out: str = option("runs/arithmetic")
    lr_schedule: str = option("cosine", choices=LR_SCHEDULES)
    min_depth: int = option(1, low=1)
    max_depth: int = option(4, low=1)
    max_test_depth: int = option(8, low=1)
    leaf_prob: float = option(0.5, low=0.0, high=1.0)
    value_scale: float = option(10.0, low=0.0, open_low=True)

    def validate(self) -> None:
        super().validate()
        if not self.min_depth <= self.max_depth <= self.max_test_depth:
            raise ValueError(f"{type(self).__name__}: expected min_depth <= max_depth <= max_test_depth, got "
                             f"{self.min_depth}, {self.max_depth}, {self.max_test_depth}")


def make_task(cfg: ArithmeticConfig) -> TreeTask:
    """The training distribution of ``cfg``."""
    return TreeTask(arithmetic_batch, regression=True, value_scale=cfg.value_scale, eval_size=cfg.eval_size,
                    min_depth=cfg.min_depth, max_depth=cfg.max_depth, leaf_prob=cfg.leaf_prob)


def main(argv=None) -> dict:
    cfg = _harness.parse(ArithmeticConfig, argv, __doc__)
    settings = {"train depths": {}}
    settings.update({f"depth {d}": {"min_depth": d, "max_depth": d}
                     for d in range(cfg.max_depth + 1, cfg.max_test_depth + 1)})
    return run_tree_task(cfg, "arithmetic", make_task, (len(ARITHMETIC_VOCAB), len(ARITHMETIC_SEQUENCE_VOCAB)), 1,
                         settings)


if __name__ == "__main__":
    main()
