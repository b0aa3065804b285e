r"""Trees as torch_geometric graphs, the level schedule that batches them, and the tree tasks.

A tree of V nodes is a `torch_geometric.data.Data` with

* ``edge_index`` (2, E): one column per child → parent edge (row 0 the children, row 1
  their parents), so E = V − 1 for one tree;
* ``child_slot`` (E,): the position of each child among its parent's children
  (0-based, the order of the arguments), read by the N-ary models;
* ``token`` (V,): the node's label as an integer id (digits and operators for the tasks);
* ``num_nodes``.

Because ``edge_index`` has ``index`` in its name, `torch_geometric.data.Batch.from_data_list`
offsets it when it concatenates trees, and ``child_slot`` is concatenated as it is; a batch
of trees is one forest. `collate_trees` does that and attaches the **level
schedule** (`TreeSchedule`): every node's height (leaves 0, computed iteratively, so
a tree of depth 10,000 is no problem), the nodes sorted by height, and per level the index
tensors that the models of `memnets.nn.trees` use to update all nodes of a level, across
all trees, in one call. The schedule is computed once per batch, never per forward pass,
and it moves with the batch (``batch.to(device)``).

Builders: `tree_from_nested` (nested tuples), `tree_from_string` (bracketed
strings), `balanced_binary_tree` (the data-independent tree over a sequence of
Goodfellow, Bengio & Courville 2016, §10.6) and `chain_tree` (a sequence as a
degenerate tree). Generators (seeded with a ``torch.Generator``): `listops_batch`
(Nangia & Bowman 2018) and `arithmetic_batch`, each giving the gold tree and the
bracketed string for a sequence baseline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from memnets._checks import check_shapes

__all__ = [
    "TreeSchedule",
    "tree_schedule",
    "attach_schedule",
    "collate_trees",
    "tree_from_nested",
    "tree_from_string",
    "balanced_binary_tree",
    "chain_tree",
    "TreeTaskBatch",
    "LISTOPS_OPERATORS",
    "LISTOPS_VOCAB",
    "LISTOPS_SEQUENCE_VOCAB",
    "listops_batch",
    "listops_value",
    "ARITHMETIC_VOCAB",
    "ARITHMETIC_SEQUENCE_VOCAB",
    "arithmetic_batch",
]

#: Token id of a node that has no label (an unlabelled internal node).
UNLABELLED = -1
#: How many uniform draws the task generators fetch from their ``torch.Generator`` at once.
_DRAW_CHUNK = 4096
#: How many offending nodes an error message lists.
_SHOW = 5


# --------------------------------------------------------------------------------------
# The level schedule
# --------------------------------------------------------------------------------------


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


def tree_schedule(edge_index: Tensor, num_nodes: int, child_slot: Tensor | None = None) -> TreeSchedule:
    r"""Validate a forest and compute its level schedule, without recursion.

    Heights come from Kahn's topological order run upwards: the leaves form the first
    frontier; a node joins the frontier once all its children have been processed, and
    its height is the frontier's number. Nodes that never join lie on a cycle.

    Args:
        edge_index: child → parent edges, row 0 the children, row 1 the parents.
        num_nodes: V (nodes without any edge are single-node trees).
        child_slot: each child's position among its parent's children; default: the
            order in which a parent's edges appear in ``edge_index``.

    Returns:
        The `TreeSchedule`, on ``edge_index``'s device.

    Raises:
        ValueError: on a malformed forest: an index outside ``[0, V)`` (a dangling
            edge), a node with two parents, a cycle (a self-loop included), or two
            children of one node in the same slot.

    Shapes:
        edge_index: (2, E) integer; child_slot: (E,) integer.

    Examples:
        >>> s = tree_schedule(torch.tensor([[1, 2], [0, 0]]), num_nodes=3)
        >>> s.height.tolist(), s.num_levels
        ([1, 0, 0], 2)
    """
    dims = check_shapes("tree_schedule", edge_index=(edge_index, "2 E"))
    if edge_index.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise ValueError(f"tree_schedule: expected an integer edge_index, got dtype {edge_index.dtype}")
    if not isinstance(num_nodes, (int, np.integer)) or isinstance(num_nodes, bool) or num_nodes < 0:
        raise ValueError(f"tree_schedule: expected num_nodes to be a non-negative integer, got {num_nodes!r}")
    num_nodes = int(num_nodes)
    device = edge_index.device
    edges = edge_index.detach().cpu().numpy().astype(np.int64)
    child_e, parent_e = edges[0], edges[1]
    num_edges = dims["E"]

    if num_edges:
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
    parents_per_node = np.bincount(child_e, minlength=num_nodes)
    twice = np.flatnonzero(parents_per_node > 1)
    if twice.size:
        node = int(twice[0])
        theirs = parent_e[child_e == node]
        raise ValueError(
            f"tree_schedule: expected at most one parent per node, got node(s) {_nodes(twice)} with several "
            f"(node {node} has parents {_nodes(theirs)})"
        )

    if child_slot is None:
        slot_e = _child_slots(parent_e)
    else:
        check_shapes("tree_schedule", child_slot=(child_slot, "E"), E=num_edges)
        if child_slot.dtype.is_floating_point or child_slot.dtype == torch.bool:
            raise ValueError(f"tree_schedule: expected an integer child_slot, got dtype {child_slot.dtype}")
        slot_e = child_slot.detach().cpu().numpy().astype(np.int64)
        if num_edges and slot_e.min() < 0:
            raise ValueError(f"tree_schedule: expected child_slot >= 0, got {int(slot_e.min())}")
        if num_edges:
            pairs = parent_e * (int(slot_e.max()) + 1) + slot_e
            unique, counts = np.unique(pairs, return_counts=True)
            if (counts > 1).any():
                pair = int(unique[counts > 1][0])
                node, slot = divmod(pair, int(slot_e.max()) + 1)
                raise ValueError(f"tree_schedule: expected one child per slot, got node {node} with two children in "
                                 f"slot {slot}")

    parent_of = np.full(num_nodes, -1, dtype=np.int64)
    parent_of[child_e] = parent_e
    remaining = np.bincount(parent_e, minlength=num_nodes).astype(np.int64)
    max_children = int(remaining.max()) if num_nodes else 0
    height = np.full(num_nodes, -1, dtype=np.int64)
    frontier = np.flatnonzero(remaining == 0)
    level = 0
    while frontier.size:
        height[frontier] = level
        up = parent_of[frontier]
        up = up[up >= 0]
        if up.size:
            unique, counts = np.unique(up, return_counts=True)
            remaining[unique] -= counts
            frontier = unique[remaining[unique] == 0]
        else:
            frontier = up
        level += 1
    stuck = np.flatnonzero(height < 0)
    if stuck.size:
        raise ValueError(f"tree_schedule: the edges form a cycle through node(s) {_nodes(stuck)}; expected a forest")

    num_levels = level
    consumer = np.where(parent_of >= 0, height[np.maximum(parent_of, 0)], num_levels)
    order = np.lexsort((consumer, height))  # by height, then the parent's height; ties by id
    position = np.empty(num_nodes, dtype=np.int64)
    position[order] = np.arange(num_nodes)
    node_ptr = np.r_[0, np.cumsum(np.bincount(height, minlength=num_levels))].astype(np.int64)
    edge_level = height[parent_e]
    edge_order = np.lexsort((position[child_e], edge_level))  # by the parent's level, then the child's row
    edge_ptr = np.r_[0, np.cumsum(np.bincount(edge_level, minlength=num_levels))].astype(np.int64)
    child = position[child_e][edge_order]
    parent = position[parent_e][edge_order] - node_ptr[edge_level[edge_order]]
    outflow: list[list[tuple[int, int]]] = [[] for _ in range(num_levels)]
    if num_nodes:
        pairs, counts = np.unique(np.stack([height, consumer]), axis=1, return_counts=True)
        for (produced, consumed), count in zip(pairs.T.tolist(), counts.tolist()):
            outflow[produced].append((consumed, count))
    roots = np.flatnonzero(parent_of < 0)

    def tensor(a: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)

    return TreeSchedule(
        num_nodes=num_nodes,
        order=tensor(order),
        position=tensor(position),
        height=tensor(height),
        roots=tensor(roots),
        root_position=tensor(position[roots]),
        child=tensor(child),
        parent=tensor(parent),
        slot=tensor(slot_e[edge_order]),
        node_ptr=tuple(int(v) for v in node_ptr),
        edge_ptr=tuple(int(v) for v in edge_ptr),
        outflow=tuple(tuple(blocks) for blocks in outflow),
        max_children=max_children,
        max_slot=int(slot_e.max()) + 1 if num_edges else 0,
    )


def attach_schedule(data: Data) -> Data:
    """Compute ``data``'s level schedule and store it as ``data.schedule``; return ``data``.

    Examples:
        >>> tree = attach_schedule(tree_from_string("((a b) c)", vocab={"a": 0, "b": 1, "c": 2}))
        >>> tree.schedule.num_levels
        3
    """
    data.schedule = tree_schedule(data.edge_index, data.num_nodes, getattr(data, "child_slot", None))
    return data


def collate_trees(trees: Sequence[Data]) -> Batch:
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
        >>> batch = collate_trees([chain_tree(3), balanced_binary_tree(4)])
        >>> batch.num_nodes, batch.schedule.roots.tolist()
        (10, [2, 9])
    """
    batch = Batch.from_data_list(list(trees), exclude_keys=["schedule"])
    return attach_schedule(batch)


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------


