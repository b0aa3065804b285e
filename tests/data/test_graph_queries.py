"""Tests of memnets.data.graph_queries against networkx and a solver that reads only the inputs.

The reference solver below decodes a sequence's inputs bit by bit (plain Python), builds
the graph from the triples it read, answers the query with networkx (following the labels
edge by edge, or `all_shortest_paths`) and writes the expected targets; the generator's
targets must agree with it exactly. The graphs themselves are checked against a brute-force
nearest-neighbour construction.
"""

from __future__ import annotations

import doctest
import math

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch

import memnets.data
from memnets.data import graph_queries as module
from memnets.data.bits import BitBatch, bits_per_sequence, masked_bce_loss, wrong_bits_per_sequence
from memnets.data.graph_queries import (
    GraphQuery,
    answer_step_accuracy,
    decode_triples,
    encode_queries,
    exact_answers,
    query_channels,
    query_data,
    random_graph,
    shortest_path_batch,
    shortest_path_queries,
    traversal_batch,
    traversal_queries,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_docstring_examples():
    result = doctest.testmod(module, extraglobs={"torch": torch, "nx": nx})
    assert result.attempted > 0 and result.failed == 0


def test_every_public_name_is_exported_by_memnets_data():
    assert set(module.__all__) <= set(memnets.data.__all__)
    for name in module.__all__:
        assert getattr(memnets.data, name) is getattr(module, name)


# ---------------------------------------------------------------------------------------
# the reference: read the inputs bit by bit, answer with networkx


def _number(bits: list[float]) -> int:
    """The integer a field spells, least significant bit first."""
    return sum(int(b > 0.5) << j for j, b in enumerate(bits))


def _fields(row: list[float], id_bits: int, label_bits: int) -> tuple[int, int, int]:
    source = _number(row[:id_bits])
    label = _number(row[id_bits:id_bits + label_bits]) - 1  # code 0 is "no label"
    target = _number(row[id_bits + label_bits:2 * id_bits + label_bits])
    return source, label, target


def _solve(batch: BitBatch, b: int, kind: str, id_bits: int = 6, num_labels: int = 4) -> list[list[float]]:
    """The expected targets of sequence b (one row per step), from its inputs alone."""
    label_bits = math.ceil(math.log2(num_labels + 1))
    word = 2 * id_bits + label_bits
    rows = batch.inputs[:int(batch.lengths[b]), b].tolist()
    graph_rows = [r for r in rows if r[word] == 1.0]
    query_rows = [r for r in rows if r[word + 1] == 1.0]
    graph = nx.MultiDiGraph()
    for row in graph_rows:
        source, label, target = _fields(row, id_bits, label_bits)
        graph.add_edge(source, target, label=label)
    if kind == "traversal":
        node = _fields(query_rows[0], id_bits, label_bits)[0]
        answer = []
        for row in query_rows:
            label = _fields(row, id_bits, label_bits)[1]
            (nxt,) = [v for _, v, d in graph.out_edges(node, data=True) if d["label"] == label]
            answer.append((node, label, nxt))
            node = nxt
    else:
        assert len(query_rows) == 1
        start, _, end = _fields(query_rows[0], id_bits, label_bits)
        (path,) = list(nx.all_shortest_paths(graph, start, end))  # unique by construction
        answer = []
        for u, v in zip(path, path[1:]):
            (label,) = [d["label"] for d in graph.get_edge_data(u, v).values()]
            answer.append((u, label, v))
    expected = [[0.0] * word for _ in rows]
    answer_steps = [t for t, r in enumerate(rows) if r[word + 2] == 1.0]
    assert len(answer_steps) == len(answer)
    for t, (source, label, target) in zip(answer_steps, answer):
        expected[t] = ([float(source >> j & 1) for j in range(id_bits)]
                       + [float((label + 1) >> j & 1) for j in range(label_bits)]
                       + [float(target >> j & 1) for j in range(id_bits)])
    return expected


@pytest.mark.parametrize("seed", range(4))
def test_traversal_targets_are_the_path_the_labels_lead_along(seed):
    batch = traversal_batch(16, min_nodes=2, max_nodes=12, min_hops=1, max_hops=6, generator=gen(seed))
    for b in range(16):
        length = int(batch.lengths[b])
        assert batch.targets[:length, b].tolist() == _solve(batch, b, "traversal")


@pytest.mark.parametrize("seed", range(4))
def test_shortest_path_targets_are_networkx_unique_shortest_paths(seed):
    batch = shortest_path_batch(16, min_nodes=2, max_nodes=20, generator=gen(seed))
    for b in range(16):
        length = int(batch.lengths[b])
        assert batch.targets[:length, b].tolist() == _solve(batch, b, "shortest_path")


def test_queries_decode_back_to_networkx_answers_in_node_terms():
    queries = shortest_path_queries(64, max_nodes=15, generator=gen(3))
    batch = shortest_path_batch(64, max_nodes=15, generator=gen(3))  # the same draws
    decoded = decode_triples(batch.targets, batch.mask)
    lengths = set()
    for query, triples in zip(queries, decoded):
        node_of = {query.graph.nodes[v]["id"]: v for v in query.graph}
        path = [node_of[triples[0][0]]] + [node_of[t[2]] for t in triples]
        assert [path] == list(nx.all_shortest_paths(query.graph, path[0], path[-1]))
        assert [t[1] for t in triples] == [query.graph.edges[u, v]["label"] for u, v in zip(path, path[1:])]
        assert all(a[2] == b[0] for a, b in zip(triples, triples[1:]))  # a chain of triples
        lengths.add(len(triples))
    assert max(lengths) >= 3  # long paths occur, not only neighbours

    traversals = traversal_queries(32, hops=5, generator=gen(4))
    decoded = decode_triples(traversal_batch(32, hops=5, generator=gen(4)).targets,
                             traversal_batch(32, hops=5, generator=gen(4)).mask)
    for query, triples in zip(traversals, decoded):
        node = query.path[0]
        for (source, label, target), wanted in zip(triples, query.labels):
            assert source == query.graph.nodes[node]["id"] and label == wanted
            (node,) = [v for _, v, d in query.graph.out_edges(node, data=True) if d["label"] == label]
            assert target == query.graph.nodes[node]["id"]


def test_ties_are_broken_by_the_smallest_id_sequence():
    queries = shortest_path_queries(200, min_nodes=8, max_nodes=16, unique=False, generator=gen(5))
    tied = 0
    for query in queries:
        ids = query.graph.nodes
        paths = list(nx.all_shortest_paths(query.graph, query.path[0], query.path[-1]))
        assert query.path == min(paths, key=lambda p: [ids[v]["id"] for v in p])
        tied += len(paths) > 1
    assert tied > 10  # the rule was exercised
    unique = shortest_path_queries(200, min_nodes=8, max_nodes=16, generator=gen(5))
    assert all(len(list(nx.all_shortest_paths(q.graph, q.path[0], q.path[-1]))) == 1 for q in unique)


# ---------------------------------------------------------------------------------------
# graphs


@pytest.mark.parametrize("n, k", [(1, 3), (2, 3), (4, 3), (9, 2), (20, 3)])
def test_random_graph_joins_every_node_to_its_nearest_neighbours(n, k):
    graph = random_graph(n, neighbours=k, num_labels=5, seed=n)
    assert sorted(graph) == list(range(n))
    ids = [graph.nodes[v]["id"] for v in graph]
    assert len(set(ids)) == n and all(1 <= i < 64 for i in ids)
    for u in graph:
        here = graph.nodes[u]["pos"]
        nearest = sorted((v for v in graph if v != u), key=lambda v: (math.dist(here, graph.nodes[v]["pos"]), v))
        assert sorted(graph.successors(u)) == sorted(nearest[:min(k, n - 1)])
        labels = [d["label"] for _, _, d in graph.out_edges(u, data=True)]
        assert len(set(labels)) == len(labels) and all(0 <= label < 5 for label in labels)
    assert graph.number_of_edges() == n * min(k, n - 1)


def test_random_graph_is_reproducible_and_seeded():
    a, b, c = random_graph(10, seed=1), random_graph(10, seed=1), random_graph(10, seed=2)
    assert nx.utils.graphs_equal(a, b) and not nx.utils.graphs_equal(a, c)


def test_same_generator_state_same_queries_as_the_batch():
    queries = traversal_queries(8, generator=gen(7))
    torch.testing.assert_close(tuple(encode_queries(queries)), tuple(traversal_batch(8, generator=gen(7))),
                               rtol=0, atol=0)
    assert [q.path for q in traversal_queries(8, generator=gen(7))] == [q.path for q in queries]
    assert [q.path for q in traversal_queries(8, generator=gen(8))] != [q.path for q in queries]


def test_two_node_graphs_alternate():
    query = traversal_queries(1, nodes=2, hops=4, generator=gen(0))[0]
    assert query.path in ([0, 1, 0, 1, 0], [1, 0, 1, 0, 1])
    path = shortest_path_queries(1, nodes=2, generator=gen(0))[0].path
    assert path in ([0, 1], [1, 0])


# ---------------------------------------------------------------------------------------
# layout, shapes, masks


@pytest.mark.parametrize("kind", ["traversal", "shortest_path"])
@pytest.mark.parametrize("planning", [0, 3])
def test_layout_phases_mask_and_padding(kind, planning):
    make = traversal_batch if kind == "traversal" else shortest_path_batch
    batch = make(12, max_nodes=12, planning_steps=planning, generator=gen(1), device="cpu")
    queries = (traversal_queries if kind == "traversal" else shortest_path_queries)(12, max_nodes=12,
                                                                                   generator=gen(1))
    c_in, c_out = query_channels()
    T = int(batch.lengths.max())
    assert batch.inputs.shape == (T, 12, c_in) and batch.targets.shape == (T, 12, c_out)
    assert batch.mask.shape == (T, 12) and batch.mask.dtype == torch.bool and batch.lengths.dtype == torch.long
    for b, query in enumerate(queries):
        E, P = len(query.triples), len(query.path) - 1
        Q = P if kind == "traversal" else 1
        length = E + Q + planning + P
        assert int(batch.lengths[b]) == length
        flags = batch.inputs[:, b, c_out:]
        assert flags[:E].tolist() == [[1.0, 0.0, 0.0]] * E
        assert flags[E:E + Q].tolist() == [[0.0, 1.0, 0.0]] * Q
        assert flags[E + Q:E + Q + planning].abs().sum() == 0
        assert flags[E + Q + planning:length].tolist() == [[0.0, 0.0, 1.0]] * P
        assert batch.inputs[E + Q:, b].sum() == P  # planning, answer and padding: only the answer flags
        assert batch.mask[:, b].nonzero().flatten().tolist() == list(range(length - P, length))
        assert batch.targets[~batch.mask[:, b], b].abs().sum() == 0
        assert batch.inputs[length:, b].abs().sum() == 0
        # the graph phase shows every edge exactly once
        shown = decode_triples(batch.inputs[:, b:b + 1, :c_out], torch.arange(T).unsqueeze(1) < E)[0]
        ids = query.graph.nodes
        edges = sorted((ids[u]["id"], d["label"], ids[v]["id"]) for u, v, d in query.graph.edges(data=True))
        assert sorted(shown) == edges


def test_query_fields_say_none_with_zeros():
    query = traversal_queries(1, hops=3, generator=gen(2))[0]
    batch = encode_queries([query])
    E = len(query.triples)
    asked = decode_triples(batch.inputs[:, :, :15], torch.arange(len(batch.inputs)).unsqueeze(1).ge(E)
                           & torch.arange(len(batch.inputs)).unsqueeze(1).lt(E + 3))[0]
    start = query.graph.nodes[query.path[0]]["id"]
    assert asked == [(start, query.labels[0], 0), (0, query.labels[1], 0), (0, query.labels[2], 0)]
    path = shortest_path_queries(1, generator=gen(2))[0]
    batch = encode_queries([path])
    E = len(path.triples)
    asked = decode_triples(batch.inputs[:, :, :15], torch.arange(len(batch.inputs)).unsqueeze(1).eq(E))[0]
    ids = path.graph.nodes
    assert asked == [(ids[path.path[0]]["id"], -1, ids[path.path[-1]]["id"])]


def test_channels_follow_the_sizes():
    assert query_channels(6, 4) == (18, 15)
    assert query_channels(4, 1) == (12, 9)  # one label: codes 0 and 1, one bit
    assert query_channels(8, 7) == (22, 19) and query_channels(8, 8) == (23, 20)
    batch = traversal_batch(3, nodes=12, neighbours=2, num_labels=7, id_bits=4, generator=gen(0))
    assert batch.inputs.shape[2] == 4 * 2 + 3 + 3 and batch.targets.shape[2] == 11
    assert [len(t) for t in decode_triples(batch.targets, batch.mask, id_bits=4, num_labels=7)] == \
        batch.mask.sum(0).tolist()


# ---------------------------------------------------------------------------------------
# metrics


def test_metrics_count_whole_answers_and_whole_steps():
    batch = traversal_batch(8, min_hops=2, max_hops=5, generator=gen(3))
    perfect = batch.targets * 4 - 2
    assert float(exact_answers(perfect, batch)) == 1.0 and float(answer_step_accuracy(perfect, batch)) == 1.0
    wrong = perfect.clone()
    last = int(batch.mask[:, 5].nonzero().flatten()[-1])
    wrong[last, 5, 3] *= -1  # one bit of one step of one sequence
    wrong[:, 2] = torch.where(batch.mask[:, 2:3], -perfect[:, 2], perfect[:, 2])  # all of sequence 2 wrong
    assert float(exact_answers(wrong, batch)) == pytest.approx(6 / 8)
    steps = int(batch.mask.sum())
    assert float(answer_step_accuracy(wrong, batch)) == pytest.approx(1 - (1 + int(batch.mask[:, 2].sum())) / steps)
    # outside the mask nothing counts
    noise = torch.where(batch.mask.unsqueeze(2), perfect, torch.randn_like(perfect))
    assert float(exact_answers(noise, batch)) == 1.0
    # the bit metrics of memnets.data.bits apply unchanged
    zeros = torch.zeros_like(batch.targets)
    assert float(masked_bce_loss(zeros, batch)) == pytest.approx(math.log(2))
    assert float(bits_per_sequence(zeros, batch)) == pytest.approx(steps * 15 / 8)
    assert float(wrong_bits_per_sequence(perfect, batch)) == 0.0


# ---------------------------------------------------------------------------------------
# the same queries as torch_geometric data


def test_query_data_is_the_graph_and_the_query():
    queries = traversal_queries(3, nodes=6, hops=2, generator=gen(4))
    data = [query_data(q) for q in queries]
    for query, d in zip(queries, data):
        assert d.num_nodes == 6 and d.edge_index.shape == (2, 18)
        assert [(u, t, v) for (u, v), t in zip(d.edge_index.t().tolist(), d.edge_type.tolist())] == query.triples
        assert d.path_index.tolist() == query.path and d.hop_labels.tolist() == query.labels
        assert d.node_id.tolist() == [query.graph.nodes[v]["id"] for v in range(6)]
    batch = Batch.from_data_list(data)
    assert batch.path_index.tolist() == [v + 6 * i for i, q in enumerate(queries) for v in q.path]
    assert batch.hop_labels.tolist() == [label for q in queries for label in q.labels]  # not offset


# ---------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: traversal_batch(4, min_nodes=1, generator=gen()), "expected min_nodes >= 2 (a one-node graph"),
        (lambda: traversal_batch(4, nodes=1, generator=gen()), "expected nodes >= 2 (a one-node graph"),
        (lambda: shortest_path_batch(4, nodes=1, generator=gen()), "a one-node graph has no edge to query), got 1"),
        (lambda: traversal_batch(4, hops=0, generator=gen()), "expected hops >= 1 (a traversal of zero hops"),
        (lambda: traversal_batch(4, min_hops=0, generator=gen()), "expected min_hops >= 1"),
        (lambda: traversal_batch(4, min_hops=3, max_hops=2, generator=gen()),
         "expected min_hops <= max_hops, got min_hops=3 > max_hops=2"),
        (lambda: shortest_path_batch(4, min_nodes=9, max_nodes=5, generator=gen()),
         "expected min_nodes <= max_nodes, got min_nodes=9 > max_nodes=5"),
        (lambda: traversal_batch(4, neighbours=3, num_labels=2, generator=gen()),
         "expected num_labels >= neighbours (a node's out-edges carry distinct labels), got num_labels=2"),
        (lambda: traversal_batch(4, nodes=16, id_bits=4, generator=gen()),
         "expected at most 2**id_bits - 1 = 15 nodes (distinct ids from 1), got 16 nodes"),
        (lambda: random_graph(8, id_bits=3), "expected at most 2**id_bits - 1 = 7 nodes"),
        (lambda: traversal_batch(0, generator=gen()), "batch_size must be greater than zero, got 0"),
        (lambda: traversal_batch(2, planning_steps=-1, generator=gen()), "planning_steps must be at least 0"),
        (lambda: encode_queries([]), "expected a non-empty list of GraphQuery"),
        (lambda: encode_queries(["a"]), "expected queries[0] to be a GraphQuery, got str"),
        (lambda: encode_queries(traversal_queries(1, generator=gen()), num_labels=1),
         "expected ids in [1, 2**id_bits) = [1, 64) and labels in [0, num_labels) = [0, 1)"),
        (lambda: encode_queries([traversal_queries(1, generator=gen())[0]._replace(kind="bfs")]),
         "expected queries[0].kind in ('traversal', 'shortest_path'), got 'bfs'"),
        (lambda: decode_triples(torch.zeros(3, 2, 14), torch.zeros(3, 2, dtype=torch.bool)),
         "(dimension C should be 15, is 14)"),
        (lambda: exact_answers(torch.zeros(3, 2, 15), "batch"), "expected batch to be a BitBatch, got str"),
        (lambda: query_data("graph"), "expected a GraphQuery, got str"),
    ],
)
def test_bad_input_raises_value_error_naming_expected_and_got(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="nodes should be of type int, got: float"):
        traversal_batch(4, nodes=5.0, generator=gen())
    with pytest.raises(TypeError, match="unique should be of type bool"):
        shortest_path_batch(4, unique=1, generator=gen())
    with pytest.raises(TypeError, match="generator should be a torch.Generator"):
        traversal_batch(4, generator=0)


def test_a_query_without_a_hop_is_refused():
    query = traversal_queries(1, generator=gen())[0]
    empty = GraphQuery(query.graph, "traversal", query.triples, query.path[:1], [])
    with pytest.raises(ValueError, match="a path of at least one hop"):
        encode_queries([empty])
