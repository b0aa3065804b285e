"""Tests of memnets.data.trees.listops: labels, strings, trees and the generator's spec."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from memnets.data.trees import LISTOPS_SEQUENCE_VOCAB, LISTOPS_VOCAB, listops_batch, listops_value, tree_from_string
from memnets.nn.trees import tree_schedule


def tree_of(forest, b: int) -> Data:
    """Tree ``b`` of a generated forest, renumbered from 0 (its nodes are ``ptr[b]:ptr[b+1]``)."""
    low, high = int(forest.ptr[b]), int(forest.ptr[b + 1])
    keep = (forest.edge_index[0] >= low) & (forest.edge_index[0] < high)
    return Data(edge_index=forest.edge_index[:, keep] - low, child_slot=forest.child_slot[keep],
                token=forest.token[low:high], num_nodes=high - low)


def root_heights(forest) -> torch.Tensor:
    """The height of each tree's root, by the model-side schedule (an independent computation)."""
    s = tree_schedule(forest.edge_index, forest.num_nodes, forest.child_slot)
    assert torch.equal(s.roots, forest.ptr[:-1])  # pre-order: each tree's root is its first node
    return s.height[s.roots]


def _eval_listops_string(text: str) -> int:
    """An independent evaluator of the bracketed string (stack machine)."""
    ops = {"MAX": max, "MIN": min, "SM": lambda a: sum(a) % 10,
           "MED": lambda a: int(sorted(a)[len(a) // 2] if len(a) % 2 else (sorted(a)[len(a) // 2 - 1]
                                                                           + sorted(a)[len(a) // 2]) // 2)}
    stack: list = []
    for token in text.split():
        if token.startswith("["):
            stack.append([token[1:]])
        elif token == "]":
            op, *args = stack.pop()
            value = ops[op](args)
            if not stack:
                return value
            stack[-1].append(value)
        else:
            stack[-1].append(int(token))
    raise AssertionError("unterminated")


def test_listops_labels_strings_trees_agree():
    batch = listops_batch(300, torch.Generator().manual_seed(0))
    assert batch.target.dtype == torch.long and batch.target.min() >= 0 and batch.target.max() <= 9
    pad = LISTOPS_SEQUENCE_VOCAB.index("<pad>")
    for b in range(batch.batch_size):
        text = batch.text[b]
        assert _eval_listops_string(text) == int(batch.target[b])
        tokens = batch.sequence[: batch.lengths[b], b].tolist()
        assert " ".join(LISTOPS_SEQUENCE_VOCAB[t] for t in tokens) == text
        assert (batch.sequence[batch.lengths[b]:, b] == pad).all()
        tree = tree_of(batch.tree, b)
        vocab = {w: i for i, w in enumerate(LISTOPS_VOCAB)}
        parsed = tree_from_string(text, labelled=True, vocab=vocab, brackets="[]")
        assert torch.equal(parsed.token, tree.token) and torch.equal(parsed.edge_index, tree.edge_index)
    assert torch.equal(batch.depth, root_heights(batch.tree))
    assert batch.depth.min() >= 1 and batch.depth.max() <= 19  # the root is depth 1 of MAX_DEPTH = 20


def test_listops_distribution_matches_the_generator_spec():
    batch = listops_batch(400, torch.Generator().manual_seed(1), max_depth=6)
    token = batch.tree.token
    operators = token >= 10
    kids = torch.bincount(batch.tree.edge_index[1], minlength=batch.tree.num_nodes)
    assert kids[operators].min() >= 2 and kids[operators].max() <= 5 and (kids[~operators] == 0).all()
    # arguments that are sub-expressions: VALUE_P = 0.25 (except at the depth limit)
    child, parent = batch.tree.edge_index
    free = _node_depths(batch.tree)[parent] < 5  # arguments above depth 6 may be sub-expressions
    share = operators[child[free]].float().mean().item()
    assert abs(share - 0.25) < 0.03
    assert batch.depth.max() <= 5
    # deterministic given the generator
    again = listops_batch(400, torch.Generator().manual_seed(1), max_depth=6)
    assert again.text == batch.text


def _node_depths(tree) -> torch.Tensor:
    """Depth from the root (root 1) of every node, by walking parents (test helper)."""
    parent = torch.full((tree.num_nodes,), -1)
    parent[tree.edge_index[0]] = tree.edge_index[1]
    depth = torch.ones(tree.num_nodes, dtype=torch.long)
    current = parent.clone()
    while (current >= 0).any():
        depth += (current >= 0).long()
        current = torch.where(current >= 0, parent[current.clamp(min=0)], current)
    return depth


def test_listops_value_of_nested_expressions():
    assert listops_value(("MAX", 2, 9, ("MIN", 4, 7), 0)) == 9
    assert listops_value(("MED", 1, 2, 3, 8)) == 2
    assert listops_value(("SM", 9, ("MAX", 2, 7), 5)) == 1


def test_listops_min_depth():
    batch = listops_batch(20, torch.Generator().manual_seed(2), min_depth=3, max_depth=6)
    assert batch.depth.min() >= 3
    with pytest.raises(ValueError):
        listops_batch(2, min_depth=0)


def test_listops_binarized_trees_read_the_string_left_to_right():
    """Nangia & Bowman's gold trees: every token of the string a leaf, in order; each
    operator with k arguments becomes k + 1 left-branching binary nodes."""
    plain = listops_batch(60, torch.Generator().manual_seed(4), max_depth=8)
    binary = listops_batch(60, torch.Generator().manual_seed(4), max_depth=8, binarize=True)
    assert binary.text == plain.text and torch.equal(binary.target, plain.target)
    assert torch.equal(binary.depth, plain.depth)
    node = LISTOPS_SEQUENCE_VOCAB.index("<node>")
    for b in range(binary.batch_size):
        tree = tree_of(binary.tree, b)
        kids = {}
        for (c, p), slot in zip(tree.edge_index.t().tolist(), tree.child_slot.tolist()):
            kids.setdefault(p, {})[slot] = c
        internal = (tree.token == node).nonzero().flatten().tolist()
        assert sorted(kids) == internal and all(sorted(k) == [0, 1] for k in kids.values())
        operators = sum(1 for t in tree_of(plain.tree, b).token.tolist() if t >= 10)
        arguments = tree_of(plain.tree, b).edge_index.shape[1]
        assert len(internal) == arguments + operators  # k + 1 per operator
        root = (set(range(tree.num_nodes)) - set(tree.edge_index[0].tolist())).pop()
        leaves, stack = [], [root]
        while stack:
            v = stack.pop()
            if v in kids:
                stack.extend([kids[v][1], kids[v][0]])
            else:
                leaves.append(int(tree.token[v]))
        assert leaves == binary.sequence[: binary.lengths[b], b].tolist()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be greater than zero, got 0"),
    ({"batch_size": -3}, ValueError, "batch_size must be greater than zero"),
    ({"batch_size": 2.0}, TypeError, "batch_size should be of type int"),
    ({"subexpression_prob": 1.5}, ValueError, r"subexpression_prob in \[0.0, 1.0\], got 1.5"),
    ({"subexpression_prob": -0.1}, ValueError, "subexpression_prob"),
    ({"max_args": 1}, ValueError, "max_args must be at least 2, got 1"),
    ({"max_depth": 0}, ValueError, "max_depth must be greater than zero"),
    ({"min_depth": 4, "max_depth": 3}, ValueError, "min_depth <= max_depth"),
    ({"generator": 0}, TypeError, "torch.Generator"),
])
def test_listops_batch_validates_its_arguments(kwargs, error, message):
    arguments = {"batch_size": 2, **kwargs}
    with pytest.raises(error, match=message):
        listops_batch(arguments.pop("batch_size"), **arguments)
