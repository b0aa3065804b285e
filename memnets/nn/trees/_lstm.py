"""The gate layout the two Tree-LSTMs share: torch's LSTM rows reordered for `tree_lstm_update`.

Both Tree-LSTMs store their weights as `torch.nn.LSTMCell` does (row blocks i, f, g, o;
the N-ary model with one forget block per child slot), so that they load its
``state_dict``; `tree_lstm_update` reads the node gates in the order i, u (= g), o and
the forget gates apart. These helpers reorder the rows once per forward pass and cut
the input projection into the per-level pieces the update reads.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["NODE_GATES", "LSTM_GATES", "LSTMLevelInput", "update_order", "lstm_level_inputs"]

#: Gate blocks of an LSTM's input projection (i, f, g, o).
LSTM_GATES = 4
#: Node gate blocks that `tree_lstm_update` takes (i, u, o).
NODE_GATES = 3


class LSTMLevelInput(NamedTuple):
    """One level's input projection.

    Attributes:
        gates: (V_ℓ, 3H) the node gates' pre-activations from the inputs (i, u, o).
        forget: (V_ℓ, H) the forget gate's pre-activation from the inputs, ``None`` on
            the leaves (level 0), whose forget gates are never needed.
    """

    gates: Tensor
    forget: Tensor | None


def update_order(hidden_size: int, num_forget: int) -> Tensor:
    """Row permutation from the LSTM layout (i, f_1..f_K, g, o) to (i, g, o, f_1..f_K)."""
    h = hidden_size
    i = torch.arange(0, h)
    f = torch.arange(h, (1 + num_forget) * h)
    g = torch.arange((1 + num_forget) * h, (2 + num_forget) * h)
    o = torch.arange((2 + num_forget) * h, (3 + num_forget) * h)
    return torch.cat((i, g, o, f))


def lstm_level_inputs(x: Tensor, sizes: list[int], weight: Tensor, bias: Tensor | None,
                      hidden_size: int) -> list[LSTMLevelInput]:
    """Per level, the node gates' input projection and (above the leaves) the forget gate's.

    ``weight`` (4H, F) and ``bias`` (4H,) are in the order i, u, o, f; ``x`` is in level
    order, so the leaves are its first ``sizes[0]`` rows.
    """
    split = NODE_GATES * hidden_size
    w_gates, w_forget = weight.split((split, hidden_size))
    b_gates, b_forget = (None, None) if bias is None else bias.split((split, hidden_size))
    gates = F.linear(x, w_gates, b_gates).split(sizes)
    forget = F.linear(x[sizes[0]:], w_forget, b_forget).split(sizes[1:]) if len(sizes) > 1 else ()
    return [LSTMLevelInput(gates[0], None)] + [LSTMLevelInput(g, f) for g, f in zip(gates[1:], forget)]

