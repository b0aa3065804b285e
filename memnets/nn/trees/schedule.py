r"""The level schedule: the index tensors that evaluate a forest level by level.

A forest is given as torch_geometric does graphs: ``edge_index`` (2, E) with one column
per child → parent edge (row 0 the children, row 1 their parents), ``num_nodes`` V, and
optionally ``child_slot`` (E,), each child's position among its parent's children.

`tree_schedule` validates such a forest and computes its `TreeSchedule` with whole-array
numpy operations (one pass per *level*, none per node, and no recursion, so a tree of
depth 10,000 is no problem). `attach_schedule` stores the schedule on a ``Data`` so that
it is computed once per batch -- or once for a fixed data set -- and moves with it
(``data.to(device)``); `collate_trees` batches a list of trees with torch_geometric and
attaches the schedule of the forest; `as_schedule` is what the models call on their
``tree`` argument.
"""

from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from memnets._checks import check_int, check_shapes

__all__ = ["TreeSchedule", "tree_schedule", "attach_schedule", "collate_trees", "as_schedule"]

#: How many offending nodes an error message lists.
_SHOW = 5
#: Integer dtypes accepted for ``edge_index`` and ``child_slot``.
_INDEX_DTYPES = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


class TreeSchedule(NamedTuple):
    r"""Precomputed index tensors that evaluate a forest level by level.

    The nodes are sorted by height $\eta$ (leaves 0, a parent one more than its highest
    child): that is the *level order*. Within a level, nodes are sorted by the level of
    their parent (roots last), then by id, so that the states a level hands to each
    later level form one contiguous block: after computing level $m$, a model splits its
    states into the blocks ``outflow[m]`` (views, no copy), and level $\ell$ concatenates
    the blocks it receives into its children's states. Every gather is then local to a
    level, and the backward pass costs O(V), not O(V × levels).

    Level $\ell$ holds the rows ``node_ptr[ℓ]:node_ptr[ℓ+1]`` of the level order, and the
    child → parent edges whose parent lies on level $\ell$ are ``edge_ptr[ℓ]:edge_ptr[ℓ+1]``,
    sorted by their child's row (the order in which the blocks arrive).

    Attributes:
        num_nodes: V, the number of nodes in the forest.
        order: (V,) the node id at each row of the level order.
        position: (V,) the row of each node in the level order (the inverse of ``order``).
        height: (V,) each node's height $\eta$ (leaves 0).
        roots: (R,) the ids of the nodes without a parent, ascending (one per tree).
        root_position: (R,) their rows in the level order.
        child: (E,) the level-order row of each edge's child.
        parent: (E,) the row of each edge's parent *within its level* (0 ≤ parent <
            size of the level), what `tree_lstm_update` takes.
        slot: (E,) each edge's child slot (its position among its siblings).
        node_ptr: (L+1,) level boundaries in the level order, plain ints.
        edge_ptr: (L+1,) level boundaries of the edges, plain ints.
        outflow: per level, the ``(consumer level, rows)`` blocks its rows form, in
            order; the consumer of the roots is L (nobody).
        max_children: the largest number of children of a node (0 for a forest of leaves).
        max_slot: the largest child slot, plus one (the arity an N-ary model needs).
    """

    num_nodes: int
    order: Tensor
    position: Tensor
    height: Tensor
    roots: Tensor
    root_position: Tensor
    child: Tensor
    parent: Tensor
    slot: Tensor
    node_ptr: Sequence[int]
    edge_ptr: Sequence[int]
    outflow: Sequence[Sequence[Sequence[int]]]
    max_children: int
    max_slot: int

    @property
    def num_levels(self) -> int:
        """L, the number of levels (the height of the tallest tree plus one; 0 if empty)."""
        return len(self.node_ptr) - 1

    def levels(self) -> Iterable[tuple[int, int, int, int]]:
        """Yield ``(row_start, row_end, edge_start, edge_end)`` for every level, leaves first."""
        for level in range(self.num_levels):
            yield (self.node_ptr[level], self.node_ptr[level + 1], self.edge_ptr[level], self.edge_ptr[level + 1])

    def to(self, device: torch.device | str) -> "TreeSchedule":
        """The schedule with its tensors on ``device`` (itself if they are there already)."""
        if self.order.device == torch.device(device):
            return self
        return TreeSchedule(*(v.to(device) if isinstance(v, Tensor) else v for v in self))


