"""Two helpers of the recurrent family: the batch-first layout and one-pass initialisation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["time_first", "materialise"]


def time_first(x: Tensor | None, batch_first: bool) -> Tensor | None:
    """(B, T, ...) -> (T, B, ...) when ``batch_first`` (a view), else ``x`` itself.

    Its own inverse: the models run time first and give a batch-first caller its output
    back through the same call.
    """
    return x.transpose(0, 1) if batch_first and x is not None else x


def materialise(module: nn.Module, device: torch.device | str | None) -> None:
    """Give a module whose submodules were built on the meta device its storage, and draw it.

    The composite models build their submodules on the meta device (no values, no random
    draws) and draw every parameter once, in their ``reset_parameters`` at the end of
    ``__init__``, in the order the submodules' own constructors would have drawn them.

    Args:
        module: a module with a ``reset_parameters`` method.
        device: where the parameters live (``None``: torch's default device).
    """
    module.to_empty(device=torch.get_default_device() if device is None else device)
    module.reset_parameters()