def _token_id(label: Any, vocab: Mapping[Hashable, int] | Callable[[Any], int] | None) -> int:
    if label is None:
        return UNLABELLED
    if vocab is not None:
        if callable(vocab) and not isinstance(vocab, Mapping):
            return int(vocab(label))
        if label not in vocab:
            raise ValueError(f"expected every label in the vocabulary, got {label!r}")
        return int(vocab[label])
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
        return int(label)
    if isinstance(label, str) and re.fullmatch(r"-?\d+", label):
        return int(label)
    raise ValueError(f"expected integer labels (or a vocab), got {label!r}")


def _flat_to_data(parents: Sequence[int], slots: Sequence[int], tokens: Sequence[int] | None) -> Data:
    parents_a = np.asarray(parents, dtype=np.int64)
    has_parent = np.flatnonzero(parents_a >= 0)
    edge_index = torch.from_numpy(np.stack([has_parent, parents_a[has_parent]]).astype(np.int64))
    data = Data(edge_index=edge_index, child_slot=torch.as_tensor(np.asarray(slots, dtype=np.int64)[has_parent]),
                num_nodes=len(parents_a))
    if tokens is not None:
        data.token = torch.as_tensor(np.asarray(tokens, dtype=np.int64))
    return data


def tree_from_nested(
    nested: Any,
    *,
    labelled: bool = False,
    vocab: Mapping[Hashable, int] | Callable[[Any], int] | None = None,
) -> Data:
    """A tree from nested tuples (or lists): a tuple is an internal node, anything else a leaf.

    Nodes are numbered in pre-order (the root is node 0, then its first subtree, ...),
    the order in which they appear when the tree is written out. Built with an explicit
    stack, so any depth works.

    Args:
        nested: e.g. ``(("a", "b"), "c")``, or with ``labelled=True``
            ``("MAX", 2, ("MIN", 4, 7))``.
        labelled: the first element of every tuple is the node's label, the rest its
            children; otherwise internal nodes are unlabelled (token ``-1``).
        vocab: maps labels to token ids (a mapping or a function); ``None`` accepts
            integer labels (and strings of digits) as they are.

    Returns:
        ``Data(edge_index, child_slot, token, num_nodes)``.

    Raises:
        ValueError: on a label outside the vocabulary, a non-integer label without a
            vocabulary, or ``labelled=True`` with an empty tuple.

    Examples:
        >>> tree = tree_from_nested(("+", 1, ("-", 2, 3)), labelled=True, vocab=lambda s: {"+": 10, "-": 11}.get(s, s))
        >>> tree.token.tolist(), tree.edge_index.tolist()
        ([10, 1, 11, 2, 3], [[1, 2, 3, 4], [0, 0, 2, 2]])
    """
    parents: list[int] = []
    slots: list[int] = []
    tokens: list[int] = []
    stack: list[tuple[Any, int, int]] = [(nested, -1, 0)]
    while stack:
        obj, parent, slot = stack.pop()
        parents.append(parent)
        slots.append(slot)
        node = len(parents) - 1
        if isinstance(obj, (tuple, list)):
            if labelled:
                if not obj:
                    raise ValueError("tree_from_nested: expected a label as the first element of every tuple, got ()")
                label, children = obj[0], obj[1:]
            else:
                label, children = None, obj
            tokens.append(_token_id(label, vocab))
            for k in range(len(children) - 1, -1, -1):
                stack.append((children[k], node, k))
        else:
            tokens.append(_token_id(obj, vocab))
    return _flat_to_data(parents, slots, tokens)