def _nodes(ids: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:_SHOW])
    return shown + (", ..." if len(ids) > _SHOW else "")


def _child_slots(parent: np.ndarray) -> np.ndarray:
    """Slots from the edge order: the k-th edge of a parent (in column order) is slot k."""
    if parent.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(parent, kind="stable")
    sorted_parent = parent[order]
    starts = np.r_[True, sorted_parent[1:] != sorted_parent[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(parent.size), 0))
    slots = np.empty_like(parent)
    slots[order] = np.arange(parent.size) - first
    return slots


def _check_edges(edges: np.ndarray, num_nodes: int) -> None:
    """Dangling edges, self-loops and nodes with two parents (cycles are found later)."""
    child_e, parent_e = edges
    if edges.shape[1]:
        outside = np.flatnonzero((edges < 0).any(0) | (edges >= num_nodes).any(0))
        if outside.size:
            bad = edges[:, outside[0]]
            raise ValueError(
                f"tree_schedule: edge {int(outside[0])} ({int(bad[0])} -> {int(bad[1])}) refers to a node outside "
                f"[0, {num_nodes}): expected every index of edge_index in [0, num_nodes={num_nodes})"
            )
    loops = np.flatnonzero(child_e == parent_e)
    if loops.size:
        raise ValueError(f"tree_schedule: the edges form a cycle: node(s) {_nodes(child_e[loops])} "
                         f"are their own parent")
    twice = np.flatnonzero(np.bincount(child_e, minlength=num_nodes) > 1)
    if twice.size:
        node = int(twice[0])
        raise ValueError(
            f"tree_schedule: expected at most one parent per node, got node(s) {_nodes(twice)} with several "
            f"(node {node} has parents {_nodes(parent_e[child_e == node])})"
        )


def _slots(child_slot: Tensor | None, parent_e: np.ndarray) -> np.ndarray:
    """The child slots, given (and checked: ≥ 0, one child per slot) or from the edge order."""
    if child_slot is None:
        return _child_slots(parent_e)
    check_shapes("tree_schedule", child_slot=(child_slot, "E"), E=parent_e.size)
    if child_slot.dtype not in _INDEX_DTYPES:
        raise ValueError(f"tree_schedule: expected an integer child_slot, got dtype {child_slot.dtype}")
    slot_e = child_slot.detach().cpu().numpy().astype(np.int64)
    if parent_e.size:
        if slot_e.min() < 0:
            raise ValueError(f"tree_schedule: expected child_slot >= 0, got {int(slot_e.min())}")
        width = int(slot_e.max()) + 1
        pairs = np.sort(parent_e * width + slot_e)
        repeated = np.flatnonzero(pairs[1:] == pairs[:-1])
        if repeated.size:
            node, slot = divmod(int(pairs[repeated[0]]), width)
            raise ValueError(f"tree_schedule: expected one child per slot, got node {node} with two children in "
                             f"slot {slot}")
    return slot_e


def _stable_order(key: np.ndarray, bound: int) -> np.ndarray:
    """``argsort(key, kind="stable")`` of keys in ``[0, bound)``: numpy radix-sorts 16-bit keys."""
    if bound <= np.iinfo(np.int16).max:
        key = key.astype(np.int16)
    return np.argsort(key, kind="stable")


