r"""The Child-Sum Tree-LSTM (Tai, Socher & Manning 2015) on the level-batched engine."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import torch
from torch import Tensor

from memnets._checks import check_positive_int
from memnets.functional.gates import _tree_lstm_leaf_update_unchecked, _tree_lstm_update_unchecked
from memnets.nn._init import uniform_
from memnets.nn.trees._fused import child_sum_forest
from memnets.nn.trees._lstm import LSTM_GATES, NODE_GATES, LSTMLevelInput, lstm_level_inputs, update_order
from memnets.nn.trees.engine import LevelBatched, LevelEdges

__all__ = ["ChildSumTreeLSTM"]


class _ChildSumWeights(NamedTuple):
    """The hidden-to-hidden weights of one forward pass, transposed for ``addmm``."""

    node_gates: Tensor  # (H, 3H): U^(i), U^(u), U^(o)
    forget: Tensor  # (H, H): U^(f)


class ChildSumTreeLSTM(LevelBatched[LSTMLevelInput, _ChildSumWeights]):
    r"""Child-Sum Tree-LSTM: an LSTM whose previous state is the sum of the children's.

    Tai, Socher & Manning (2015), "Improved semantic representations from tree-structured
    long short-term memory networks", eqs. (2)-(8). For node $j$ with children $C(j)$:

    $$\tilde h_j = \sum_{k \in C(j)} h_k$$
    $$i_j = \sigma(W^{(i)} x_j + U^{(i)} \tilde h_j + b^{(i)}),\quad
      o_j = \sigma(W^{(o)} x_j + U^{(o)} \tilde h_j + b^{(o)}),\quad
      u_j = \tanh(W^{(u)} x_j + U^{(u)} \tilde h_j + b^{(u)})$$
    $$f_{jk} = \sigma(W^{(f)} x_j + U^{(f)} h_k + b^{(f)})$$
    $$c_j = i_j \odot u_j + \sum_{k \in C(j)} f_{jk} \odot c_k, \qquad h_j = o_j \odot \tanh(c_j),$$

    one forget gate per child. The update is `tree_lstm_update`; a leaf (no children)
    takes `tree_lstm_leaf_update`, $c_j = i_j \odot u_j$. The forward pass evaluates
    forest level by level, as every `LevelBatched` model does, but in place in a few
    forest-wide buffers and with a hand-derived backward pass (``memnets.nn.trees._fused``):
    the same values, fewer operations; the backward pass is not itself differentiable (no
    double backward). Under autocast it takes the composed evaluation.
    Parameters are named and laid out as in `torch.nn.LSTMCell` (gate blocks i, f,
    g = u, o; $b = b_{ih} + b_{hh}$), so on a chain (one child per node) this model *is*
    that LSTM cell and loads its ``state_dict``.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        bias: use $b_{ih}$ and $b_{hh}$.
        device: device of the parameters.
        dtype: dtype of the parameters (and of the inputs it accepts).

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H); h_root, c_root: (R, H).

    Examples:
        >>> import torch
        >>> model = ChildSumTreeLSTM(4, 8)
        >>> edge_index = torch.tensor([[1, 2, 3], [0, 0, 2]])  # children 1, 2 of 0; 3 of 2
        >>> h, (h_root, c_root) = model(torch.randn(4, 4), edge_index)
        >>> h.shape, h_root.shape
        (torch.Size([4, 8]), torch.Size([1, 8]))
    """

    num_states = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("ChildSumTreeLSTM", input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        rows = LSTM_GATES * hidden_size
        self._make_parameters(rows, (rows, hidden_size), bias, device, dtype)
        # Rows of the i, f, g, o layout in the order the update reads: i, u (= g), o, then f.
        self.register_buffer("_update_rows", update_order(hidden_size, 1).to(device), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's recurrent initialisation, every parameter uniform in ±1/√H."""
        uniform_(self, self.hidden_size)

    def _project(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[LSTMLevelInput], _ChildSumWeights]:
        rows = self._update_rows
        bias = None if self.bias_ih is None else (self.bias_ih + self.bias_hh).index_select(0, rows)
        inputs = lstm_level_inputs(x, sizes, self.weight_ih.index_select(0, rows), bias, self.hidden_size)
        u = self.weight_hh.index_select(0, rows)
        split = NODE_GATES * self.hidden_size
        return inputs, _ChildSumWeights(u[:split].t(), u[split:].t())

    def _level(self, inputs: LSTMLevelInput, children: tuple[Tensor, ...], edges: LevelEdges,
               weights: _ChildSumWeights) -> tuple[Tensor, ...]:
        if inputs.forget is None:  # the leaves: no children
            return _tree_lstm_leaf_update_unchecked(inputs.gates)
        child_h, child_c = children
        summed = child_h.new_zeros(inputs.gates.shape[0], self.hidden_size).index_add(0, edges.parent, child_h)
        gates = torch.addmm(inputs.gates, summed, weights.node_gates)
        forget = torch.addmm(inputs.forget.index_select(0, edges.parent), child_h, weights.forget)
        return _tree_lstm_update_unchecked(gates, forget, child_c, edges.parent)

    def forward(self, x: Tensor, tree: Any) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Every node's hidden state and the roots' ``(h, c)``, like ``torch.nn.LSTM``'s ``(output, (h_n, c_n))``.

        Args:
            x: node features (V, F); rows of nodes without input may be zeros.
            tree: a ``Data``/``Batch`` (child → parent ``edge_index``), a
                `TreeSchedule` or an ``edge_index``.

        Returns:
            ``(h, (h_root, c_root))``: (V, H) in node order; (R, H) each, roots ascending.
        """
        h, (h_root, c_root) = self._propagate(x, tree)
        return h, (h_root, c_root)

    def _propagate(self, x: Tensor, tree: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
        """`LevelBatched._propagate` fused (`child_sum_forest`); the composed evaluation
        from `_project` and `_level` stays the definition the tests compare it with, and the
        path under autocast (the fused buffers hold one dtype)."""
        if torch.is_autocast_enabled(x.device.type):
            return super()._propagate(x, tree)
        schedule = self._checked_schedule(x, tree)
        if schedule.num_levels == 0:
            empty = x.new_zeros(0, self.hidden_size)
            return empty, (empty, empty)
        rows = self._update_rows
        bias = None if self.bias_ih is None else (self.bias_ih + self.bias_hh).index_select(0, rows)
        h, h_root, c_root = child_sum_forest(x, self.weight_ih.index_select(0, rows), bias,
                                             self.weight_hh.index_select(0, rows), schedule)
        return h, (h_root, c_root)
