"""Tests of memnets.data.graphs: ground truth against slow reference algorithms and networkx, encodings,
seeding, argument validation."""

from __future__ import annotations

import heapq

import networkx as nx
import pytest
import torch

from memnets.data.graphs import (
    CLRS_EDGE_PROB,
    bellman_ford_graph,
    bellman_ford_predecessors,
    bfs_graph,
    bfs_predecessors,
    connectivity_graph,
    dfs_graph,
    dijkstra_graph,
    graph_batch,
    pointer_counts,
    pointer_example,
    shortest_path_annotations,
    shortest_path_graph,
    shortest_path_steps,
)


def _clrs_bfs(graph: nx.Graph, source: int) -> list[int]:
    """BFS in rounds as CLRS-30 writes it: scan senders in index order, first one wins."""
    n = graph.number_of_nodes()
    parent, reached = list(range(n)), {source}
    while True:
        frontier = set(reached)
        for u in range(n):
            for v in range(n):
                if u in frontier and graph.has_edge(u, v) and v not in reached:
                    reached.add(v)
                    parent[v] = u
        if reached == frontier:
            return parent


def _dijkstra(graph: nx.Graph, source: int) -> dict[int, float]:
    dist, queue = {source: 0.0}, [(0.0, source)]
    while queue:
        d, u = heapq.heappop(queue)
        if d > dist[u]:
            continue
        for v in graph.neighbors(u):
            nd = d + graph.edges[u, v]["weight"]
            if nd < dist.get(v, float("inf")):
                dist[v] = nd
                heapq.heappush(queue, (nd, v))
    return dist


def _graph_of(data) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(data.num_nodes))
    for u, v in data.edge_index.t().tolist():
        if u != v:
            graph.add_edge(u, v)
    return graph


def _weighted_graph_of(data) -> tuple[nx.Graph, int]:
    """The graph of ``data`` with its edges' weights (``edge_attr``: weight, self-loop mark), and the source."""
    graph = _graph_of(data)
    for (u, v), (w, loop) in zip(data.edge_index.t().tolist(), data.edge_attr.tolist()):
        if not loop:
            graph.edges[u, v]["weight"] = w
    return graph, int(data.source_index)


@pytest.mark.parametrize("seed", range(20))
def test_bfs_predecessors_match_clrs_rounds(seed):
    graph = nx.gnp_random_graph(12, 0.2, seed=seed)
    assert bfs_predecessors(graph, seed % 12) == _clrs_bfs(graph, seed % 12)


@pytest.mark.parametrize("seed", range(10))
def test_bellman_ford_predecessors_lie_on_shortest_paths(seed):
    data = bellman_ford_graph(12, p=0.3, seed=seed)
    graph, source = _weighted_graph_of(data)
    dist = _dijkstra(graph, source)
    parents = data.predecessor_index.tolist()
    assert parents == bellman_ford_predecessors(graph, source)
    for v, u in enumerate(parents):
        if v == source or v not in dist:
            assert u == v
        else:
            assert dist[u] + graph.edges[u, v]["weight"] == pytest.approx(dist[v])


@pytest.mark.parametrize("make", [bfs_graph, bellman_ford_graph])
def test_pointer_data_encoding(make):
    data = make(10, seed=3)
    n, sender, receiver = 10, *data.edge_index
    assert data.x.shape == (n, 2) and data.x[:, 0].sum() == 1 and int(data.x[:, 0].argmax()) == int(data.source_index)
    positions = data.x[:, 1]
    assert torch.all(positions[1:] > positions[:-1]) and positions.min() >= 0 and positions.max() <= 1
    loops = sender == receiver
    assert int(loops.sum()) == n and torch.equal(data.edge_attr[:, -1].bool(), loops)
    true_edge = sender == data.predecessor_index[receiver]
    assert torch.equal(torch.bincount(receiver[true_edge], minlength=n), torch.ones(n, dtype=torch.long))
    pairs = set(map(tuple, data.edge_index.t().tolist()))
    assert all((v, u) in pairs for u, v in pairs)  # both directions
    if make is bellman_ford_graph:
        weight = {(u, v): w for (u, v), w in zip(data.edge_index.t().tolist(), data.edge_attr[:, 0].tolist())}
        assert all(weight[(u, v)] == weight[(v, u)] for u, v in pairs)
        assert all(0.0 <= w <= 1.0 for w in weight.values())


