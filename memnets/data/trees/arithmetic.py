"""Arithmetic expressions over integers −10..10 with ``+`` and ``-``: gold trees and strings."""

from __future__ import annotations

from typing import Sequence

import torch

from memnets._checks import check_probability
from memnets.data.trees._common import (TreeTaskBatch, Uniforms, check_depths, check_generator, children_lists,
                                        make_batch)

__all__ = ["ARITHMETIC_VOCAB", "ARITHMETIC_SEQUENCE_VOCAB", "arithmetic_batch"]


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


def _arithmetic_tree(draw: Uniforms, depth: int, leaf_prob: float):
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
    kids = children_lists(parents)
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

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: ``batch_size`` < 1, depths outside ``1 <= min_depth <= max_depth``,
            or ``leaf_prob`` outside [0, 1].

    Examples:
        >>> batch = arithmetic_batch(3, torch.Generator().manual_seed(0), min_depth=2, max_depth=2)
        >>> batch.depth.tolist()
        [2, 2, 2]
    """
    check_generator("arithmetic_batch", batch_size, generator)
    check_depths("arithmetic_batch", min_depth, max_depth)
    check_probability("arithmetic_batch", leaf_prob=leaf_prob)
    draw = Uniforms(generator)
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
    return make_batch(flat, sequences, texts, targets, depths, _ARITH_PAD, torch.float32, device)
