"""Priority sort (Graves et al. 2014, §4.5): output the highest-priority vectors, highest first.

    python -m tasks.priority_sort --out runs/priority_sort [--seed S] [--steps N] ...

20 vectors of 8 random bits with priorities ~ U[-1, 1]; the target is the 16
highest-priority vectors in order. Graves et al. used 2 read and 2 write heads (here
``--num-read-heads``/``--num-write-heads``, default 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import priority_sort_batch
from memnets.training import option
from tasks import _bits, _harness


@dataclass
class PrioritySortConfig(_bits.BitTaskConfig):
    """Priority sort: num_inputs inputs, the num_outputs of highest priority as output.

    Args:
        num_inputs: vectors to read.
        num_outputs: vectors to write back (at most num_inputs).
    """

    out: str = "runs/priority_sort"
    steps: int = 10000
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 500
    num_read_heads: int = 2
    num_write_heads: int = 2
    num_inputs: int = option(20, low=1)
    num_outputs: int = option(16, low=1)

    def validate(self) -> None:
        super().validate()
        if self.num_outputs > self.num_inputs:
            raise ValueError(f"PrioritySortConfig: expected num_outputs <= num_inputs, got {self.num_outputs} > "
                             f"{self.num_inputs}")


def main(argv=None) -> dict:
    cfg = _harness.parse(PrioritySortConfig, argv, __doc__)
    return _bits.run_bits(
        cfg,
        "priority_sort",
        priority_sort_batch,
        input_size=10,
        output_size=8,
        train_kwargs={"num_inputs": cfg.num_inputs, "num_outputs": cfg.num_outputs},
        generalisation={},
    )


if __name__ == "__main__":
    main()