def test_generators_are_seeded():
    for make in (lambda s: bfs_graph(16, seed=s), lambda s: bellman_ford_graph(16, seed=s), shortest_path_graph,
                 lambda s: connectivity_graph(16, seed=s)):
        a, b, c = make(5), make(5), make(6)
        assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x)
        assert not (a.edge_index.shape == c.edge_index.shape and torch.equal(a.edge_index, c.edge_index)
                    and torch.equal(a.x, c.x))
    one = graph_batch(bfs_graph, 4, torch.Generator().manual_seed(1), n=8)
    two = graph_batch(bfs_graph, 4, torch.Generator().manual_seed(1), n=8)
    assert torch.equal(one.edge_index, two.edge_index) and torch.equal(one.predecessor_index, two.predecessor_index)


def test_batches_offset_the_index_fields():
    batch = graph_batch(bfs_graph, 3, torch.Generator().manual_seed(0), n=6)
    assert batch.num_graphs == 3 and batch.num_nodes == 18
    graph_of = batch.batch
    assert torch.equal(graph_of[batch.predecessor_index], graph_of)  # pointers stay inside their graph
    assert torch.equal(graph_of[batch.source_index], torch.arange(3))


def test_clrs_edge_density():
    edges = sum(_graph_of(bfs_graph(16, seed=s)).number_of_edges() for s in range(200))
    assert edges / (200 * 16 * 15 / 2) == pytest.approx(CLRS_EDGE_PROB, abs=0.02)


@pytest.mark.parametrize("seed", range(10))
def test_shortest_path_graph(seed):
    data = shortest_path_graph(seed=seed)
    graph = _graph_of(data)
    assert data.num_nodes == 9 and nx.number_connected_components(graph) == 2
    source, target, path = int(data.source_index), int(data.target_index), data.path_index.tolist()
    assert path[0] == source and path[-1] == target
    assert len(list(nx.all_shortest_paths(graph, source, target))) == 1
    assert path == nx.shortest_path(graph, source, target)
    assert data.on_path.sum() == len(path) and data.x[source, 0] == 1 and data.x[target, 1] == 1
    steps = shortest_path_steps(data)
    assert len(steps) == len(path) - 1
    for k, step in enumerate(steps, start=1):
        assert int(step.next_index) == path[k]
        assert step.x[:, 2].nonzero().squeeze(1).tolist() == sorted(path[:k])
        assert int(step.x[:, 3].argmax()) == path[k - 1]
    torch.testing.assert_close(shortest_path_annotations(data, path[:1]).x, steps[0].x)


def test_connectivity_labels_and_balance():
    labels = []
    for seed in range(60):
        data = connectivity_graph(12, seed=seed)
        assert int(data.y) == int(nx.is_connected(_graph_of(data)))
        assert data.x.sum() == 1
        labels.append(int(data.y))
    assert 15 <= sum(labels) <= 45
    assert int(connectivity_graph(12, connected=False, seed=0).y) == 0


# ---------------------------------------------------------------------------- argument validation


@pytest.mark.parametrize("call, error, match", [
    (lambda: bfs_graph(0), ValueError, "n must be greater than zero, got 0"),
    (lambda: bfs_graph(-3), ValueError, "n must be greater than zero, got -3"),
    (lambda: bfs_graph(4.0), TypeError, "n should be of type int"),
    (lambda: bfs_graph(8, p=2.0), ValueError, r"p in \[0.0, 1.0\], got 2.0"),
    (lambda: bfs_graph(8, p=-0.1), ValueError, r"p in \[0.0, 1.0\]"),
    (lambda: bellman_ford_graph(0), ValueError, "n must be greater than zero"),
    (lambda: bellman_ford_graph(8, p=float("nan")), ValueError, "p in"),
    (lambda: connectivity_graph(0), ValueError, "n must be greater than zero"),
    (lambda: connectivity_graph(1, connected=False), ValueError, "no G.n=1.*is disconnected"),
    (lambda: connectivity_graph(5, connected=True, p=0.0), ValueError, "is connected"),
    (lambda: connectivity_graph(5, connected=False, p=1.0), ValueError, "is disconnected"),
    (lambda: connectivity_graph(5, p=1.5), ValueError, "p in"),
    (lambda: connectivity_graph(5, connected=1), TypeError, "connected"),
    (lambda: graph_batch(bfs_graph, 0, torch.Generator(), n=4), ValueError, "count must be greater than zero"),
    (lambda: graph_batch(bfs_graph, 2.0, torch.Generator(), n=4), TypeError, "count"),
    (lambda: bfs_graph(8, positions="clrs"), ValueError, r"bfs_graph: expected positions to be one of \['linear', 'random'\], got 'clrs'"),
    (lambda: bellman_ford_graph(8, positions=None), ValueError, "bellman_ford_graph: expected positions"),
    (lambda: dijkstra_graph(8, positions="i/n"), ValueError, "dijkstra_graph: expected positions"),
    (lambda: dfs_graph(8, positions=""), ValueError, "dfs_graph: expected positions"),
])
def test_bad_generator_arguments_raise_at_once(call, error, match):
    import time

    start = time.perf_counter()
    with pytest.raises(error, match=match):
        call()
    assert time.perf_counter() - start < 0.5  # refused before any drawing (no 10,000 rejection draws)


