"""Tests of memnets.data.trees.builders: nested lists, strings, sequences, forests."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Data

from memnets.data.trees import (
    LISTOPS_VOCAB,
    balanced_binary_tree,
    chain_tree,
    forest_from_parents,
    tree_from_nested,
    tree_from_string,
)
from memnets.nn.trees import tree_schedule


def test_nested_and_string_builders_agree_in_preorder():
    vocab = {w: i for i, w in enumerate("abcde")}
    from_nested = tree_from_nested((("a", "b"), "c", ("d", ("e",))), vocab=vocab)
    from_text = tree_from_string("((a b) c (d (e)))", vocab=vocab)
    for key in ("edge_index", "child_slot", "token"):
        assert torch.equal(from_nested[key], from_text[key])
    assert from_text.token.tolist() == [-1, -1, 0, 1, 2, -1, 3, -1, 4]
    assert from_text.edge_index.tolist() == [[1, 2, 3, 4, 5, 6, 7, 8], [0, 1, 1, 0, 0, 5, 5, 7]]
    assert from_text.child_slot.tolist() == [0, 0, 1, 1, 2, 0, 1, 0]


def test_labelled_builders_and_listops_brackets():
    vocab = {w: i for i, w in enumerate(LISTOPS_VOCAB)}
    nested = tree_from_nested(("MAX", "2", "9", ("MIN", "4", "7"), "0"), labelled=True, vocab=vocab)
    text = tree_from_string("[MAX 2 9 [MIN 4 7 ] 0 ]", labelled=True, vocab=vocab, brackets="[]")
    assert torch.equal(nested.token, text.token) and torch.equal(nested.edge_index, text.edge_index)
    assert [LISTOPS_VOCAB[t] for t in text.token] == ["MAX", "2", "9", "MIN", "4", "7", "0"]
    assert tree_from_string("7").num_nodes == 1 and tree_from_string("7").edge_index.shape == (2, 0)
    assert tree_from_nested(4).token.tolist() == [4]


@pytest.mark.parametrize(
    "text, message",
    [("", "empty"), ("(1 2", "unclosed"), ("(1 2))", "after the end"), ("(1) 2", "after the end"),
     (")", "unbalanced"), ("(a)", "integer labels")],
)
def test_string_builder_errors(text, message):
    with pytest.raises(ValueError, match=message):
        tree_from_string(text)


def test_labelled_errors():
    with pytest.raises(ValueError, match="label"):
        tree_from_string("((1) 2)", labelled=True)
    with pytest.raises(ValueError, match="label"):
        tree_from_nested((), labelled=True)
    with pytest.raises(ValueError, match="vocabulary"):
        tree_from_nested(("X", 1), labelled=True, vocab={"Y": 0, 1: 1})


@pytest.mark.parametrize("length", [1, 2, 3, 5, 8, 13])
def test_balanced_binary_tree(length):
    tree = balanced_binary_tree(length)
    s = tree_schedule(tree.edge_index, tree.num_nodes, tree.child_slot)  # the model-side schedule
    assert tree.num_nodes == 2 * length - 1
    assert s.roots.tolist() == [2 * length - 2]
    assert s.num_levels == math.ceil(math.log2(length)) + 1
    assert s.height[:length].eq(0).all()  # the sequence positions are the leaves
    assert torch.bincount(tree.edge_index[1], minlength=tree.num_nodes)[length:].eq(2).all()
    # an in-order walk of the leaves gives the sequence back
    kids = {}
    for (c, p), slot in zip(tree.edge_index.t().tolist(), tree.child_slot.tolist()):
        kids.setdefault(p, {})[slot] = c
    order, stack = [], [2 * length - 2]
    while stack:
        v = stack.pop()
        if v in kids:
            stack.extend([kids[v][1], kids[v][0]])
        else:
            order.append(v)
    assert order == list(range(length))


def test_chain_tree_and_builder_errors():
    tree = chain_tree(4)
    assert tree.edge_index.tolist() == [[0, 1, 2], [1, 2, 3]]
    for bad in (0, -1):
        with pytest.raises(ValueError):
            chain_tree(bad)
        with pytest.raises(ValueError):
            balanced_binary_tree(bad)


def test_forest_from_parents_offsets_like_torch_geometric():
    from torch_geometric.data import Batch

    trees = [([-1, 0, 0], [0, 0, 1], [5, 6, 7]), ([-1], [0], [8]), ([-1, 0, 1, 1], [0, 0, 0, 1], [1, 2, 3, 4])]
    forest = forest_from_parents(sum((t[0] for t in trees), []), sum((t[1] for t in trees), []),
                                 sum((t[2] for t in trees), []), [3, 1, 4])
    reference = Batch.from_data_list([tree_from_string(s) for s in ("(6 7)", "8", "((3 4))")])
    assert torch.equal(forest.edge_index, reference.edge_index)
    assert torch.equal(forest.child_slot, reference.child_slot)
    assert torch.equal(forest.batch, reference.batch) and torch.equal(forest.ptr, reference.ptr)
    assert forest.token.tolist() == [5, 6, 7, 8, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="adding up"):
        forest_from_parents([-1, 0], [0, 0], None, [3])
    with pytest.raises(ValueError, match="inside its own tree"):
        forest_from_parents([-1, -1, 2], [0, 0, 0], None, [1, 2])


@pytest.mark.parametrize("builder", [chain_tree, balanced_binary_tree])
def test_sequence_builders_refuse_bad_lengths(builder):
    with pytest.raises(TypeError, match="length should be of type int"):
        builder(2.0)
    with pytest.raises(ValueError, match="length must be greater than zero, got 0"):
        builder(0)
