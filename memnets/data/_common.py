"""Argument checks shared by the data generators of several modules."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["check_cpu_generator"]


def check_cpu_generator(where: str, generator: Any) -> None:
    """``generator``: ``None`` or a CPU ``torch.Generator`` (tensors are drawn on the CPU, then moved).

    Raises:
        TypeError: not a ``torch.Generator``.
        ValueError: a generator on another device.
    """
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"{where}: generator should be a torch.Generator or None, got: {type(generator).__name__}")
    if generator.device.type != "cpu":
        raise ValueError(f"{where}: expected a CPU generator (tensors are drawn on the CPU, then moved), "
                         f"got a generator on {generator.device}")