@pytest.mark.parametrize("make", [bfs_graph, bellman_ford_graph, dijkstra_graph, dfs_graph])
@pytest.mark.parametrize("n", [1, 7, 16])
def test_linear_positions_are_clrs_i_over_n_on_the_same_graph(make, n):
    """positions="linear" changes the position column alone, to CLRS-30's i / n: the same seed
    gives the same graph, source, labels and other features as the random sorted positions."""
    for seed in range(5):
        random, linear = make(n, seed=seed), make(n, seed=seed, positions="linear")
        assert linear.x[:, -1].tolist() == pytest.approx([i / n for i in range(n)])
        assert torch.equal(random.x[:, :-1], linear.x[:, :-1])
        assert torch.equal(random.edge_index, linear.edge_index) and torch.equal(random.edge_attr, linear.edge_attr)
        assert torch.equal(random.predecessor_index, linear.predecessor_index)
        positions = random.x[:, -1]
        assert bool((positions[1:] >= positions[:-1]).all()) and not torch.equal(positions, linear.x[:, -1])


def test_one_node_graphs():
    data = bfs_graph(1, seed=0)
    assert data.num_nodes == 1 and data.predecessor_index.tolist() == [0] and data.edge_index.tolist() == [[0], [0]]
    one = connectivity_graph(1, seed=0)
    assert int(one.y) == 1 and one.edge_index.shape == (2, 0)
    assert int(connectivity_graph(1, connected=True, seed=0).y) == 1
    assert int(connectivity_graph(6, connected=True, p=1.0, seed=0).y) == 1  # possible labels still work
    assert int(connectivity_graph(6, connected=False, p=0.0, seed=0).y) == 0


# ---------------------------------------------------------------------------- Dijkstra and DFS (CLRS-30)


@pytest.mark.parametrize("seed", range(15))
def test_dijkstra_predecessors_match_networkx(seed):
    from memnets.data.graphs import dijkstra_graph, dijkstra_predecessors

    data = dijkstra_graph(14, p=0.3, seed=seed)
    graph, source = _weighted_graph_of(data)
    predecessors, distance = nx.dijkstra_predecessor_and_distance(graph, source)
    parents = data.predecessor_index.tolist()
    assert parents == dijkstra_predecessors(graph, source)
    for v in range(14):
        if v == source or v not in distance:
            assert parents[v] == v
        else:
            assert predecessors[v] == [parents[v]]  # continuous weights: one shortest-path predecessor
    same = bellman_ford_graph(14, p=0.3, seed=seed)  # the same graph, the same tree
    assert torch.equal(same.edge_index, data.edge_index) and torch.equal(same.predecessor_index,
                                                                          data.predecessor_index)


def _clrs_dfs(graph: nx.DiGraph) -> list[int]:
    """CLRS-30's DFS as a recursion over the adjacency matrix in index order."""
    n = graph.number_of_nodes()
    parent, color = list(range(n)), [0] * n

    def visit(u):
        color[u] = 1
        for v in range(n):
            if graph.has_edge(u, v) and color[v] == 0:
                parent[v] = u
                visit(v)

    for s in range(n):
        if color[s] == 0:
            visit(s)
    return parent


