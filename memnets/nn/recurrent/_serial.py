"""What the fused recurrent sequences share: one thread for their time loops when the steps
are small, the switch to the loop under autocast, and nonlinearities written in place.

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

__all__ = ["ACTIVATIONS_OUT", "SERIAL_FLOPS", "autocast_on", "serial_loop"]

#: The nonlinearities of `memnets.functional.gates.ACTIVATIONS`, written into a given tensor
#: (the fused sequences' steps write into preallocated buffers).
ACTIVATIONS_OUT = {
    "tanh": lambda pre, out: torch.tanh(pre, out=out),
    "relu": lambda pre, out: torch.clamp_min(pre, 0, out=out),
}
#: Multiply-adds of one step's matrix product below which the loop runs on one thread.
SERIAL_FLOPS = 1 << 22


def autocast_on(device: torch.device) -> bool:
    """Whether autocast is enabled for ``device``'s type: the hand-written fused sequences
    write into buffers of one dtype, so under autocast the models take their loop of
    autograd operators instead, which follows autocast's casts.

    Args:
        device: the device of the input.
    """
    return torch.is_autocast_enabled(device.type)


@contextlib.contextmanager
def serial_loop(device: torch.device, flops: int) -> Iterator[None]:
    """Run the enclosed CPU loop on one thread when a step's product has fewer than
    `SERIAL_FLOPS` multiply-adds (``flops``); otherwise, or off the CPU, change nothing.

    Args:
        device: where the loop runs.
        flops: multiply-adds of one step's matrix product.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads == 1 or flops >= SERIAL_FLOPS:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
