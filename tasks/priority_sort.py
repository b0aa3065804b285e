"""Priority sort (Graves et al. 2014, §4.5): output the highest-priority vectors, highest first.

    python -m tasks.priority_sort --out runs/priority_sort [--seed S] [--steps N] ...

20 vectors of 8 random bits with priorities ~ U[-1, 1]; the target is the 16
highest-priority vectors in order (TASKS.md). Graves 2014 used 2 read and 2 write heads
(here ``--num-read-heads``/``--num-write-heads``, default 2) and reports about 18-20
bits per sequence after 1M sequences.
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.bits import priority_sort_batch
from memnets.training import parse_config
from memnets.training.bits import BitTaskConfig, run_bit_task


@dataclass
class PrioritySortConfig(BitTaskConfig):
    """Priority sort: 20 inputs, the 16 of highest priority as output."""

    out: str = "runs/priority_sort"
    steps: int = 10000
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 500
    num_read_heads: int = 2
    num_write_heads: int = 2
    num_inputs: int = 20
    num_outputs: int = 16


def main(argv=None) -> dict:
    cfg = parse_config(PrioritySortConfig, argv)
    return run_bit_task(
        cfg,
        priority_sort_batch,
        input_size=10,
        output_size=8,
        train_kwargs={"num_inputs": cfg.num_inputs, "num_outputs": cfg.num_outputs},
        generalisation={},
    )


if __name__ == "__main__":
    main()
