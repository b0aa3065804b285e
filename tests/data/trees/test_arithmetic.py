"""Tests of memnets.data.trees.arithmetic: values, depths, strings and trees."""

from __future__ import annotations

import re

import pytest
import torch

from memnets.data.trees import ARITHMETIC_SEQUENCE_VOCAB, arithmetic_batch
from memnets.nn.trees import tree_schedule


def root_heights(forest) -> torch.Tensor:
    """The height of each tree's root, by the model-side schedule (an independent computation)."""
    s = tree_schedule(forest.edge_index, forest.num_nodes, forest.child_slot)
    return s.height[s.roots]


def test_arithmetic_values_depths_and_strings():
    batch = arithmetic_batch(300, torch.Generator().manual_seed(0), min_depth=1, max_depth=8)
    assert set(batch.depth.tolist()) == set(range(1, 9))
    assert torch.equal(batch.depth, root_heights(batch.tree))
    for b in range(batch.batch_size):
        text = batch.text[b]
        assert re.fullmatch(r"[-+() 0-9]+", text)
        assert eval(text) == batch.target[b].item()  # noqa: S307 - digits, + - and brackets only
        tokens = batch.sequence[: batch.lengths[b], b].tolist()
        assert " ".join(ARITHMETIC_SEQUENCE_VOCAB[t] for t in tokens) == text
    operators = batch.tree.token >= 21
    kids = torch.bincount(batch.tree.edge_index[1], minlength=batch.tree.num_nodes)
    assert (kids[operators] == 2).all() and (kids[~operators] == 0).all()
    assert batch.tree.token[~operators].min() >= 0 and batch.tree.token[~operators].max() <= 20


def test_arithmetic_deterministic_and_device():
    a = arithmetic_batch(10, torch.Generator().manual_seed(3), min_depth=5, max_depth=8)
    b = arithmetic_batch(10, torch.Generator().manual_seed(3), min_depth=5, max_depth=8, device="cpu")
    assert a.text == b.text and torch.equal(a.target, b.target)
    assert a.depth.min() >= 5


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be greater than zero, got 0"),
    ({"leaf_prob": 2.0}, ValueError, r"leaf_prob in \[0.0, 1.0\], got 2.0"),
    ({"min_depth": 0}, ValueError, "min_depth must be greater than zero"),
    ({"min_depth": 5, "max_depth": 4}, ValueError, "min_depth <= max_depth"),
    ({"max_depth": 4.0}, TypeError, "max_depth should be of type int"),
])
def test_arithmetic_batch_validates_its_arguments(kwargs, error, message):
    arguments = {"batch_size": 2, **kwargs}
    with pytest.raises(error, match=message):
        arithmetic_batch(arguments.pop("batch_size"), **arguments)


def test_leaf_prob_ends():
    """leaf_prob = 1: the shallower operand is always a number (a caterpillar of depth d has
    2d + 1 nodes); leaf_prob = 0 at depth >= 2: it is an expression whenever it can be."""
    batch = arithmetic_batch(50, torch.Generator().manual_seed(0), min_depth=3, max_depth=3, leaf_prob=1.0)
    assert (batch.tree.ptr.diff() == 7).all()
    batch = arithmetic_batch(50, torch.Generator().manual_seed(0), min_depth=3, max_depth=3, leaf_prob=0.0)
    assert (batch.tree.ptr.diff() > 7).all()
