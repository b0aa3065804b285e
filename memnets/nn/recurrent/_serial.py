"""One thread for the time loops of the fused sequences when their steps are small.

A step of a recurrent time loop is one small matrix product and a few element-wise
operations. torch leaves element-wise operations below its grain size on one thread, but
the matrix library may split even a (64 × 32)·(32 × 128) product across every thread,
and at that size the threads' synchronisation costs more than the product saves.
`serial_loop` runs a loop whose matrix products are below `SERIAL_FLOPS` multiply-adds
on one thread and restores the thread count afterwards; the work outside the loop (the
input projection, the gradients of the weights) keeps every thread. The thread count is
torch's process-wide setting, so another Python thread running torch operations during
the loop runs them on one thread too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["SERIAL_FLOPS", "serial_loop"]

#: Multiply-adds of one step's matrix product below which the loop runs on one thread.
SERIAL_FLOPS = 1 << 22


@contextlib.contextmanager
def serial_loop(device: torch.device, flops: int) -> Iterator[None]:
    """Run the enclosed CPU loop on one thread when a step's product has fewer than
    `SERIAL_FLOPS` multiply-adds (``flops``); otherwise, or off the CPU, change nothing."""
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1 or flops >= SERIAL_FLOPS:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
