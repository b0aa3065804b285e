r"""The child-sum tree GRU on the level-batched engine."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from memnets._checks import check_positive_int
from memnets.functional.gates import GRU_NUM_GATES, _gru_update_unchecked
from memnets.nn._init import uniform_
from memnets.nn.trees.engine import LevelEdges, _SingleStateTree

__all__ = ["TreeGRU"]


class TreeGRU(_SingleStateTree):
    r"""Child-sum tree GRU: a GRU update whose previous state is the sum of the children's.

    There is no single canonical tree GRU; this is the child-sum form, the GRU
    counterpart of Tai et al.'s (2015) Child-Sum Tree-LSTM, with torch's GRU equations
    (Cho et al. 2014) and `gru_update`:

    $$\tilde h_j = \sum_{k \in C(j)} h_k$$
    $$r_j = \sigma(W_{ir} x_j + b_{ir} + W_{hr} \tilde h_j + b_{hr}),\quad
      z_j = \sigma(W_{iz} x_j + b_{iz} + W_{hz} \tilde h_j + b_{hz})$$
    $$n_j = \tanh(W_{in} x_j + b_{in} + r_j \odot (W_{hn} \tilde h_j + b_{hn})),\qquad
      h_j = (1 - z_j) \odot n_j + z_j \odot \tilde h_j.$$

    A leaf has $\tilde h_j = 0$. Parameter names and layout as `torch.nn.GRUCell`
    (blocks r, z, n): on a chain it is that cell and loads its ``state_dict``.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        bias: use $b_{ih}$ and $b_{hh}$.
        device: device of the parameters.
        dtype: dtype of the parameters (and of the inputs it accepts).

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H), h_root: (R, H).

    Examples:
        >>> import torch
        >>> edge_index = torch.tensor([[1, 2, 3], [0, 0, 2]])
        >>> h, h_root = TreeGRU(2, 8)(torch.randn(4, 2), edge_index)
        >>> h.shape, h_root.shape
        (torch.Size([4, 8]), torch.Size([1, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("TreeGRU", input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = GRU_NUM_GATES * hidden_size
        self._make_parameters(rows, (rows, hidden_size), bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's recurrent initialisation, every parameter uniform in ±1/√H."""
        uniform_(self, self.hidden_size)

    def _project(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Tensor], None]:
        return F.linear(x, self.weight_ih, self.bias_ih).split(sizes), None

    def _level(self, inputs: Tensor, children: tuple[Tensor, ...], edges: LevelEdges,
               weights: None) -> tuple[Tensor, ...]:
        (child_h,) = children
        summed = child_h.new_zeros(inputs.shape[0], self.hidden_size)
        if child_h.shape[0]:
            summed = summed.index_add(0, edges.parent, child_h)
            hidden = F.linear(summed, self.weight_hh, self.bias_hh)
        elif self.bias_hh is not None:  # leaves: W_hh · 0 = 0
            hidden = self.bias_hh.expand(inputs.shape[0], -1)
        else:
            hidden = torch.zeros_like(inputs)
        return (_gru_update_unchecked(inputs, hidden, summed),)

