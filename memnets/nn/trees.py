r"""Recursive tree networks on the shared gated core, evaluated level by level.

A recursive network computes a node's state from its own input and its children's
states, $h_j = f(x_j, \{h_k\}_{k \in C(j)})$. The update $f$ of every model here is one of
the pure functions of `memnets.functional.gates` -- the same ones the recurrent
cells call -- and only the pre-activations are computed in this module.

**Level batching.** All nodes of the same height (leaves 0) depend only on lower levels,
so each level, across every tree of a batch, is *one* call of the update: concatenate
the blocks of children's states that lower levels handed to this level, sum them per
parent with ``index_add`` (or lay them out by child slot for the N-ary models), apply the
update, and split the new states (views) into the blocks that later levels will read.
No in-place writes, so autograd sees a plain graph, and no gather from the states of the
whole forest, so the backward pass does O(V) work, not O(V × levels). A batch costs one
update per level instead of one per node -- the
idea of TensorFlow Fold's dynamic batching (Looks et al. 2017) and DGL's topological
message passing. The per-level index tensors come precomputed with the batch
(`TreeSchedule`, built by
`collate_trees`).

Inputs follow torch_geometric: node features ``x`` (V, F) and a tree given as a
``Data``/``Batch`` (with ``edge_index`` child → parent, optionally ``child_slot`` and a
``schedule``), a `TreeSchedule`, or a bare ``edge_index``.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from memnets._checks import check_shapes
from memnets.data.trees import TreeSchedule, tree_schedule
from memnets.functional.gates import ACTIVATIONS, gru_update, rnn_update, tree_lstm_update
from memnets.nn.registry import register_model
from memnets.nn.rnn import LSTM

__all__ = [
    "as_schedule",
    "RecursiveNN",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
    "TreeGRU",
    "TREE_CELLS",
    "TreeClassifier",
    "SequenceClassifier",
]

#: Number of gate blocks in an LSTM's input projection (i, f, g, o).
_LSTM_GATES = 4
#: Number of node gate blocks that `tree_lstm_update` takes (i, u, o).
_TREE_LSTM_NODE_GATES = 3
#: Number of gate blocks of a GRU (r, z, n).
_GRU_GATES = 3


def as_schedule(tree: Any, num_nodes: int, where: str = "as_schedule") -> TreeSchedule:
    """The level schedule of ``tree``, computed (and validated) only when not precomputed.

    Args:
        tree: a `TreeSchedule`; a torch_geometric ``Data`` or
            ``Batch`` (its ``schedule`` if it has one, else one computed from
            ``edge_index``, ``num_nodes`` and ``child_slot``); or an ``edge_index``
            tensor (2, E), child → parent.
        num_nodes: V, the number of rows of the node features.
        where: the caller's name for error messages.

    Returns:
        The schedule.

    Raises:
        ValueError: if the tree is malformed or has a different number of nodes.
    """
    if isinstance(tree, TreeSchedule):
        schedule = tree
    elif isinstance(tree, Tensor):
        schedule = tree_schedule(tree, num_nodes)
    elif hasattr(tree, "edge_index"):
        schedule = getattr(tree, "schedule", None)
        if schedule is None:
            schedule = tree_schedule(tree.edge_index, tree.num_nodes, getattr(tree, "child_slot", None))
    else:
        raise ValueError(f"{where}: expected a tree (Data/Batch, TreeSchedule or edge_index), "
                         f"got {type(tree).__name__}")
    if schedule.num_nodes != num_nodes:
        raise ValueError(f"{where}: expected x with one row per node, {schedule.num_nodes} rows, got {num_nodes}")
    return schedule


def _on(schedule: TreeSchedule, device: torch.device) -> TreeSchedule:
    if schedule.order.device == device:
        return schedule
    return TreeSchedule(*(v.to(device) if isinstance(v, Tensor) else v for v in schedule))


def _uniform_(module: nn.Module, hidden_size: int) -> None:
    """torch's RNN initialisation: every parameter uniform in ±1/√H."""
    bound = 1.0 / hidden_size**0.5
    for weight in module.parameters():
        nn.init.uniform_(weight, -bound, bound)


