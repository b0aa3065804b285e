"""Tests of memnets.data.trees: schedules, builders, batching, ListOps and arithmetic data."""

from __future__ import annotations

import math
import re

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from memnets.data.trees import (
    ARITHMETIC_SEQUENCE_VOCAB,
    LISTOPS_SEQUENCE_VOCAB,
    LISTOPS_VOCAB,
    TreeSchedule,
    arithmetic_batch,
    attach_schedule,
    balanced_binary_tree,
    chain_tree,
    collate_trees,
    listops_batch,
    listops_value,
    tree_from_nested,
    tree_from_string,
    tree_schedule,
)


def _random_forest(seed: int, sizes=(1, 3, 8, 20, 5)) -> Data:
    gen = torch.Generator().manual_seed(seed)
    rows, cols, offset = [], [], 0
    for n in sizes:
        for node in range(1, n):
            rows.append(offset + node)
            cols.append(offset + int(torch.randint(node, (1,), generator=gen)))
        offset += n
    perm = torch.randperm(offset, generator=gen)
    edge_index = perm[torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)]
    return Data(edge_index=edge_index, num_nodes=offset)


# ---------------------------------------------------------------- the schedule


@pytest.mark.parametrize("seed", range(3))
def test_schedule_heights_and_levels_agree_with_networkx(seed):
    data = _random_forest(seed)
    s = tree_schedule(data.edge_index, data.num_nodes)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(data.num_nodes))
    graph.add_edges_from(data.edge_index.t().tolist())  # child -> parent
    height = {v: 0 for v in graph}
    for v in nx.topological_sort(graph):  # children before parents
        for p in graph.successors(v):
            height[p] = max(height[p], height[v] + 1)
    assert s.height.tolist() == [height[v] for v in range(data.num_nodes)]
    assert s.roots.tolist() == sorted(v for v in graph if graph.out_degree(v) == 0)
    assert s.num_levels == max(height.values()) + 1
    # level order: the permutation and its inverse, levels contiguous and sorted
    assert torch.equal(s.order[s.position], torch.arange(data.num_nodes))
    assert torch.equal(s.height[s.order], s.height[s.order].sort().values)
    # each level's edges: children on lower levels, parents inside the level
    children = {v: sorted(graph.predecessors(v)) for v in graph}
    seen = 0
    for level, (r0, r1, e0, e1) in enumerate(s.levels()):
        assert (s.height[s.order[r0:r1]] == level).all()
        assert (s.child[e0:e1] < r0).all()
        assert ((s.parent[e0:e1] >= 0) & (s.parent[e0:e1] < r1 - r0)).all()
        got = {}
        for child_row, parent_row in zip(s.child[e0:e1].tolist(), s.parent[e0:e1].tolist()):
            got.setdefault(int(s.order[r0 + parent_row]), []).append(int(s.order[child_row]))
        for parent, kids in got.items():
            assert sorted(kids) == children[parent]
        seen += e1 - e0
    assert seen == data.edge_index.shape[1]


def test_schedule_slots_default_to_edge_order():
    # node 0 has children 3, 1, 2 in that column order -> slots 0, 1, 2
    s = tree_schedule(torch.tensor([[3, 1, 2], [0, 0, 0]]), 4)
    assert s.max_children == 3 and s.max_slot == 3

    def slots(s):
        return {int(s.order[c]): int(k) for c, k in zip(s.child, s.slot)}

    assert slots(s) == {3: 0, 1: 1, 2: 2}
    s = tree_schedule(torch.tensor([[3, 1, 2], [0, 0, 0]]), 4, child_slot=torch.tensor([4, 0, 2]))
    assert slots(s) == {3: 4, 1: 0, 2: 2} and s.max_slot == 5


@pytest.mark.parametrize("seed", range(3))
def test_schedule_outflow_blocks_feed_each_level_in_edge_order(seed):
    """The split/concatenate dataflow of the models: level m's rows, cut into its outflow
    blocks, delivered to the consuming levels in producer order, are each level's edges."""
    data = _random_forest(seed, sizes=(1, 4, 9, 30, 12, 2))
    s = tree_schedule(data.edge_index, data.num_nodes)
    parent_of = torch.full((data.num_nodes,), -1)
    parent_of[data.edge_index[0]] = data.edge_index[1]
    inbox = {level: [] for level in range(s.num_levels)}
    for level, (r0, r1, _, _) in enumerate(s.levels()):
        row = r0
        consumers = [consumer for consumer, _ in s.outflow[level]]
        assert consumers == sorted(consumers) and all(c > level for c in consumers)
        assert sum(rows for _, rows in s.outflow[level]) == r1 - r0
        for consumer, rows in s.outflow[level]:
            for r in range(row, row + rows):
                p = int(parent_of[s.order[r]])
                assert (s.num_levels if p < 0 else int(s.height[p])) == consumer
                if consumer < s.num_levels:
                    inbox[consumer].append(r)
            row += rows
    for level, (_, _, e0, e1) in enumerate(s.levels()):
        assert s.child[e0:e1].tolist() == inbox[level]


