"""ListOps (Nangia & Bowman 2018): nested MAX/MIN/MED/SM expressions, gold trees and strings."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from memnets._checks import check_int, check_probability
from memnets.data.trees._common import (TreeTaskBatch, Uniforms, check_depths, check_generator, children_lists,
                                        heights, make_batch)
from memnets.data.trees.builders import tree_from_nested

__all__ = ["LISTOPS_OPERATORS", "LISTOPS_VOCAB", "LISTOPS_SEQUENCE_VOCAB", "listops_batch", "listops_value"]


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
    kids = children_lists(parents)
    value = [0] * len(parents)
    for node in range(len(parents) - 1, -1, -1):
        token = tokens[node]
        if token < _LISTOPS_DIGITS:
            value[node] = token
        else:
            value[node] = _apply_listops(LISTOPS_VOCAB[token], [value[k] for k in kids[node]])
    return value[0]


def _listops_tree(draw: Uniforms, max_depth: int, subexpression_prob: float, max_args: int):
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
    kids = children_lists(parents)
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
    kids = children_lists(parents)
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

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: ``batch_size`` < 1, depths outside ``1 <= min_depth <= max_depth``,
            ``subexpression_prob`` outside [0, 1], or ``max_args`` < 2.

    Examples:
        >>> batch = listops_batch(4, torch.Generator().manual_seed(0))
        >>> batch.target.shape, batch.tree.ptr.numel() - 1
        (torch.Size([4]), 4)
    """
    check_generator("listops_batch", batch_size, generator)
    check_depths("listops_batch", min_depth, max_depth)
    check_probability("listops_batch", subexpression_prob=subexpression_prob)
    check_int("listops_batch", minimum=2, max_args=max_args)
    draw = Uniforms(generator)
    flat, sequences, texts, targets, depths = [], [], [], [], []
    while len(flat) < batch_size:
        parents, slots, tokens = _listops_tree(draw, max_depth, subexpression_prob, max_args)
        depth = heights(parents)[0]
        if depth < min_depth:
            continue
        flat.append(_binarize_listops(parents, tokens) if binarize else (parents, slots, tokens))
        depths.append(depth)
        sequence = _prefix_tokens(parents, tokens)
        sequences.append(sequence)
        texts.append(" ".join(LISTOPS_SEQUENCE_VOCAB[t] for t in sequence))
        targets.append(_evaluate_listops(parents, tokens))
    return make_batch(flat, sequences, texts, targets, depths, _LISTOPS_PAD, torch.long, device)


