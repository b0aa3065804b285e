r"""The batching engine of the tree family: a recursive update evaluated level by level.

A recursive network computes a node's state from its own input and its children's
states, $h_j = f(x_j, \{h_k\}_{k \in C(j)})$. All nodes of the same height (leaves 0)
depend only on lower levels, so each level, across every tree of a batch, is *one* call
of the update: concatenate the blocks of children's states that lower levels handed to
this level, sum them per parent with ``index_add`` (or lay them out by child slot for the
N-ary models), apply the update, and split the new states (views) into the blocks that
later levels will read. No in-place writes, so autograd sees a plain graph, and no gather
from the states of the whole forest, so the backward pass does O(V) work, not
O(V × levels). A batch costs one update per level instead of one per node -- the idea
of TensorFlow Fold's dynamic batching (Looks et al. 2017) and DGL's topological message
passing. The per-level index tensors come precomputed with the batch (`TreeSchedule`).

`LevelBatched` is the base class of every model of the family; a model says how it
projects the inputs of all nodes at once (`LevelBatched._project`) and how one level is
updated from its children (`LevelBatched._level`).
"""

from __future__ import annotations

import abc
from typing import Any, Generic, NamedTuple, Sequence, TypeVar

import torch
from torch import Tensor, nn

from memnets._checks import check_dtype, check_floating, check_shapes
from memnets.nn.trees.schedule import TreeSchedule, as_schedule

__all__ = ["LevelBatched", "LevelEdges"]

#: What a model's `LevelBatched._project` hands to each level (its input projection).
LevelInput = TypeVar("LevelInput")
#: Per-forward weights a model prepares once and every level reads.
Weights = TypeVar("Weights")


class LevelEdges(NamedTuple):
    """The child → parent edges into one level, in the order the children's states arrive.

    Attributes:
        parent: (E,) the row of each edge's parent within the level.
        slot: (E,) each edge's child slot (its position among its siblings).
    """

    parent: Tensor
    slot: Tensor


def check_arity(where: str, arity: int, schedule: TreeSchedule) -> None:
    """``ValueError`` if a child sits in a slot ≥ ``arity`` (a node with too many children)."""
    if schedule.max_slot > arity:
        raise ValueError(f"{where}: expected at most arity={arity} children per node (child slots "
                         f"0..{arity - 1}), got a child in slot {schedule.max_slot - 1}")