def test_schedule_of_isolated_nodes_and_empty_forest():
    s = tree_schedule(torch.zeros(2, 0, dtype=torch.long), 3)
    assert s.num_levels == 1 and s.roots.tolist() == [0, 1, 2] and s.max_children == 0
    s = tree_schedule(torch.zeros(2, 0, dtype=torch.long), 0)
    assert s.num_levels == 0 and s.roots.numel() == 0


@pytest.mark.parametrize(
    "edge_index, num_nodes, message",
    [
        ([[0, 1], [1, 0]], 2, "cycle"),
        ([[1, 2, 3], [2, 3, 1]], 4, "cycle"),
        ([[0], [0]], 1, "own parent"),
        ([[2, 2], [0, 1]], 3, "parent"),
        ([[1, 3], [0, 0]], 3, "outside"),
        ([[1, 0], [0, -2]], 3, "outside"),
    ],
)
def test_schedule_rejects_malformed_forests(edge_index, num_nodes, message):
    with pytest.raises(ValueError, match=message):
        tree_schedule(torch.tensor(edge_index), num_nodes)


def test_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_nodes"):
        tree_schedule(torch.zeros(2, 0, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="child_slot"):
        tree_schedule(torch.tensor([[1], [0]]), 2, child_slot=torch.tensor([-1]))
    with pytest.raises(ValueError, match="shape"):
        tree_schedule(torch.tensor([[1], [0]]), 2, child_slot=torch.tensor([0, 1]))


# ---------------------------------------------------------------- builders


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
    s = tree_schedule(tree.edge_index, tree.num_nodes, tree.child_slot)
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


# ---------------------------------------------------------------- batching (torch_geometric conventions)


def test_collate_offsets_indices_and_keeps_slots():
    trees = [tree_from_string("(1 2)"), tree_from_string("3"), tree_from_string("(4 (5 6))")]
    batch = collate_trees(trees)
    assert isinstance(batch, Batch) and isinstance(batch.schedule, TreeSchedule)
    assert batch.edge_index.tolist() == [[1, 2, 5, 6, 7, 8], [0, 0, 4, 4, 6, 6]]
    assert batch.child_slot.tolist() == [0, 1, 0, 1, 0, 1]
    assert batch.batch.tolist() == [0, 0, 0, 1, 2, 2, 2, 2, 2]
    assert batch.schedule.roots.tolist() == batch.ptr[:-1].tolist()  # pre-order: roots first
    back = batch.to_data_list()
    assert all(torch.equal(a.edge_index, b.edge_index) for a, b in zip(back, trees))
    # a tree that already carries a schedule is collated the same
    again = collate_trees([attach_schedule(tree_from_string("(1 2)")), tree_from_string("3")])
    assert again.schedule.num_nodes == 4


def test_schedule_moves_with_the_batch():
    batch = collate_trees([tree_from_string("(1 2)")])
    moved = batch.to("cpu")
    assert isinstance(moved.schedule, TreeSchedule)
    assert list(moved.schedule.node_ptr) == list(batch.schedule.node_ptr)
    assert torch.equal(moved.schedule.child, batch.schedule.child)


# ---------------------------------------------------------------- ListOps


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
        tree = batch.tree.get_example(b)
        vocab = {w: i for i, w in enumerate(LISTOPS_VOCAB)}
        parsed = tree_from_string(text, labelled=True, vocab=vocab, brackets="[]")
        assert torch.equal(parsed.token, tree.token) and torch.equal(parsed.edge_index, tree.edge_index)
    roots = batch.tree.schedule.roots
    assert torch.equal(batch.depth, batch.tree.schedule.height[roots])
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


# ---------------------------------------------------------------- arithmetic


def test_arithmetic_values_depths_and_strings():
    batch = arithmetic_batch(300, torch.Generator().manual_seed(0), min_depth=1, max_depth=8)
    assert set(batch.depth.tolist()) == set(range(1, 9))
    assert torch.equal(batch.depth, batch.tree.schedule.height[batch.tree.schedule.roots])
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


def test_listops_binarized_trees_read_the_string_left_to_right():
    """Nangia & Bowman's gold trees: every token of the string a leaf, in order; each
    operator with k arguments becomes k + 1 left-branching binary nodes."""
    plain = listops_batch(60, torch.Generator().manual_seed(4), max_depth=8)
    binary = listops_batch(60, torch.Generator().manual_seed(4), max_depth=8, binarize=True)
    assert binary.text == plain.text and torch.equal(binary.target, plain.target)
    assert torch.equal(binary.depth, plain.depth)
    node = LISTOPS_SEQUENCE_VOCAB.index("<node>")
    for b in range(binary.batch_size):
        tree = binary.tree.get_example(b)
        kids = {}
        for (c, p), slot in zip(tree.edge_index.t().tolist(), tree.child_slot.tolist()):
            kids.setdefault(p, {})[slot] = c
        internal = (tree.token == node).nonzero().flatten().tolist()
        assert sorted(kids) == internal and all(sorted(k) == [0, 1] for k in kids.values())
        operators = sum(1 for t in plain.tree.get_example(b).token.tolist() if t >= 10)
        arguments = plain.tree.get_example(b).edge_index.shape[1]
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