def tree_from_string(
    text: str,
    *,
    labelled: bool = False,
    vocab: Mapping[Hashable, int] | Callable[[Any], int] | None = None,
    brackets: str = "()",
) -> Data:
    """A tree from a bracketed string: ``"((a b) c)"``, or labelled ``"[MAX 2 [MIN 4 7 ] ]"``.

    Tokens are separated by whitespace or brackets (``"[MAX"`` is the bracket and the
    label ``MAX``). A bracket opens an internal node; the tokens and bracketed groups up
    to its closing bracket are its children. A string without brackets is a single
    leaf. Parsed with an explicit stack, so any depth works.

    Args:
        text: the string.
        labelled: the first token after an opening bracket is the node's label.
        vocab: maps labels to token ids; ``None`` accepts integers written in digits.
        brackets: the opening and the closing bracket characters.

    Returns:
        ``Data(edge_index, child_slot, token, num_nodes)``, nodes in pre-order.

    Raises:
        ValueError: on unbalanced brackets, an empty string, text after the root's
            closing bracket, a missing label, or a label outside the vocabulary.

    Examples:
        >>> tree = tree_from_string("(1 (2 3))")
        >>> tree.token.tolist(), tree.edge_index.tolist()
        ([-1, 1, -1, 2, 3], [[1, 2, 3, 4], [0, 0, 2, 2]])
    """
    if len(brackets) != 2:
        raise ValueError(f"tree_from_string: expected brackets as two characters such as '()', got {brackets!r}")
    opening, closing = brackets
    pattern = f"[{re.escape(brackets)}]|[^\\s{re.escape(brackets)}]+"
    tokens = re.findall(pattern, text)
    if not tokens:
        raise ValueError("tree_from_string: expected a tree, got an empty string")
    parents: list[int] = []
    slots: list[int] = []
    ids: list[int] = []
    open_nodes: list[list[int]] = []  # [node, number of children so far]
    finished = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if finished:
            raise ValueError(f"tree_from_string: unexpected {token!r} after the end of the tree (token {i})")
        if token == closing:
            if not open_nodes:
                raise ValueError(f"tree_from_string: unbalanced {closing!r} at token {i}")
            open_nodes.pop()
            finished = not open_nodes
            i += 1
            continue
        if open_nodes:
            parents.append(open_nodes[-1][0])
            slots.append(open_nodes[-1][1])
            open_nodes[-1][1] += 1
        else:
            parents.append(-1)
            slots.append(0)
        node = len(parents) - 1
        if token == opening:
            label = None
            if labelled:
                if i + 1 >= len(tokens) or tokens[i + 1] in brackets:
                    raise ValueError(f"tree_from_string: expected a label after {opening!r} at token {i}")
                label = tokens[i + 1]
                i += 1
            ids.append(_token_id(label, vocab))
            open_nodes.append([node, 0])
        else:
            ids.append(_token_id(token, vocab))
            finished = not open_nodes
        i += 1
    if open_nodes:
        raise ValueError(f"tree_from_string: {len(open_nodes)} unclosed {opening!r}")
    return _flat_to_data(parents, slots, ids)


