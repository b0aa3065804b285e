"""Trees as torch_geometric graphs: builders from nested lists, strings and sequences.

A tree of V nodes is a `torch_geometric.data.Data` with

* ``edge_index`` (2, E): one column per child → parent edge (row 0 the children, row 1
  their parents), so E = V − 1 for one tree;
* ``child_slot`` (E,): the position of each child among its parent's children
  (0-based, the order of the arguments), read by the N-ary models;
* ``token`` (V,): the node's label as an integer id (digits and operators for the tasks);
* ``num_nodes``.

Builders: `tree_from_nested` (nested tuples), `tree_from_string` (bracketed
strings), `balanced_binary_tree` (the data-independent tree over a sequence of
Goodfellow, Bengio & Courville 2016, §10.6), `chain_tree` (a sequence as a
degenerate tree) and `forest_from_parents` (many trees from their parent lists at once,
how the task generators collate a batch). The level schedule that the models of
`memnets.nn.trees` evaluate a forest with is not data: it is computed there.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np
import torch
from torch_geometric.data import Data

from memnets._checks import check_positive_int

__all__ = [
    "UNLABELLED",
    "tree_from_nested",
    "tree_from_string",
    "balanced_binary_tree",
    "chain_tree",
    "forest_from_parents",
]

#: Token id of a node that has no label (an unlabelled internal node).
UNLABELLED = -1


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
    """One tree from its parent, slot and token lists (nodes numbered as listed)."""
    return forest_from_parents(parents, slots, tokens, [len(parents)])


def forest_from_parents(
    parents: Sequence[int] | np.ndarray,
    slots: Sequence[int] | np.ndarray,
    tokens: Sequence[int] | np.ndarray | None,
    sizes: Sequence[int] | np.ndarray,
) -> Data:
    """A forest from its trees' parent lists laid end to end, in whole-array operations.

    Tree b holds the next ``sizes[b]`` entries; ``parents`` are *local* ids within each
    tree (``-1`` for the root), so a generator can write each tree on its own and this
    function offsets them all at once (no loop over trees or nodes): the collation of a
    generated batch.

    Args:
        parents: (V,) each node's parent within its tree, ``-1`` for a root.
        slots: (V,) each node's position among its siblings (ignored for roots).
        tokens: (V,) node token ids, or ``None``.
        sizes: (B,) the number of nodes of each tree.

    Returns:
        ``Data(edge_index, child_slot, token, batch, ptr, num_nodes)`` with ``edge_index``
        child → parent in global ids, ``batch`` (V,) the tree of each node and ``ptr``
        (B+1,) the first node of each tree (torch_geometric's batch attributes).

    Raises:
        ValueError: if the sizes do not add up to the number of nodes, or a parent lies
            outside its tree.

    Examples:
        >>> forest = forest_from_parents([-1, 0, 0, -1, 0], [0, 0, 1, 0, 0], None, [3, 2])
        >>> forest.edge_index.tolist(), forest.batch.tolist()
        ([[1, 2, 4], [0, 0, 3]], [0, 0, 0, 1, 1])
    """
    parents_a = np.asarray(parents, dtype=np.int64)
    sizes_a = np.asarray(sizes, dtype=np.int64)
    if sizes_a.ndim != 1 or (sizes_a < 0).any() or int(sizes_a.sum()) != parents_a.size:
        raise ValueError(f"forest_from_parents: expected non-negative sizes adding up to the {parents_a.size} "
                         f"nodes, got sizes adding up to {int(sizes_a.sum())}")
    ptr = np.r_[0, np.cumsum(sizes_a)]
    tree_of = np.repeat(np.arange(sizes_a.size), sizes_a)
    has_parent = np.flatnonzero(parents_a >= 0)
    local = parents_a[has_parent]
    if (local >= sizes_a[tree_of[has_parent]]).any():
        raise ValueError("forest_from_parents: expected every parent inside its own tree, got one outside")
    edge_index = np.stack([has_parent, local + ptr[tree_of[has_parent]]])
    data = Data(edge_index=torch.from_numpy(edge_index),
                child_slot=torch.from_numpy(np.asarray(slots, dtype=np.int64)[has_parent]),
                batch=torch.from_numpy(tree_of), ptr=torch.from_numpy(ptr), num_nodes=int(parents_a.size))
    if tokens is not None:
        data.token = torch.from_numpy(np.asarray(tokens, dtype=np.int64))
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
    check_positive_int("balanced_binary_tree", length=length)
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
    check_positive_int("chain_tree", length=length)
    return _flat_to_data(list(range(1, length)) + [-1], [0] * length, None)