def _sum(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else a + b


class _LevelBatched(nn.Module, metaclass=abc.ABCMeta):
    """Evaluates a recursive update over a forest level by level (shared by every model here).

    Subclasses implement ``_prepare(x, sizes) -> (inputs, ctx)`` (the input projection of
    all nodes at once, ``x`` in level order, cut into one entry per level of the given
    sizes, and per-forward tensors such as permuted weights) and ``_level(inputs,
    children, parent, slot, ctx) -> states`` (one level's update).
    """

    _num_states = 1
    hidden_size: int
    input_size: int

    @abc.abstractmethod
    def _prepare(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Any], Any]:
        """The input projections of every level, and per-forward context."""

    @abc.abstractmethod
    def _level(self, xp: Any, children: tuple[Tensor, ...], parent: Tensor, slot: Tensor,
               ctx: Any) -> tuple[Tensor, ...]:
        """One level's update from its inputs and its children's states."""

    def _check_schedule(self, schedule: TreeSchedule) -> None:
        """Hook for models with a limited arity."""

    def _propagate(self, x: Tensor, tree: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Every node's hidden state (node order) and every state of the roots."""
        name = type(self).__name__
        dims = check_shapes(name, x=(x, "V F"), F=self.input_size)
        schedule = _on(as_schedule(tree, dims["V"], name), x.device)
        self._check_schedule(schedule)
        num_levels, ptr = schedule.num_levels, schedule.node_ptr
        empty = x.new_zeros(0, self.hidden_size, dtype=self.weight_hh.dtype)
        if num_levels == 0:
            return empty, tuple(empty for _ in range(self._num_states))
        # Level order (permuting x, the narrowest tensor), then the input projection of all
        # nodes at once, cut into one view per level (a split: its backward is one cat).
        sizes = [ptr[k + 1] - ptr[k] for k in range(num_levels)]
        inputs, ctx = self._prepare(x.index_select(0, schedule.order), sizes)
        inbox: list[list[list[Tensor]]] = [[[] for _ in range(self._num_states)] for _ in range(num_levels)]
        outputs: list[list[Tensor]] = [[] for _ in range(self._num_states)]
        for level, (_, _, edge_start, edge_end) in enumerate(schedule.levels()):
            children = tuple(blocks[0] if len(blocks) == 1 else torch.cat(blocks) if blocks else empty
                             for blocks in inbox[level])
            new = self._level(inputs[level], children, schedule.parent[edge_start:edge_end],
                              schedule.slot[edge_start:edge_end], ctx)
            blocks_out = schedule.outflow[level]
            for k, state in enumerate(new):
                outputs[k].append(state)
                pieces = torch.split(state, [rows for _, rows in blocks_out]) if len(blocks_out) > 1 else (state,)
                for (consumer, _), piece in zip(blocks_out, pieces):
                    if consumer < num_levels:
                        inbox[consumer][k].append(piece)
            inbox[level] = []
        states = [torch.cat(out) for out in outputs]
        roots = tuple(s.index_select(0, schedule.root_position) for s in states)
        return states[0].index_select(0, schedule.position), roots

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RecursiveNN(_LevelBatched):
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

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H), h_root: (R, H).

    Examples:
        >>> from memnets.data.trees import tree_from_string
        >>> model = RecursiveNN(4, 8, arity=2)
        >>> tree = tree_from_string("((0 1) 2)")
        >>> h, h_root = model(torch.randn(tree.num_nodes, 4), tree)
        >>> h.shape, h_root.shape
        (torch.Size([5, 8]), torch.Size([1, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, arity: int | None = None, nonlinearity: str = "tanh",
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if nonlinearity not in ACTIVATIONS:
            raise ValueError(f"RecursiveNN: expected nonlinearity in {sorted(ACTIVATIONS)}, got {nonlinearity!r}")
        if arity is not None and (not isinstance(arity, int) or arity < 1):
            raise ValueError(f"RecursiveNN: expected arity None or a positive integer, got {arity!r}")
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.arity, self.nonlinearity = input_size, hidden_size, arity, nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, (arity or 1) * hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hidden_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_(self, self.hidden_size)

    def _check_schedule(self, schedule: TreeSchedule) -> None:
        if self.arity is not None and schedule.max_slot > self.arity:
            raise ValueError(f"RecursiveNN: expected at most arity={self.arity} children per node (child slots "
                             f"0..{self.arity - 1}), got a child in slot {schedule.max_slot - 1}")

    def _prepare(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Any], Any]:
        return F.linear(x, self.weight_ih, _sum(self.bias_ih, self.bias_hh)).split(sizes), None

    def _level(self, xp, children, parent, slot, ctx):
        (child_h,) = children
        pre = xp
        if child_h.shape[0]:
            rows = xp.shape[0]
            if self.arity is None:
                summed = child_h.new_zeros(rows, self.hidden_size).index_add(0, parent, child_h)
                pre = torch.addmm(xp, summed, self.weight_hh.t())
            else:
                padded = child_h.new_zeros(rows * self.arity, self.hidden_size).index_copy(
                    0, parent * self.arity + slot, child_h)
                pre = torch.addmm(xp, rearrange(padded, "(v k) h -> v (k h)", k=self.arity), self.weight_hh.t())
        return (rnn_update(pre, self.nonlinearity),)

    def forward(self, x: Tensor, tree: Any) -> tuple[Tensor, Tensor]:
        """Every node's state and the roots' states.

        Args:
            x: node features (V, F); rows of nodes without input may be zeros.
            tree: a ``Data``/``Batch`` (child → parent ``edge_index``), a
                `TreeSchedule` or an ``edge_index``.

        Returns:
            ``(h, h_root)``: (V, H) in node order and (R, H) in root order (ascending id).
        """
        h, (h_root,) = self._propagate(x, tree)
        return h, h_root

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, arity={self.arity}, nonlinearity={self.nonlinearity!r}"


class ChildSumTreeLSTM(_LevelBatched):
    r"""Child-Sum Tree-LSTM: an LSTM whose previous state is the sum of the children's.

    Tai, Socher & Manning (2015), "Improved semantic representations from tree-structured
    long short-term memory networks", eqs. (2)-(8). For node $j$ with children $C(j)$:

    $$\tilde h_j = \sum_{k \in C(j)} h_k$$
    $$i_j = \sigma(W^{(i)} x_j + U^{(i)} \tilde h_j + b^{(i)}),\quad
      o_j = \sigma(W^{(o)} x_j + U^{(o)} \tilde h_j + b^{(o)}),\quad
      u_j = \tanh(W^{(u)} x_j + U^{(u)} \tilde h_j + b^{(u)})$$
    $$f_{jk} = \sigma(W^{(f)} x_j + U^{(f)} h_k + b^{(f)})$$
    $$c_j = i_j \odot u_j + \sum_{k \in C(j)} f_{jk} \odot c_k, \qquad h_j = o_j \odot \tanh(c_j),$$

    one forget gate per child. The update is `tree_lstm_update`.
    Parameters are named and laid out as in `torch.nn.LSTMCell` (gate blocks i, f,
    g = u, o; $b = b_{ih} + b_{hh}$), so on a chain (one child per node) this model *is*
    that LSTM cell and loads its ``state_dict``.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        bias: use $b_{ih}$ and $b_{hh}$.

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H); h_root, c_root: (R, H).

    Examples:
        >>> from memnets.data.trees import collate_trees, tree_from_string
        >>> batch = collate_trees([tree_from_string("(1 (2 3) 4)"), tree_from_string("5")])
        >>> model = ChildSumTreeLSTM(4, 8)
        >>> h, (h_root, c_root) = model(torch.randn(batch.num_nodes, 4), batch)
        >>> h.shape, h_root.shape
        (torch.Size([7, 8]), torch.Size([2, 8]))
    """

    _num_states = 2

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(_LSTM_GATES * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(_LSTM_GATES * hidden_size, hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(_LSTM_GATES * hidden_size, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(_LSTM_GATES * hidden_size, **factory)) if bias else None
        # Rows of the i, f, g, o layout in the order the update wants: i, u(=g), o, then f.
        self.register_buffer("_iuof", _gate_rows(hidden_size, 1), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_(self, self.hidden_size)

    def _prepare(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Any], Any]:
        bias = _sum(self.bias_ih, self.bias_hh)
        bias = None if bias is None else bias.index_select(0, self._iuof)
        u = self.weight_hh.index_select(0, self._iuof)
        inputs = _lstm_inputs(x, sizes, self.weight_ih.index_select(0, self._iuof), bias, self.hidden_size)
        split = _TREE_LSTM_NODE_GATES * self.hidden_size
        return inputs, (u[:split].t(), u[split:].t())

    def _level(self, xp, children, parent, slot, ctx):
        child_h, child_c = children
        u_iuo, u_f = ctx
        gates, x_f = xp
        if x_f is None:  # leaves
            return tree_lstm_update(gates, child_h, child_c, parent)
        summed = child_h.new_zeros(gates.shape[0], self.hidden_size).index_add(0, parent, child_h)
        gates = torch.addmm(gates, summed, u_iuo)
        forget = torch.addmm(x_f.index_select(0, parent), child_h, u_f)
        return tree_lstm_update(gates, forget, child_c, parent)

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


def _lstm_inputs(x: Tensor, sizes: list[int], weight: Tensor, bias: Tensor | None,
                 hidden_size: int) -> list[tuple[Tensor, Tensor | None]]:
    """Per level, the node gates' input projection and (above the leaves) the forget gate's.

    ``weight`` and ``bias`` are in the order i, u, o, f; leaves (level 0, the first rows)
    have no children, so their forget projection is never computed.
    """
    split = _TREE_LSTM_NODE_GATES * hidden_size
    w_gates, w_forget = weight.split((split, hidden_size))
    b_gates, b_forget = (None, None) if bias is None else bias.split((split, hidden_size))
    gates = F.linear(x, w_gates, b_gates).split(sizes)
    forget = F.linear(x[sizes[0]:], w_forget, b_forget).split(sizes[1:]) if len(sizes) > 1 else ()
    return [(gates[0], None)] + list(zip(gates[1:], forget))


def _gate_rows(hidden_size: int, num_forget: int) -> Tensor:
    """Row permutation from the LSTM layout (i, f_1..f_K, g, o) to (i, g, o, f_1..f_K)."""
    h = hidden_size
    i = torch.arange(0, h)
    f = torch.arange(h, (1 + num_forget) * h)
    g = torch.arange((1 + num_forget) * h, (2 + num_forget) * h)
    o = torch.arange((2 + num_forget) * h, (3 + num_forget) * h)
    return torch.cat((i, g, o, f))


class NaryTreeLSTM(_LevelBatched):
    r"""N-ary Tree-LSTM: ordered children, each slot with its own weights.

    Tai, Socher & Manning (2015), eqs. (9)-(14). For node $j$ with children
    $h_{j1}, \dots, h_{jN}$ in slot order (absent children are zero vectors):

    $$i_j = \sigma\Big(W^{(i)} x_j + \sum_{l=1}^N U^{(i)}_l h_{jl} + b^{(i)}\Big),\quad
      o_j, u_j \text{ alike (} \tanh \text{ for } u_j\text{)}$$
    $$f_{jk} = \sigma\Big(W^{(f)} x_j + \sum_{l=1}^N U^{(f)}_{kl} h_{jl} + b^{(f)}_k\Big)$$
    $$c_j = i_j \odot u_j + \sum_{k} f_{jk} \odot c_{jk}, \qquad h_j = o_j \odot \tanh(c_j),$$

    one forget gate per child that sees all siblings ($U^{(f)}_{kl}$, an $N \times N$
    grid of blocks). The update is `tree_lstm_update`.
    Layout: ``weight_ih`` (4H, F) with blocks i, f, g = u, o (as ``torch.nn.LSTMCell``;
    $W^{(f)}$ shared by the children); ``weight_hh`` ((3 + N)H, NH) with row blocks
    i, f_1..f_N, g, o and column blocks the child slots. With N = 1 it is
    `torch.nn.LSTMCell` on a chain.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        arity: N, the most children per node.
        bias: use $b_{ih}$ and $b_{hh}$.

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H); h_root, c_root: (R, H).

    Examples:
        >>> from memnets.data.trees import balanced_binary_tree
        >>> tree = balanced_binary_tree(5)
        >>> h, (h_root, c_root) = NaryTreeLSTM(3, 8, arity=2)(torch.randn(tree.num_nodes, 3), tree)
        >>> h.shape, h_root.shape
        (torch.Size([9, 8]), torch.Size([1, 8]))
    """

    _num_states = 2

    def __init__(self, input_size: int, hidden_size: int, arity: int = 2, bias: bool = True, device=None, dtype=None):
        super().__init__()
        if not isinstance(arity, int) or arity < 1:
            raise ValueError(f"NaryTreeLSTM: expected arity to be a positive integer, got {arity!r}")
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.arity = input_size, hidden_size, arity
        hh_rows = (_TREE_LSTM_NODE_GATES + arity) * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(_LSTM_GATES * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hh_rows, arity * hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(_LSTM_GATES * hidden_size, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hh_rows, **factory)) if bias else None
        self.register_buffer("_ih_rows", _gate_rows(hidden_size, 1), persistent=False)
        self.register_buffer("_hh_rows", _gate_rows(hidden_size, arity), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_(self, self.hidden_size)

    def _check_schedule(self, schedule: TreeSchedule) -> None:
        if schedule.max_slot > self.arity:
            raise ValueError(f"NaryTreeLSTM: expected at most arity={self.arity} children per node (child slots "
                             f"0..{self.arity - 1}), got a child in slot {schedule.max_slot - 1}")

    def _prepare(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Any], Any]:
        b_ih = None if self.bias_ih is None else self.bias_ih.index_select(0, self._ih_rows)
        b_hh = None if self.bias_hh is None else self.bias_hh.index_select(0, self._hh_rows)
        inputs = _lstm_inputs(x, sizes, self.weight_ih.index_select(0, self._ih_rows), b_ih, self.hidden_size)
        return inputs, (self.weight_hh.index_select(0, self._hh_rows), b_hh)

    def _level(self, xp, children, parent, slot, ctx):
        child_h, child_c = children
        w_hh, b_hh = ctx
        gates, x_f = xp
        split = _TREE_LSTM_NODE_GATES * self.hidden_size
        if x_f is None:  # leaves: all children absent, U h = 0
            if b_hh is not None:
                gates = gates + b_hh[:split]
            return tree_lstm_update(gates, child_h, child_c, parent)
        pad = parent * self.arity + slot
        padded = child_h.new_zeros(gates.shape[0] * self.arity, self.hidden_size).index_copy(0, pad, child_h)
        hh = F.linear(rearrange(padded, "(v k) h -> v (k h)", k=self.arity), w_hh, b_hh)  # i, u, o | f_1..f_N
        hh_gates, hh_forget = hh.split((split, self.arity * self.hidden_size), dim=1)
        per_slot = rearrange(hh_forget, "v (k h) -> (v k) h", k=self.arity)
        forget = x_f.index_select(0, parent) + per_slot.index_select(0, pad)
        return tree_lstm_update(gates + hh_gates, forget, child_c, parent)

    def forward(self, x: Tensor, tree: Any) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Every node's hidden state and the roots' ``(h, c)``.

        Args:
            x: node features (V, F); rows of nodes without input may be zeros.
            tree: a ``Data``/``Batch`` (with ``child_slot`` for the order of the
                children; default the order of the edges), a
                `TreeSchedule` or an ``edge_index``.

        Returns:
            ``(h, (h_root, c_root))``: (V, H) in node order; (R, H) each, roots ascending.
        """
        h, (h_root, c_root) = self._propagate(x, tree)
        return h, (h_root, c_root)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, arity={self.arity}"


class TreeGRU(_LevelBatched):
    r"""Child-sum tree GRU: a GRU update whose previous state is the sum of the children's.

    There is no single canonical tree GRU; this is the child-sum form, the GRU
    counterpart of Tai et al.'s (2015) Child-Sum Tree-LSTM, with torch's GRU equations
    (Cho et al. 2014) and `gru_update`:

    $$\tilde h_j = \sum_{k \in C(j)} h_k$$
    $$r_j = \sigma(W_{ir} x_j + b_{ir} + W_{hr} \tilde h_j + b_{hr}),\quad
      z_j = \sigma(W_{iz} x_j + b_{iz} + W_{hz} \tilde h_j + b_{hz})$$
    $$n_j = \tanh(W_{in} x_j + b_{in} + r_j \odot (W_{hn} \tilde h_j + b_{hn})),\qquad
      h_j = (1 - z_j) \odot n_j + z_j \odot \tilde h_j.$$

    Parameter names and layout as `torch.nn.GRUCell` (blocks r, z, n): on a chain
    it is that cell and loads its ``state_dict``.

    Args:
        input_size: F, node feature size.
        hidden_size: H, state size.
        bias: use $b_{ih}$ and $b_{hh}$.

    Shapes:
        x: (V, F); tree: V nodes, R roots -> h: (V, H), h_root: (R, H).

    Examples:
        >>> from memnets.data.trees import tree_from_string
        >>> tree = tree_from_string("(1 (2 3) 4)")
        >>> h, h_root = TreeGRU(2, 8)(torch.randn(tree.num_nodes, 2), tree)
        >>> h.shape, h_root.shape
        (torch.Size([6, 8]), torch.Size([1, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(_GRU_GATES * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(_GRU_GATES * hidden_size, hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(_GRU_GATES * hidden_size, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(_GRU_GATES * hidden_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_(self, self.hidden_size)

    def _prepare(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[Any], Any]:
        return F.linear(x, self.weight_ih, self.bias_ih).split(sizes), None

    def _level(self, xp, children, parent, slot, ctx):
        (child_h,) = children
        summed = child_h.new_zeros(xp.shape[0], self.hidden_size)
        if child_h.shape[0]:
            summed = summed.index_add(0, parent, child_h)
            gh = F.linear(summed, self.weight_hh, self.bias_hh)
        elif self.bias_hh is not None:  # leaves: W_hh · 0 = 0
            gh = self.bias_hh.expand(xp.shape[0], -1)
        else:
            gh = torch.zeros_like(xp)
        return (gru_update(xp, gh, summed),)

    def forward(self, x: Tensor, tree: Any) -> tuple[Tensor, Tensor]:
        """Every node's state and the roots' states.

        Args:
            x: node features (V, F); rows of nodes without input may be zeros.
            tree: a ``Data``/``Batch`` (child → parent ``edge_index``), a
                `TreeSchedule` or an ``edge_index``.

        Returns:
            ``(h, h_root)``: (V, H) in node order and (R, H) in root order (ascending id).
        """
        h, (h_root,) = self._propagate(x, tree)
        return h, h_root


# --------------------------------------------------------------------------------------
# Task models: a readout on the roots, and the sequence baseline
# --------------------------------------------------------------------------------------

#: Tree encoders that `TreeClassifier` can build, by name.
TREE_CELLS = ("childsum", "nary", "recursive", "gru")


def _head(hidden_size: int, num_outputs: int, head_size: int | None) -> nn.Module:
    if head_size is None:
        return nn.Linear(hidden_size, num_outputs)
    return nn.Sequential(nn.Linear(hidden_size, head_size), nn.ReLU(), nn.Linear(head_size, num_outputs))


@register_model
class TreeClassifier(nn.Module):
    r"""Token embeddings, a tree encoder, and a readout of each tree's root state.

    $$x_j = E[\text{token}_j], \qquad h = \text{Encoder}(x, \text{tree}), \qquad
      y_b = \text{MLP}(h_{\text{root}(b)})$$

    The model the tree tasks (ListOps, arithmetic) train; outputs are logits for
    classification or values for regression (``num_outputs=1``).

    Args:
        vocab_size: number of node tokens.
        num_outputs: classes (or 1 for a regression).
        cell: ``"childsum"`` (`ChildSumTreeLSTM`), ``"nary"``
            (`NaryTreeLSTM`), ``"recursive"`` (`RecursiveNN`) or ``"gru"``
            (`TreeGRU`).
        embedding_size: token embedding size F.
        hidden_size: the encoder's state size H.
        arity: N for ``"nary"`` (required) and ``"recursive"`` (``None``: child-sum).
        head_size: hidden units of the readout MLP (``None``: a linear readout).

    Shapes:
        token: (V,) long; tree: V nodes, B roots -> (B, num_outputs).

    Examples:
        >>> from memnets.data.trees import listops_batch
        >>> batch = listops_batch(4, torch.Generator().manual_seed(0))
        >>> TreeClassifier(14, 10, hidden_size=16)(batch.tree.token, batch.tree).shape
        torch.Size([4, 10])
    """

    def __init__(self, vocab_size: int, num_outputs: int, cell: str = "childsum", embedding_size: int = 64,
                 hidden_size: int = 128, arity: int | None = None, head_size: int | None = None):
        super().__init__()
        if cell not in TREE_CELLS:
            raise ValueError(f"TreeClassifier: expected cell in {TREE_CELLS}, got {cell!r}")
        if cell == "nary" and arity is None:
            raise ValueError("TreeClassifier: cell='nary' needs an arity, got None")
        self.cell = cell
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        if cell == "childsum":
            self.encoder: nn.Module = ChildSumTreeLSTM(embedding_size, hidden_size)
        elif cell == "nary":
            self.encoder = NaryTreeLSTM(embedding_size, hidden_size, arity=arity)
        elif cell == "recursive":
            self.encoder = RecursiveNN(embedding_size, hidden_size, arity=arity)
        else:
            self.encoder = TreeGRU(embedding_size, hidden_size)
        self.head = _head(hidden_size, num_outputs, head_size)

    def forward(self, token: Tensor, tree: Any) -> Tensor:
        check_shapes("TreeClassifier", token=(token, "V"))
        _, roots = self.encoder(self.embedding(token), tree)
        h_root = roots[0] if isinstance(roots, tuple) else roots
        return self.head(h_root)


@register_model
class SequenceClassifier(nn.Module):
    r"""The sequence baseline of the tree tasks: an LSTM reads the tokens, a readout classifies.

    $$h_t = \text{LSTM}(E[\text{token}_t], h_{t-1}), \qquad y_b = \text{MLP}(h^{(L)}_{T_b - 1})$$

    the top layer's state after each sequence's last token (padding after it is never
    read). Nangia & Bowman (2018) compare Tree-LSTMs on ListOps with this kind of LSTM
    reading the bracketed string. Built on `memnets.LSTM`.

    Args:
        vocab_size: number of tokens (padding included).
        num_outputs: classes (or 1 for a regression).
        embedding_size: token embedding size.
        hidden_size: LSTM units per layer.
        num_layers: stacked LSTM layers.
        head_size: hidden units of the readout MLP (``None``: a linear readout).

    Shapes:
        sequence: (T, B) long; lengths: (B,) -> (B, num_outputs).

    Examples:
        >>> model = SequenceClassifier(16, 10, hidden_size=8)
        >>> model(torch.zeros(5, 2, dtype=torch.long), torch.tensor([5, 3])).shape
        torch.Size([2, 10])
    """

    def __init__(self, vocab_size: int, num_outputs: int, embedding_size: int = 64, hidden_size: int = 128,
                 num_layers: int = 1, head_size: int | None = None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.lstm = LSTM(embedding_size, hidden_size, num_layers=num_layers)
        self.head = _head(hidden_size, num_outputs, head_size)

    def forward(self, sequence: Tensor, lengths: Tensor) -> Tensor:
        dims = check_shapes("SequenceClassifier", sequence=(sequence, "T B"), lengths=(lengths, "B"))
        if dims["B"] and (int(lengths.min()) < 1 or int(lengths.max()) > dims["T"]):
            raise ValueError(f"SequenceClassifier: expected lengths in 1..T={dims['T']}, got "
                             f"{int(lengths.min())}..{int(lengths.max())}")
        output, _ = self.lstm(self.embedding(sequence))
        last = output[lengths - 1, torch.arange(dims["B"], device=sequence.device)]
        return self.head(last)