def balanced_binary_tree(length: int) -> Data:
    """The balanced binary tree over a sequence of ``length`` leaves (data-independent).

    Goodfellow, Bengio & Courville (2016), §10.6: a recursive network over a fixed
    balanced tree reaches every input in O(log T) steps. Leaves are nodes ``0..T-1``
    (so a sequence's features are the first T rows of ``x``); each round pairs adjacent
    nodes left to right, an odd one out moves up unpaired; internal nodes get ids
    ``T, T+1, ...`` in creation order, and the root is node ``2T − 2``. Depth
    ⌈log₂ T⌉.

    Args:
        length: T ≥ 1, the number of leaves.

    Returns:
        ``Data(edge_index, child_slot, num_nodes=2T − 1)``.

    Examples:
        >>> balanced_binary_tree(3).edge_index.tolist()
        [[0, 1, 2, 3], [3, 3, 4, 4]]
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"balanced_binary_tree: expected length >= 1, got {length!r}")
    parents = [-1] * (2 * length - 1)
    slots = [0] * (2 * length - 1)
    current = list(range(length))
    next_id = length
    while len(current) > 1:
        paired = []
        for k in range(0, len(current) - 1, 2):
            left, right = current[k], current[k + 1]
            parents[left], slots[left] = next_id, 0
            parents[right], slots[right] = next_id, 1
            paired.append(next_id)
            next_id += 1
        if len(current) % 2:
            paired.append(current[-1])
        current = paired
    return _flat_to_data(parents, slots, None)


def chain_tree(length: int) -> Data:
    """A sequence as a degenerate tree: node t's only child is node t − 1; the root is T − 1.

    Through a child-sum Tree-LSTM a chain is an LSTM over the sequence ``x[0..T-1]``.

    Examples:
        >>> chain_tree(3).edge_index.tolist()
        [[0, 1], [1, 2]]
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"chain_tree: expected length >= 1, got {length!r}")
    return _flat_to_data(list(range(1, length)) + [-1], [0] * length, None)