class _PermuteRows(torch.autograd.Function):
    """``x[index]`` for a permutation ``index`` whose inverse is ``inverse``: the backward
    pass is the inverse gather, ``grad[inverse]``, instead of a scatter-add."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, index: Tensor, inverse: Tensor) -> Tensor:
        ctx.save_for_backward(inverse)
        return x.index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (inverse,) = ctx.saved_tensors
        return grad.index_select(0, inverse), None, None


class LevelBatched(nn.Module, Generic[LevelInput, Weights], metaclass=abc.ABCMeta):
    """Evaluates a recursive update over a forest level by level (the base of every tree model).

    Subclasses set ``num_states`` (1 for ``h``, 2 for an LSTM's ``(h, c)``) and implement

    * ``_project(x, sizes) -> (inputs, weights)``: the input projection of all nodes at
      once (``x`` in level order), cut into one entry per level of the given sizes, and
      the weights every level reads (for example rows permuted into the update's order);
    * ``_level(inputs, children, edges, weights) -> states``: one level's update from its
      inputs and its children's states (one row per edge, in the order of ``edges``).

    The states are computed in the dtype of ``weight_hh``; inputs of another dtype are
    refused (`memnets._checks.check_dtype`).
    """

    num_states = 1
    hidden_size: int
    input_size: int
    weight_hh: Tensor

    @abc.abstractmethod
    def _project(self, x: Tensor, sizes: list[int]) -> tuple[Sequence[LevelInput], Weights]:
        """The input projections of every level, and the weights of this forward pass."""

    @abc.abstractmethod
    def _level(self, inputs: LevelInput, children: tuple[Tensor, ...], edges: LevelEdges,
               weights: Weights) -> tuple[Tensor, ...]:
        """One level's update from its inputs and its children's states."""

    def _make_parameters(self, ih_rows: int, hh_shape: tuple[int, int], bias: bool,
                         device: torch.device | str | None, dtype: torch.dtype | None) -> None:
        """Register ``weight_ih`` (ih_rows, F), ``weight_hh`` ``hh_shape`` and, with ``bias``,
        ``bias_ih`` (ih_rows,) and ``bias_hh`` (hh_shape[0],), uninitialised (else both ``None``)."""
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(ih_rows, self.input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(*hh_shape, **factory))
        self.bias_ih = nn.Parameter(torch.empty(ih_rows, **factory)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hh_shape[0], **factory)) if bias else None

    def _check_schedule(self, schedule: TreeSchedule) -> None:
        """Hook for models with a limited arity."""

    def _checked_schedule(self, x: Tensor, tree: Any) -> TreeSchedule:
        """Check ``x`` (shape, dtype) and return ``tree``'s schedule on ``x``'s device."""
        name = type(self).__name__
        dims = check_shapes(name, x=(x, "V F"), F=self.input_size)
        check_floating(name, x=x)
        check_dtype(name, self.weight_hh.dtype, x=x)
        schedule = as_schedule(tree, dims["V"], name).to(x.device)
        self._check_schedule(schedule)
        return schedule

    def _propagate(self, x: Tensor, tree: Any) -> tuple[Tensor, tuple[Tensor, ...]]:
        """Every node's hidden state (node order) and every state of the roots."""
        schedule = self._checked_schedule(x, tree)
        num_levels, ptr = schedule.num_levels, schedule.node_ptr
        empty = x.new_zeros(0, self.hidden_size)
        if num_levels == 0:
            return empty, tuple(empty for _ in range(self.num_states))
        # Level order (permuting x, the narrowest tensor), then the input projection of all
        # nodes at once, cut into one view per level (a split: its backward is one cat).
        sizes = [ptr[k + 1] - ptr[k] for k in range(num_levels)]
        inputs, weights = self._project(_PermuteRows.apply(x, schedule.order, schedule.position), sizes)
        inbox: list[list[list[Tensor]]] = [[[] for _ in range(self.num_states)] for _ in range(num_levels)]
        hidden: list[Tensor] = []  # every level's h: the output covers every node
        root_blocks: list[list[Tensor]] = [[] for _ in range(self.num_states)]  # the other states: roots only
        for level, (_, _, edge_start, edge_end) in enumerate(schedule.levels()):
            children = tuple(blocks[0] if len(blocks) == 1 else torch.cat(blocks) if blocks else empty
                             for blocks in inbox[level])
            edges = LevelEdges(schedule.parent[edge_start:edge_end], schedule.slot[edge_start:edge_end])
            new = self._level(inputs[level], children, edges, weights)
            blocks_out = schedule.outflow[level]
            hidden.append(new[0])
            for k, state in enumerate(new):
                pieces = torch.split(state, [rows for _, rows in blocks_out]) if len(blocks_out) > 1 else (state,)
                for (consumer, _), piece in zip(blocks_out, pieces):
                    if consumer < num_levels:
                        inbox[consumer][k].append(piece)
                    else:  # the roots of this level (its last block)
                        root_blocks[k].append(piece)
            inbox[level] = []
        # Roots: their blocks in level order, then ascending id (root b is the rank of its row).
        rank = torch.argsort(torch.argsort(schedule.root_position))
        roots = tuple(torch.cat(blocks).index_select(0, rank) for blocks in root_blocks)
        h = _PermuteRows.apply(torch.cat(hidden), schedule.position, schedule.order)
        return h, roots
    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class _SingleStateTree(LevelBatched[Tensor, None]):
    """A `LevelBatched` model with one state per node, ``h``, and no per-pass weights."""

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
