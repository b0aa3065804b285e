"""Tests of memnets.nn.trees.schedule: the level schedule, its validation, collation."""

from __future__ import annotations

import numpy as np
import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch, Data

from memnets.data.trees import tree_from_string
from memnets.nn.trees import TreeSchedule, attach_schedule, collate_trees, tree_schedule


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
    with pytest.raises(TypeError, match="num_nodes"):
        tree_schedule(torch.zeros(2, 0, dtype=torch.long), 2.0)
    with pytest.raises(ValueError, match="child_slot"):
        tree_schedule(torch.tensor([[1], [0]]), 2, child_slot=torch.tensor([-1]))
    with pytest.raises(ValueError, match="shape"):
        tree_schedule(torch.tensor([[1], [0]]), 2, child_slot=torch.tensor([0, 1]))


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


def _loop_schedule_heights(edge_index: torch.Tensor, num_nodes: int) -> list[int]:
    """Heights node by node (a slow reference for the vectorised levels)."""
    parent = [-1] * num_nodes
    for c, p in edge_index.t().tolist():
        parent[c] = p
    height = [0] * num_nodes
    changed = True
    while changed:
        changed = False
        for v in range(num_nodes):
            p = parent[v]
            if p >= 0 and height[p] < height[v] + 1:
                height[p] = height[v] + 1
                changed = True
    return height


def test_schedule_of_deep_and_wide_forests_without_recursion():
    """A chain of 10,000 nodes (10,000 levels) and a star of 5,000 children."""
    chain = torch.stack([torch.arange(0, 9999), torch.arange(1, 10000)])
    s = tree_schedule(chain, 10000)
    assert s.num_levels == 10000 and s.roots.tolist() == [9999]
    star = torch.stack([torch.arange(1, 5001), torch.zeros(5000, dtype=torch.long)])
    s = tree_schedule(star, 5001)
    assert s.num_levels == 2 and s.max_children == 5000 and s.outflow[0] == ((1, 5000),)
    assert _loop_schedule_heights(star, 5001) == s.height.tolist()


def test_schedule_is_computed_once_and_kept_on_the_data():
    data = attach_schedule(Data(edge_index=torch.tensor([[1, 2], [0, 0]]), num_nodes=3))
    first = data.schedule
    from memnets.nn.trees import as_schedule

    assert as_schedule(data, 3) is first  # a precomputed schedule is not recomputed
    with pytest.raises(ValueError, match="one row per node"):
        as_schedule(data, 4)
    with pytest.raises(TypeError, match="expected a tree"):
        as_schedule([[1, 2], [0, 0]], 3)
    assert first.to("cpu") is first


def _definition_schedule(edge_index: torch.Tensor, num_nodes: int, child_slot: torch.Tensor | None = None):
    """The schedule written out from its definition, node by node with Python sorts."""
    edges = edge_index.t().tolist()
    slots = child_slot.tolist() if child_slot is not None else None
    parent = [-1] * num_nodes
    for c, p in edges:
        parent[c] = p
    height = _loop_schedule_heights(edge_index, num_nodes)
    levels = max(height) + 1 if num_nodes else 0
    consumer = [levels if parent[v] < 0 else height[parent[v]] for v in range(num_nodes)]
    order = sorted(range(num_nodes), key=lambda v: (height[v], consumer[v], v))
    position = [0] * num_nodes
    for row, v in enumerate(order):
        position[v] = row
    node_ptr = [0] + [sum(1 for v in range(num_nodes) if height[v] <= level) for level in range(levels)]
    if slots is None:  # the k-th edge of a parent, in column order, is slot k
        seen: dict[int, int] = {}
        slots = []
        for _, p in edges:
            slots.append(seen.get(p, 0))
            seen[p] = slots[-1] + 1
    by_edge = sorted(range(len(edges)), key=lambda e: (height[edges[e][1]], position[edges[e][0]]))
    child = [position[edges[e][0]] for e in by_edge]
    within = [position[edges[e][1]] - node_ptr[height[edges[e][1]]] for e in by_edge]
    edge_ptr = [0] + [sum(1 for c, p in edges if height[p] <= level) for level in range(levels)]
    roots = [v for v in range(num_nodes) if parent[v] < 0]
    return {"order": order, "position": position, "height": height, "roots": roots,
            "root_position": [position[r] for r in roots], "child": child, "parent": within,
            "slot": [slots[e] for e in by_edge], "node_ptr": node_ptr, "edge_ptr": edge_ptr}


def _forests():
    """Random forests (one-node trees included), shuffled; an empty one; leaves only; a chain of
    200 levels (level keys beyond 16 bits); a star."""
    for seed in range(4):
        data = _random_forest(seed, sizes=(1, 1, 6, 17, 40, 3, 1, 25))
        gen = torch.Generator().manual_seed(100 + seed)
        columns = torch.randperm(data.edge_index.shape[1], generator=gen)
        slot = torch.randperm(data.edge_index.shape[1], generator=gen)  # distinct: one child per slot
        yield data.edge_index[:, columns], data.num_nodes, slot if seed % 2 else None
    yield torch.zeros(2, 0, dtype=torch.long), 0, None
    yield torch.zeros(2, 0, dtype=torch.long), 5, None
    yield torch.stack([torch.arange(0, 199), torch.arange(1, 200)]), 200, None
    yield torch.stack([torch.arange(1, 41), torch.zeros(40, dtype=torch.long)]), 41, None


@pytest.mark.parametrize("case", range(len(list(_forests()))))
def test_schedule_equals_its_definition(case):
    """The whole-array schedule, field by field, against the definition node by node."""
    edge_index, num_nodes, child_slot = list(_forests())[case]
    s = tree_schedule(edge_index, num_nodes, child_slot)
    expected = _definition_schedule(edge_index, num_nodes, child_slot)
    for name, value in expected.items():
        got = getattr(s, name)
        assert (list(got) if isinstance(got, tuple) else got.tolist()) == value, name
    assert s.num_levels == len(expected["node_ptr"]) - 1