def _heights(parent_of: np.ndarray, parent_e: np.ndarray, num_nodes: int) -> np.ndarray:
    """Kahn's topological order run upwards, one frontier (level) at a time.

    The leaves form the first frontier; a node joins the frontier once all its children
    have been processed, and its height is the frontier's number. Nodes that never join
    lie on a cycle.
    """
    remaining = np.bincount(parent_e, minlength=num_nodes)
    height = np.full(num_nodes, -1, dtype=np.int64)
    frontier = np.flatnonzero(remaining == 0)
    level = 0
    while frontier.size:
        height[frontier] = level
        up = parent_of[frontier]
        up = up[up >= 0]
        np.subtract.at(remaining, up, 1)  # one per child just processed
        frontier = np.unique(up[remaining[up] == 0])
        level += 1
    stuck = np.flatnonzero(height < 0)
    if stuck.size:
        raise ValueError(f"tree_schedule: the edges form a cycle through node(s) {_nodes(stuck)}; expected a forest")
    return height


def tree_schedule(edge_index: Tensor, num_nodes: int, child_slot: Tensor | None = None) -> TreeSchedule:
    r"""Validate a forest and compute its level schedule, without recursion.

    Heights come from Kahn's topological order run upwards, one numpy pass per level;
    everything else (the level order, the edge order, the blocks each level hands on)
    is a few sorts and counts over the whole forest.

    Args:
        edge_index: child → parent edges, row 0 the children, row 1 the parents.
        num_nodes: V (nodes without any edge are single-node trees).
        child_slot: each child's position among its parent's children; default: the
            order in which a parent's edges appear in ``edge_index``.

    Returns:
        The `TreeSchedule`, on ``edge_index``'s device.

    Raises:
        TypeError: ``num_nodes`` is not an int.
        ValueError: on a malformed forest: an index outside ``[0, V)`` (a dangling
            edge), a node with two parents, a cycle (a self-loop included), or two
            children of one node in the same slot; a negative ``num_nodes``; a
            non-integer ``edge_index`` or ``child_slot``.

    Shapes:
        edge_index: (2, E) integer; child_slot: (E,) integer.

    Examples:
        >>> s = tree_schedule(torch.tensor([[1, 2], [0, 0]]), num_nodes=3)
        >>> s.height.tolist(), s.num_levels
        ([1, 0, 0], 2)
    """
    dims = check_shapes("tree_schedule", edge_index=(edge_index, "2 E"))
    if edge_index.dtype not in _INDEX_DTYPES:
        raise ValueError(f"tree_schedule: expected an integer edge_index, got dtype {edge_index.dtype}")
    if isinstance(num_nodes, np.integer):
        num_nodes = int(num_nodes)
    check_int("tree_schedule", minimum=0, num_nodes=num_nodes)
    device = edge_index.device
    edges = edge_index.detach().cpu().numpy().astype(np.int64)
    _check_edges(edges, num_nodes)
    child_e, parent_e = edges
    slot_e = _slots(child_slot, parent_e)

    parent_of = np.full(num_nodes, -1, dtype=np.int64)
    parent_of[child_e] = parent_e
    height = _heights(parent_of, parent_e, num_nodes)
    num_levels = int(height.max()) + 1 if num_nodes else 0
    consumer = np.where(parent_of >= 0, height[np.maximum(parent_of, 0)], num_levels)
    # By height, then the parent's height (roots last), ties by id: one stable sort of a key.
    order = _stable_order(height * (num_levels + 1) + consumer, num_levels * (num_levels + 1))
    position = np.empty(num_nodes, dtype=np.int64)
    position[order] = np.arange(num_nodes)
    node_ptr = np.r_[0, np.cumsum(np.bincount(height, minlength=num_levels))]
    edge_level = height[parent_e]
    child_row = position[child_e]
    # By the parent's level, then the child's row: the rows are distinct (one parent per
    # node), so order by row with a scatter, then a stable sort by level.
    rank = np.full(num_nodes, -1, dtype=np.int64)
    rank[child_row] = np.arange(child_row.size)
    by_row = rank[rank >= 0]
    edge_order = by_row[_stable_order(edge_level[by_row], num_levels)]
    edge_ptr = np.r_[0, np.cumsum(np.bincount(edge_level, minlength=num_levels))]
    parent = position[parent_e][edge_order] - node_ptr[edge_level[edge_order]]
    blocks = np.bincount(height * (num_levels + 1) + consumer, minlength=num_levels * (num_levels + 1))
    blocks = blocks.reshape(num_levels, num_levels + 1)
    outflow = tuple(tuple((int(k), int(blocks[m, k])) for k in np.flatnonzero(blocks[m])) for m in range(num_levels))
    roots = np.flatnonzero(parent_of < 0)
    children_per_node = np.bincount(parent_e, minlength=num_nodes)

    def tensor(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)

    return TreeSchedule(
        num_nodes=num_nodes,
        order=tensor(order),
        position=tensor(position),
        height=tensor(height),
        roots=tensor(roots),
        root_position=tensor(position[roots]),
        child=tensor(child_row[edge_order]),
        parent=tensor(parent),
        slot=tensor(slot_e[edge_order]),
        node_ptr=tuple(node_ptr.tolist()),
        edge_ptr=tuple(edge_ptr.tolist()),
        outflow=outflow,
        max_children=int(children_per_node.max()) if num_nodes else 0,
        max_slot=int(slot_e.max()) + 1 if dims["E"] else 0,
    )