@pytest.mark.parametrize("seed", range(15))
def test_dfs_predecessors_match_networkx_and_clrs(seed):
    from memnets.data.graphs import dfs_graph, dfs_predecessors

    data = dfs_graph(12, p=0.2, seed=seed)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(12))
    graph.add_edges_from((u, v) for u, v in data.edge_index.t().tolist() if u != v)
    parents = data.predecessor_index.tolist()
    assert parents == dfs_predecessors(graph) == _clrs_dfs(graph)
    ordered = nx.DiGraph()  # networkx explores in insertion order: insert nodes and successors sorted
    ordered.add_nodes_from(range(12))
    ordered.add_edges_from(sorted(graph.edges()))
    expected = list(range(12))
    for v, u in nx.dfs_predecessors(ordered).items():
        expected[v] = u
    assert parents == expected
    assert all(u == v or graph.has_edge(u, v) for v, u in enumerate(parents))  # tree edges are graph edges


def test_dfs_graph_encoding_and_density():
    from memnets.data.graphs import CLRS_DIRECTED_EDGE_PROB, dfs_graph

    data = dfs_graph(10, seed=1)
    assert data.x.shape == (10, 1) and not hasattr(data, "source_index")
    sender, receiver = data.edge_index
    loops = sender == receiver
    assert int(loops.sum()) == 10 and torch.equal(data.edge_attr[:, 0].bool(), loops)
    true_edge = sender == data.predecessor_index[receiver]
    assert torch.equal(torch.bincount(receiver[true_edge], minlength=10), torch.ones(10, dtype=torch.long))
    edges = sum(int((dfs_graph(16, seed=s).edge_index[0] != dfs_graph(16, seed=s).edge_index[1]).sum())
                for s in range(50))
    assert edges / (50 * 16 * 15) == pytest.approx(CLRS_DIRECTED_EDGE_PROB, abs=0.03)
    batch = graph_batch(dfs_graph, 3, torch.Generator().manual_seed(0), n=5)
    assert torch.equal(batch.batch[batch.predecessor_index], batch.batch)
    with pytest.raises(ValueError, match="n must be greater than zero"):
        dfs_graph(0)
    with pytest.raises(ValueError, match="p in"):
        dfs_graph(4, p=1.5)


@pytest.mark.parametrize("make", [bfs_graph, bellman_ford_graph, dfs_graph])
def test_pointer_example_rebuilds_the_generators_encoding(make):
    """A generator's own graph and labels, handed to `pointer_example`, give the same example."""
    data = make(9, seed=4, positions="linear")
    directed = make is dfs_graph
    graph = nx.DiGraph() if directed else nx.Graph()
    graph.add_nodes_from(range(9))
    weighted = make is bellman_ford_graph
    for (u, v), attr in zip(data.edge_index.t().tolist(), data.edge_attr.tolist()):
        if u != v:
            graph.add_edge(u, v, **({"weight": attr[0]} if weighted else {}))
    source = None if directed else int(data.source_index)
    rebuilt = pointer_example(graph, source, data.predecessor_index.tolist(), weighted=weighted)
    assert torch.equal(rebuilt.x, data.x) and torch.equal(rebuilt.predecessor_index, data.predecessor_index)
    # the same edges with the same attributes (the order of the edge list may differ)
    ours = {(u, v): tuple(a) for (u, v), a in zip(rebuilt.edge_index.t().tolist(), rebuilt.edge_attr.tolist())}
    theirs = {(u, v): tuple(a) for (u, v), a in zip(data.edge_index.t().tolist(), data.edge_attr.tolist())}
    assert ours == theirs


@pytest.mark.parametrize("call, match", [
    (lambda g: pointer_example(g, 0, [0, 0]), "expected 3 parents"),
    (lambda g: pointer_example(g, 0, [0, 0, 5]), "each a node in 0..2"),
    (lambda g: pointer_example(g, 3, [0, 0, 1]), "expected a source in 0..2, got 3"),
    (lambda g: pointer_example(g, 0, [0, 0, 1], positions="grid"), "positions"),
])
def test_pointer_example_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(nx.path_graph(3))


def test_pointer_counts():
    batch = graph_batch(bfs_graph, 3, torch.Generator().manual_seed(0), n=5)
    truth = batch.predecessor_index
    assert pointer_counts(truth, batch) == (15, 15, 3)
    wrong = truth.clone()
    wrong[0] = (truth[0] + 1) % 5  # one wrong pointer in the first graph
    wrong[6] = (truth[6] + 1) % 5 + 5  # and one in the second
    assert pointer_counts(wrong, batch) == (13, 15, 1)
    empty = graph_batch(bfs_graph, 1, torch.Generator().manual_seed(0), n=1)
    assert pointer_counts(empty.predecessor_index, empty) == (1, 1, 1)