# --------------------------------------------------------------------------------------
# Task data: ListOps and arithmetic
# --------------------------------------------------------------------------------------


@dataclass
class TreeTaskBatch:
    """A batch of a tree task: the gold trees and the same expressions as token sequences.

    Attributes:
        tree: the forest (`collate_trees`): ``token`` (V,), ``edge_index``,
            ``child_slot``, ``batch``, ``ptr`` and ``schedule``; tree b's root is the
            b-th entry of ``tree.schedule.roots``.
        sequence: (T, B) token ids of the bracketed strings, padded with the
            vocabulary's last id (``<pad>``).
        lengths: (B,) the length of each string in tokens.
        target: (B,) the label (ListOps: class 0-9, long) or value (arithmetic: float).
        depth: (B,) each expression's nesting depth (the root's height).
        text: the B strings.
    """

    tree: Batch
    sequence: Tensor
    lengths: Tensor
    target: Tensor
    depth: Tensor
    text: list[str]

    @property
    def batch_size(self) -> int:
        return int(self.target.shape[0])

    def to(self, device: torch.device | str) -> "TreeTaskBatch":
        """The batch on ``device`` (the schedule moves with the tree)."""
        return TreeTaskBatch(self.tree.to(device), self.sequence.to(device), self.lengths.to(device),
                             self.target.to(device), self.depth.to(device), self.text)


class _Uniforms:
    """U[0, 1) draws from a ``torch.Generator``, fetched in chunks (same draws for the same seed)."""

    def __init__(self, generator: torch.Generator | None) -> None:
        self.generator = generator
        self.values: list[float] = []
        self.next = 0

    def uniform(self) -> float:
        if self.next == len(self.values):
            self.values = torch.rand(_DRAW_CHUNK, generator=self.generator, dtype=torch.float64).tolist()
            self.next = 0
        self.next += 1
        return self.values[self.next - 1]

    def randint(self, low: int, high: int) -> int:
        """An integer uniform in ``low..high``, both ends included."""
        return low + min(int(self.uniform() * (high - low + 1)), high - low)


def _children(parents: Sequence[int]) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for node, parent in enumerate(parents):  # pre-order: siblings appear in slot order
        if parent >= 0:
            kids[parent].append(node)
    return kids


def _heights(parents: Sequence[int]) -> list[int]:
    heights = [0] * len(parents)
    for node in range(len(parents) - 1, 0, -1):  # pre-order: children after parents
        parent = parents[node]
        heights[parent] = max(heights[parent], heights[node] + 1)
    return heights


def _make_batch(flat: list[tuple[list[int], list[int], list[int]]], sequences: list[list[int]], texts: list[str],
                targets: list[float], depths: list[int], pad: int, target_dtype: torch.dtype,
                device: torch.device | str) -> TreeTaskBatch:
    trees = [_flat_to_data(*f) for f in flat]
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    sequence = torch.full((int(lengths.max()) if len(sequences) else 0, len(sequences)), pad, dtype=torch.long)
    for b, s in enumerate(sequences):
        sequence[: len(s), b] = torch.tensor(s, dtype=torch.long)
    depth = torch.tensor(depths, dtype=torch.long)
    batch = TreeTaskBatch(collate_trees(trees), sequence, lengths, torch.tensor(targets, dtype=target_dtype), depth,
                          texts)
    return batch.to(device) if torch.device(device).type != "cpu" else batch


#: The four ListOps operators (Nangia & Bowman 2018): maximum, minimum, integer median,
#: sum modulo 10.
LISTOPS_OPERATORS = ("MAX", "MIN", "MED", "SM")
#: Node tokens of a ListOps tree: digits 0-9 are ids 0-9, the operators 10-13.
LISTOPS_VOCAB = tuple(str(d) for d in range(10)) + LISTOPS_OPERATORS
#: Tokens of the bracketed string (the sequence baseline's input): ``[MAX`` has MAX's id;
#: ``]`` is 14 and the padding ``<pad>`` 15. The binarised trees
#: (``listops_batch(binarize=True)``) use these ids for their leaves and ``<node>`` (16) for
#: their internal nodes.
LISTOPS_SEQUENCE_VOCAB = (tuple(str(d) for d in range(10)) + tuple(f"[{op}" for op in LISTOPS_OPERATORS)
                          + ("]", "<pad>", "<node>"))
