r"""The recursive neural network (Socher et al. 2011) on the level-batched engine."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from memnets._checks import check_choice, check_positive_int
from memnets.functional.gates import ACTIVATIONS, rnn_update
from memnets.nn._init import uniform_
from memnets.nn.trees.engine import LevelEdges, _SingleStateTree, check_arity
from memnets.nn.trees.schedule import TreeSchedule

__all__ = ["RecursiveNN"]


class RecursiveNN(_SingleStateTree):
    r"""Recursive neural network: one affine map and a nonlinearity per node.

    Socher et al. (2011), "Parsing natural scenes and natural language with recursive
    neural networks", compose two children as $h = \tanh(W[h_l; h_r] + b)$. Generalised to
    any arity $N$ (missing children count as zero vectors) and to node inputs $x_j$:

    $$h_j = \phi\Big(W_{ih} x_j + b_{ih} + W_{hh}\,[h_{j1}; \dots; h_{jN}] + b_{hh}\Big),$$

    with ``arity=None`` the child-sum form $W_{hh} \sum_{k \in C(j)} h_k$ (one shared
    matrix, any number of children; on a chain it is `torch.nn.RNNCell`).
    A leaf gets $h_j = \phi(W_{ih} x_j + b)$. The nonlinearity goes through
    `rnn_update`.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        arity: N, the most children per node, each slot with its own block of $W_{hh}$;
            ``None`` for the child-sum form.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).
        bias: use $b_{ih}$ and $b_{hh}$.
        device: device of the parameters.
        dtype: dtype of the parameters (and of the inputs it accepts).

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H), h_root: (R, H).

    Examples:
        >>> import torch
        >>> model = RecursiveNN(4, 8, arity=2)
        >>> edge_index = torch.tensor([[1, 2, 3, 4], [0, 0, 1, 1]])  # ((3 4) 2)
        >>> h, h_root = model(torch.randn(5, 4), edge_index)
        >>> h.shape, h_root.shape
        (torch.Size([5, 8]), torch.Size([1, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, arity: int | None = None, nonlinearity: str = "tanh",
                 bias: bool = True, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("RecursiveNN", input_size=input_size, hidden_size=hidden_size)
        if arity is not None:
            check_positive_int("RecursiveNN", arity=arity)
        check_choice("RecursiveNN", "nonlinearity", nonlinearity, ACTIVATIONS)
        self.input_size, self.hidden_size, self.arity, self.nonlinearity = input_size, hidden_size, arity, nonlinearity
        self._make_parameters(hidden_size, (hidden_size, (arity or 1) * hidden_size), bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's recurrent initialisation, every parameter uniform in ±1/√H."""
        uniform_(self, self.hidden_size)

    def _check_schedule(self, schedule: TreeSchedule) -> None:
        if self.arity is not None:
            check_arity("RecursiveNN", self.arity, schedule)

    def _project(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Tensor], None]:
        bias = self.bias_ih if self.bias_hh is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias).split(sizes), None

    def _level(self, inputs: Tensor, children: tuple[Tensor, ...], edges: LevelEdges,
               weights: None) -> tuple[Tensor, ...]:
        (child_h,) = children
        pre = inputs
        if child_h.shape[0]:
            rows = inputs.shape[0]
            if self.arity is None:
                summed = child_h.new_zeros(rows, self.hidden_size).index_add(0, edges.parent, child_h)
            else:  # children laid out by slot: row v*N + k holds node v's child in slot k
                padded = child_h.new_zeros(rows * self.arity, self.hidden_size).index_copy(
                    0, edges.parent * self.arity + edges.slot, child_h)
                summed = rearrange(padded, "(v k) h -> v (k h)", k=self.arity)
            pre = torch.addmm(inputs, summed, self.weight_hh.t())
        return (rnn_update(pre, self.nonlinearity),)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, arity={self.arity}, nonlinearity={self.nonlinearity!r}"
