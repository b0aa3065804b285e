r"""The N-ary Tree-LSTM (Tai, Socher & Manning 2015) on the level-batched engine."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from memnets._checks import check_positive_int
from memnets.functional.gates import _tree_lstm_leaf_update_unchecked, _tree_lstm_update_unchecked
from memnets.nn._init import uniform_
from memnets.nn.trees._lstm import LSTM_GATES, NODE_GATES, LSTMLevelInput, lstm_level_inputs, update_order
from memnets.nn.trees.engine import LevelBatched, LevelEdges, check_arity
from memnets.nn.trees.schedule import TreeSchedule

__all__ = ["NaryTreeLSTM"]


class _NaryWeights(NamedTuple):
    """The hidden-to-hidden weights of one forward pass, rows in the update's order."""

    weight_hh: Tensor  # ((3 + N)H, NH): i, u, o, f_1..f_N
    bias_hh: Tensor | None  # ((3 + N)H,)


class NaryTreeLSTM(LevelBatched[LSTMLevelInput, _NaryWeights]):
    r"""N-ary Tree-LSTM: ordered children, each slot with its own weights.

    Tai, Socher & Manning (2015), eqs. (9)-(14). For node $j$ with children
    $h_{j1}, \dots, h_{jN}$ in slot order (absent children are zero vectors):

    $$i_j = \sigma\Big(W^{(i)} x_j + \sum_{l=1}^N U^{(i)}_l h_{jl} + b^{(i)}\Big),\quad
      o_j, u_j \text{ alike (} \tanh \text{ for } u_j\text{)}$$
    $$f_{jk} = \sigma\Big(W^{(f)} x_j + \sum_{l=1}^N U^{(f)}_{kl} h_{jl} + b^{(f)}_k\Big)$$
    $$c_j = i_j \odot u_j + \sum_{k} f_{jk} \odot c_{jk}, \qquad h_j = o_j \odot \tanh(c_j),$$

    one forget gate per child that sees all siblings ($U^{(f)}_{kl}$, an $N \times N$
    grid of blocks). The update is `tree_lstm_update`; a leaf takes
    `tree_lstm_leaf_update`. Layout: ``weight_ih`` (4H, F) with blocks i, f, g = u, o
    (as ``torch.nn.LSTMCell``; $W^{(f)}$ shared by the children); ``weight_hh``
    ((3 + N)H, NH) with row blocks i, f_1..f_N, g, o and column blocks the child slots.
    With N = 1 it is `torch.nn.LSTMCell` on a chain.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        arity: N, the most children per node.
        bias: use $b_{ih}$ and $b_{hh}$.
        device: device of the parameters.
        dtype: dtype of the parameters (and of the inputs it accepts).

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H); h_root, c_root: (R, H).

    Examples:
        >>> import torch
        >>> edge_index = torch.tensor([[1, 2], [0, 0]])  # node 0 with children 1, 2
        >>> h, (h_root, c_root) = NaryTreeLSTM(3, 8, arity=2)(torch.randn(3, 3), edge_index)
        >>> h.shape, h_root.shape
        (torch.Size([3, 8]), torch.Size([1, 8]))
    """

    num_states = 2

    def __init__(self, input_size: int, hidden_size: int, arity: int = 2, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("NaryTreeLSTM", input_size=input_size, hidden_size=hidden_size, arity=arity)
        self.input_size, self.hidden_size, self.arity = input_size, hidden_size, arity
        hh_rows = (NODE_GATES + arity) * hidden_size
        self._make_parameters(LSTM_GATES * hidden_size, (hh_rows, arity * hidden_size), bias, device, dtype)
        self.register_buffer("_input_rows", update_order(hidden_size, 1).to(device), persistent=False)
        self.register_buffer("_hidden_rows", update_order(hidden_size, arity).to(device), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's recurrent initialisation, every parameter uniform in ±1/√H."""
        uniform_(self, self.hidden_size)

    def _check_schedule(self, schedule: TreeSchedule) -> None:
        check_arity("NaryTreeLSTM", self.arity, schedule)

    def _project(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[LSTMLevelInput], _NaryWeights]:
        b_ih = None if self.bias_ih is None else self.bias_ih.index_select(0, self._input_rows)
        b_hh = None if self.bias_hh is None else self.bias_hh.index_select(0, self._hidden_rows)
        inputs = lstm_level_inputs(x, sizes, self.weight_ih.index_select(0, self._input_rows), b_ih,
                                   self.hidden_size)
        return inputs, _NaryWeights(self.weight_hh.index_select(0, self._hidden_rows), b_hh)

    def _level(self, inputs: LSTMLevelInput, children: tuple[Tensor, ...], edges: LevelEdges,
               weights: _NaryWeights) -> tuple[Tensor, ...]:
        split = NODE_GATES * self.hidden_size
        if inputs.forget is None:  # the leaves: every child absent, U h = 0
            gates = inputs.gates if weights.bias_hh is None else inputs.gates + weights.bias_hh[:split]
            return _tree_lstm_leaf_update_unchecked(gates)
        child_h, child_c = children
        pad = edges.parent * self.arity + edges.slot  # row v*N + k: node v's child in slot k
        padded = child_h.new_zeros(inputs.gates.shape[0] * self.arity, self.hidden_size).index_copy(0, pad, child_h)
        hh = F.linear(rearrange(padded, "(v k) h -> v (k h)", k=self.arity), weights.weight_hh, weights.bias_hh)
        hh_gates, hh_forget = hh.split((split, self.arity * self.hidden_size), dim=1)  # i, u, o | f_1..f_N
        per_slot = rearrange(hh_forget, "v (k h) -> (v k) h", k=self.arity)
        forget = inputs.forget.index_select(0, edges.parent) + per_slot.index_select(0, pad)
        return _tree_lstm_update_unchecked(inputs.gates + hh_gates, forget, child_c, edges.parent)

    def forward(self, x: Tensor, tree: Any) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Every node's hidden state and the roots' ``(h, c)``.

        Args:
            x: node features (V, F); rows of nodes without input may be zeros.
            tree: a ``Data``/``Batch`` (with ``child_slot`` for the order of the
                children; default the order of the edges), a `TreeSchedule` or an
                ``edge_index``.

        Returns:
            ``(h, (h_root, c_root))``: (V, H) in node order; (R, H) each, roots ascending.
        """
        h, (h_root, c_root) = self._propagate(x, tree)
        return h, (h_root, c_root)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, arity={self.arity}"