_LISTOPS_DIGITS = 10
_LISTOPS_CLOSE = LISTOPS_SEQUENCE_VOCAB.index("]")
_LISTOPS_PAD = LISTOPS_SEQUENCE_VOCAB.index("<pad>")
_LISTOPS_NODE = LISTOPS_SEQUENCE_VOCAB.index("<node>")


def _apply_listops(op: str, args: Sequence[int]) -> int:
    if op == "MAX":
        return max(args)
    if op == "MIN":
        return min(args)
    if op == "MED":
        return int(np.median(args))  # the mean of the middle two, truncated, for an even count
    if op == "SM":
        return sum(args) % _LISTOPS_DIGITS
    raise ValueError(f"expected a ListOps operator in {LISTOPS_OPERATORS}, got {op!r}")


def listops_value(expression: Any) -> int:
    """The value of a ListOps expression, given as nested tuples ``("MAX", 2, ("MIN", 4, 7))``.

    Evaluated with an explicit stack (any depth).

    Examples:
        >>> listops_value(("SM", 9, ("MAX", 2, 7), 5))
        1
    """
    data = tree_from_nested(expression, labelled=True,
                            vocab=lambda s: LISTOPS_VOCAB.index(str(s)))
    parents = [-1] * data.num_nodes
    for c, p in data.edge_index.t().tolist():
        parents[c] = p
    return _evaluate_listops(parents, data.token.tolist())


def _evaluate_listops(parents: Sequence[int], tokens: Sequence[int]) -> int:
    kids = _children(parents)
    value = [0] * len(parents)
    for node in range(len(parents) - 1, -1, -1):
        token = tokens[node]
        if token < _LISTOPS_DIGITS:
            value[node] = token
        else:
            value[node] = _apply_listops(LISTOPS_VOCAB[token], [value[k] for k in kids[node]])
    return value[0]


def _listops_tree(draw: _Uniforms, max_depth: int, subexpression_prob: float, max_args: int):
    """One ListOps expression in pre-order: (parents, slots, tokens). The root is an operator."""
    parents: list[int] = []
    slots: list[int] = []
    tokens: list[int] = []
    stack = [(-1, 0, 1)]  # (parent, slot, depth of the node)
    while stack:
        parent, slot, depth = stack.pop()
        parents.append(parent)
        slots.append(slot)
        node = len(parents) - 1
        is_operator = parent < 0 or (depth < max_depth and draw.uniform() < subexpression_prob)
        if is_operator:
            tokens.append(_LISTOPS_DIGITS + draw.randint(0, len(LISTOPS_OPERATORS) - 1))
            num_args = draw.randint(2, max_args)
            for k in range(num_args - 1, -1, -1):
                stack.append((node, k, depth + 1))
        else:
            tokens.append(draw.randint(0, _LISTOPS_DIGITS - 1))
    return parents, slots, tokens


def _prefix_tokens(parents: Sequence[int], tokens: Sequence[int]) -> list[int]:
    """The ListOps string as sequence-vocabulary ids: ``[OP`` children... ``]``."""
    kids = _children(parents)
    out: list[int] = []
    stack: list[int] = [0]  # node ids, or ~node for "close node"
    while stack:
        item = stack.pop()
        if item < 0:
            out.append(_LISTOPS_CLOSE)
            continue
        out.append(tokens[item])
        if tokens[item] >= _LISTOPS_DIGITS:
            stack.append(~item)
            stack.extend(reversed(kids[item]))
    return out