def attach_schedule(data: Any) -> Any:
    """Compute ``data``'s level schedule and store it as ``data.schedule``; return ``data``.

    A forest reused across forward passes (a fixed data set, an evaluation set) keeps
    its schedule, so it is computed once; ``data.to(device)`` moves it along.

    Args:
        data: a torch_geometric ``Data``/``Batch`` (or any object with ``edge_index``,
            ``num_nodes`` and optionally ``child_slot``).

    Returns:
        ``data`` itself, with ``schedule``.

    Examples:
        >>> from torch_geometric.data import Data
        >>> tree = attach_schedule(Data(edge_index=torch.tensor([[1, 2], [0, 1]]), num_nodes=3))
        >>> tree.schedule.num_levels
        3
    """
    data.schedule = tree_schedule(data.edge_index, data.num_nodes, getattr(data, "child_slot", None))
    return data


def collate_trees(trees: Sequence[Any]) -> Any:
    """Batch trees into one forest (torch_geometric's collation) and attach its schedule.

    ``edge_index`` is offset by torch_geometric (its name contains ``index``); the batch
    also has ``batch`` (V,), the tree of each node, and ``ptr``. Schedules of the inputs,
    if any, are ignored: the batch gets its own.

    Args:
        trees: the trees (``Data`` objects with ``edge_index``, ``num_nodes``, and
            optionally ``child_slot``, ``token`` and any other attributes).

    Returns:
        A `torch_geometric.data.Batch` with ``schedule``, a `TreeSchedule`.

    Examples:
        >>> from torch_geometric.data import Data
        >>> chain = Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3)
        >>> batch = collate_trees([chain, chain])
        >>> batch.num_nodes, batch.schedule.roots.tolist()
        (6, [2, 5])
    """
    from torch_geometric.data import Batch  # the family itself does not need torch_geometric

    batch = Batch.from_data_list(list(trees), exclude_keys=["schedule"])
    return attach_schedule(batch)


def as_schedule(tree: Any, num_nodes: int, where: str = "as_schedule") -> TreeSchedule:
    """The level schedule of ``tree``, computed (and validated) only when not precomputed.

    Args:
        tree: a `TreeSchedule`; a torch_geometric ``Data`` or ``Batch`` (its
            ``schedule`` if it has one, else one computed from ``edge_index``,
            ``num_nodes`` and ``child_slot``); or an ``edge_index`` tensor (2, E),
            child → parent.
        num_nodes: V, the number of rows of the node features.
        where: the caller's name for error messages.

    Returns:
        The schedule.

    Raises:
        TypeError: if ``tree`` is none of these.
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
        raise TypeError(f"{where}: expected a tree (Data/Batch, TreeSchedule or edge_index), "
                        f"got {type(tree).__name__}")
    if schedule.num_nodes != num_nodes:
        raise ValueError(f"{where}: expected x with one row per node, {schedule.num_nodes} rows, got {num_nodes}")
    return schedule
