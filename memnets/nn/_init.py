"""Parameter initialisations shared by the families."""

from __future__ import annotations

import math

from torch import nn

__all__ = ["uniform_"]


def uniform_(module: nn.Module, hidden_size: int, recurse: bool = True) -> None:
    r"""torch's recurrent initialisation: every parameter drawn from $\mathcal{U}(-1/\sqrt{H}, 1/\sqrt{H})$.

    Args:
        module: the module whose parameters are drawn (in place).
        hidden_size: $H$, the size that sets the bound.
        recurse: also draw the parameters of submodules (as ``module.parameters()``).
    """
    bound = 1.0 / math.sqrt(hidden_size)
    for weight in module.parameters(recurse=recurse):
        nn.init.uniform_(weight, -bound, bound)