def _binarize_listops(parents: Sequence[int], tokens: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
    """The left-branching binary tree of the original ListOps data: ``[OP a b ]`` becomes
    ``((([OP a) b) ])``; leaves carry `LISTOPS_SEQUENCE_VOCAB` ids, internal nodes ``<node>``."""
    kids = _children(parents)
    out_parents: list[int] = []
    out_slots: list[int] = []
    out_tokens: list[int] = []

    def new(token: int) -> int:
        out_parents.append(-1)
        out_slots.append(0)
        out_tokens.append(token)
        return len(out_tokens) - 1

    def combine(left: int, right: int) -> int:
        node = new(_LISTOPS_NODE)
        out_parents[left], out_slots[left] = node, 0
        out_parents[right], out_slots[right] = node, 1
        return node

    subtree = [0] * len(parents)
    for node in range(len(parents) - 1, -1, -1):  # pre-order reversed: children first
        if tokens[node] < _LISTOPS_DIGITS:
            subtree[node] = new(tokens[node])
            continue
        accumulated = new(tokens[node])  # the "[OP" leaf
        for child in kids[node]:
            accumulated = combine(accumulated, subtree[child])
        subtree[node] = combine(accumulated, new(_LISTOPS_CLOSE))
    return out_parents, out_slots, out_tokens


def listops_batch(
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    *,
    max_depth: int = 20,
    subexpression_prob: float = 0.25,
    max_args: int = 5,
    min_depth: int = 1,
    binarize: bool = False,
) -> TreeTaskBatch:
    r"""A batch of ListOps expressions (Nangia & Bowman 2018) with gold trees and strings.

    Prefix expressions over digits 0-9 with MAX, MIN, MED (integer median) and SM (sum
    modulo 10), e.g. ``[MAX 2 9 [MIN 4 7 ] 0 ]`` = 9. The root is an operator with 2 to
    ``max_args`` arguments; each argument is a sub-expression with probability
    ``subexpression_prob`` (the original generator's ``VALUE_P = 0.25``: there a draw
    ``r > VALUE_P`` gives a digit), else a digit; at ``max_depth`` every argument is a
    digit. Label: the value, one of 10 classes.

    Tree: operators are internal nodes whose children are the arguments in order;
    tokens per `LISTOPS_VOCAB`. With ``binarize=True`` instead the binary trees of
    the original data set, which Nangia & Bowman's Tree-LSTM read: every token of the
    string is a leaf and the tree branches left, ``[MAX 2 9 ]`` →
    ``((([MAX 2) 9) ])``; leaves carry the string's token ids, internal nodes the id of
    ``<node>``. Sequence: the string's tokens per `LISTOPS_SEQUENCE_VOCAB`.

    Args:
        batch_size: B.
        generator: the CPU generator that draws the expressions (``None``: torch's global one).
        device: where the tensors go.
        max_depth: the deepest nesting (20 in the paper).
        subexpression_prob: probability that an argument is a sub-expression (0.25).
        max_args: the most arguments of an operator (5).
        min_depth: expressions shallower than this are drawn again.
        binarize: give the left-branching binary trees instead of the operator trees.

    Returns:
        A `TreeTaskBatch` with ``target`` (B,) long; ``depth`` is the nesting
        depth of operators in both tree forms.

    Examples:
        >>> batch = listops_batch(4, torch.Generator().manual_seed(0))
        >>> batch.target.shape, batch.tree.schedule.roots.numel()
        (torch.Size([4]), 4)
    """
    if not 1 <= min_depth <= max_depth:
        raise ValueError(f"listops_batch: expected 1 <= min_depth <= max_depth, got {min_depth}, {max_depth}")
    draw = _Uniforms(generator)
    flat, sequences, texts, targets, depths = [], [], [], [], []
    while len(flat) < batch_size:
        parents, slots, tokens = _listops_tree(draw, max_depth, subexpression_prob, max_args)
        depth = _heights(parents)[0]
        if depth < min_depth:
            continue
        flat.append(_binarize_listops(parents, tokens) if binarize else (parents, slots, tokens))
        depths.append(depth)
        sequence = _prefix_tokens(parents, tokens)
        sequences.append(sequence)
        texts.append(" ".join(LISTOPS_SEQUENCE_VOCAB[t] for t in sequence))
        targets.append(_evaluate_listops(parents, tokens))
    return _make_batch(flat, sequences, texts, targets, depths, _LISTOPS_PAD, torch.long, device)


#: Node tokens of an arithmetic tree: integers −10..10 are ids 0..20 (value + 10),
#: ``+`` 21 and ``-`` 22.
ARITHMETIC_VOCAB = tuple(str(v) for v in range(-10, 11)) + ("+", "-")
#: Tokens of the fully bracketed infix string ``( 3 + ( -4 - 7 ) )``: the node tokens,
#: then ``(`` 23, ``)`` 24 and ``<pad>`` 25.
ARITHMETIC_SEQUENCE_VOCAB = ARITHMETIC_VOCAB + ("(", ")", "<pad>")
_ARITH_LOW, _ARITH_HIGH = -10, 10
_ARITH_PLUS = ARITHMETIC_VOCAB.index("+")
_ARITH_MINUS = ARITHMETIC_VOCAB.index("-")
_ARITH_OPEN = ARITHMETIC_SEQUENCE_VOCAB.index("(")
_ARITH_CLOSE = ARITHMETIC_SEQUENCE_VOCAB.index(")")
_ARITH_PAD = ARITHMETIC_SEQUENCE_VOCAB.index("<pad>")


def _arithmetic_tree(draw: _Uniforms, depth: int, leaf_prob: float):
    """One expression of nesting depth exactly ``depth`` in pre-order: (parents, slots, tokens)."""
    parents: list[int] = []
    slots: list[int] = []
    tokens: list[int] = []
    stack = [(-1, 0, depth)]
    while stack:
        parent, slot, need = stack.pop()
        parents.append(parent)
        slots.append(slot)
        node = len(parents) - 1
        if need == 0:
            tokens.append(draw.randint(_ARITH_LOW, _ARITH_HIGH) - _ARITH_LOW)
            continue
        tokens.append(_ARITH_PLUS if draw.uniform() < 0.5 else _ARITH_MINUS)
        deep_side = draw.randint(0, 1)
        other = 0 if need == 1 or draw.uniform() < leaf_prob else draw.randint(1, need - 1)
        needs = (need - 1, other) if deep_side == 0 else (other, need - 1)
        stack.append((node, 1, needs[1]))
        stack.append((node, 0, needs[0]))
    return parents, slots, tokens


def _arithmetic_value_and_infix(parents: Sequence[int], tokens: Sequence[int]) -> tuple[int, list[int]]:
    kids = _children(parents)
    value = [0] * len(parents)
    for node in range(len(parents) - 1, -1, -1):
        if kids[node]:
            left, right = value[kids[node][0]], value[kids[node][1]]
            value[node] = left + right if tokens[node] == _ARITH_PLUS else left - right
        else:
            value[node] = tokens[node] + _ARITH_LOW
    out: list[int] = []
    stack: list[tuple[str, int]] = [("node", 0)]
    while stack:
        kind, item = stack.pop()
        if kind == "token":
            out.append(item)
        elif kids[item]:
            left, right = kids[item]
            stack.extend([("token", _ARITH_CLOSE), ("node", right), ("token", tokens[item]), ("node", left),
                          ("token", _ARITH_OPEN)])
        else:
            out.append(tokens[item])
    return value[0], out


def arithmetic_batch(
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    *,
    min_depth: int = 1,
    max_depth: int = 4,
    leaf_prob: float = 0.5,
) -> TreeTaskBatch:
    r"""A batch of arithmetic expressions over integers −10..10 with ``+`` and ``-``.

    Each expression's nesting depth $d$ is drawn uniformly from ``min_depth..max_depth``
    (a number has depth 0, ``(a op b)`` one more than its deeper operand). An expression
    of depth $d$ is an operator whose operands, in random order, are one expression of
    depth $d - 1$ and one that is a number with probability ``leaf_prob``, else an
    expression of depth uniform in $1..d-1$. Numbers are uniform in −10..10, operators
    ``+`` or ``-`` with probability ½. Target: the value (a float, for regression).

    TASKS.md: train on depth ≤ 4, test on depth 5-8 (generalisation in depth).

    Tree: operators are internal nodes with the left and right operand as children
    (slots 0, 1); tokens per `ARITHMETIC_VOCAB`. Sequence: the fully bracketed
    infix string, tokens per `ARITHMETIC_SEQUENCE_VOCAB`.

    Args:
        batch_size: B.
        generator: the CPU generator (``None``: torch's global one).
        device: where the tensors go.
        min_depth: the shallowest nesting depth (≥ 1).
        max_depth: the deepest nesting depth.
        leaf_prob: probability that the shallower operand is a number.

    Returns:
        A `TreeTaskBatch` with ``target`` (B,) float.

    Examples:
        >>> batch = arithmetic_batch(3, torch.Generator().manual_seed(0), min_depth=2, max_depth=2)
        >>> batch.depth.tolist()
        [2, 2, 2]
    """
    if not 1 <= min_depth <= max_depth:
        raise ValueError(f"arithmetic_batch: expected 1 <= min_depth <= max_depth, got {min_depth}, {max_depth}")
    draw = _Uniforms(generator)
    flat, sequences, texts, targets, depths = [], [], [], [], []
    for _ in range(batch_size):
        depth = draw.randint(min_depth, max_depth)
        parents, slots, tokens = _arithmetic_tree(draw, depth, leaf_prob)
        value, sequence = _arithmetic_value_and_infix(parents, tokens)
        flat.append((parents, slots, tokens))
        depths.append(depth)
        sequences.append(sequence)
        texts.append(" ".join(ARITHMETIC_SEQUENCE_VOCAB[t] for t in sequence))
        targets.append(float(value))
    return _make_batch(flat, sequences, texts, targets, depths, _ARITH_PAD, torch.float32, device)
