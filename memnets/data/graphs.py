r"""Graph-algorithm tasks as torch_geometric data: networkx graphs, networkx ground truth.

Every generator takes an integer ``seed`` (for networkx's generator and a
``numpy.random.default_rng``) and returns one `torch_geometric.data.Data`;
`graph_batch` draws the seeds from a ``torch.Generator`` and concatenates the graphs
into a `torch_geometric.data.Batch` (one disconnected graph). Index-valued fields
have ``index`` in their name, so ``Batch`` offsets them by each graph's first node.

Undirected graphs are stored with both directions of every edge (``edge_index`` row 0
the senders, row 1 the receivers); the pointer tasks also add a self-loop per node, so
that the candidates of a node's predecessor are exactly its incoming edges.

Tasks (encodings as in the task specifications):

* `bfs_graph` -- BFS predecessor (CLRS-30): Erdős–Rényi graph, a source; every
  node's BFS parent (ties: lowest index; the source and unreachable nodes point to
  themselves).
* `bellman_ford_graph` -- Bellman-Ford predecessor (CLRS-30): the same graphs with
  symmetric weights U[0, 1]; every node's predecessor on a shortest path.
* `dijkstra_graph` -- Dijkstra predecessor (CLRS-30): the same weighted graphs, the
  predecessors of Dijkstra's algorithm.
* `dfs_graph` -- DFS predecessor (CLRS-30): a directed Erdős–Rényi graph; every node's
  parent in the depth-first forest that starts at the lowest unvisited node and scans
  neighbours in index order (roots point to themselves).
* `shortest_path_graph` -- GGNN's shortest path (Li et al. 2016): a connected
  Watts–Strogatz graph plus a distractor, relabelled at random; the unique shortest path
  between marked source and target. `shortest_path_steps` turns it into one
  example per output step (GGS-NN's sequence output, with teacher forcing).
* `connectivity_graph` -- is an Erdős–Rényi graph near its connectivity threshold
  connected (graph-level)?
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import networkx as nx
import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch, Data

from memnets._checks import check_choice, check_int, check_positive_int, check_probability

__all__ = [
    "CLRS_DIRECTED_EDGE_PROB",
    "CLRS_EDGE_PROB",
    "POSITIONS",
    "bellman_ford_graph",
    "bellman_ford_predecessors",
    "bfs_graph",
    "bfs_predecessors",
    "connectivity_graph",
    "dfs_graph",
    "dfs_predecessors",
    "dijkstra_graph",
    "dijkstra_predecessors",
    "draw_seeds",
    "erdos_renyi_graph",
    "graph_batch",
    "pointer_counts",
    "pointer_example",
    "shortest_path_annotations",
    "shortest_path_graph",
    "shortest_path_steps",
]

#: Edge probability of CLRS-30's undirected Erdős–Rényi graphs: its sampler draws each
#: direction with p = 0.5 and keeps the pairs drawn both ways, so p = 0.5² = 0.25.
CLRS_EDGE_PROB = 0.25
#: Edge probability of CLRS-30's directed Erdős–Rényi graphs (DFS): every ordered pair
#: (u, v), u ≠ v, is an edge u → v with probability 0.5.
CLRS_DIRECTED_EDGE_PROB = 0.5
#: The node-position inputs of the CLRS pointer graphs: ``"random"`` (n sorted U[0, 1]
#: values, Ibarz et al. 2022; the default) or ``"linear"`` (i / n for node i, CLRS-30's own).
POSITIONS = ("random", "linear")
#: Largest seed drawn by `draw_seeds` (numpy and networkx take 32-bit seeds).
_MAX_SEED = 2**31 - 1
#: GGNN's shortest-path graphs (Li et al. 2016, §5.2): a connected Watts–Strogatz graph
#: of 5 nodes (k = 3, p = 0.5) plus a 4-node distractor.
_PATH_NODES, _DISTRACTOR_NODES, _WS_K, _WS_P = 5, 4, 3, 0.5
#: Rejection-sampling attempts before a generator gives up.
_MAX_TRIES = 10_000


def draw_seeds(generator: torch.Generator, count: int) -> list[int]:
    """``count`` integer seeds in [0, 2³¹ − 1) drawn from a torch generator."""
    check_int("draw_seeds", minimum=0, count=count)
    return torch.randint(0, _MAX_SEED, (count,), generator=generator).tolist()


def erdos_renyi_graph(n: int, p: float, seed: int | None = None) -> nx.Graph:
    """G(n, p): every one of the n(n−1)/2 node pairs is an edge with probability p.

    Raises:
        TypeError: ``n`` is not an int or ``p`` not a number.
        ValueError: ``n`` < 1 or ``p`` outside [0, 1].
    """
    check_positive_int("erdos_renyi_graph", n=n)
    check_probability("erdos_renyi_graph", p=p)
    return nx.gnp_random_graph(n, p, seed=seed)


def bfs_predecessors(graph: nx.Graph, source: int) -> list[int]:
    """Every node's BFS parent from ``source``, CLRS's convention.

    The parent of a node at distance d is its lowest-index neighbour at distance d − 1
    (what a BFS that scans nodes in index order assigns first); the source and the
    nodes it cannot reach point to themselves. Distances from
    `networkx.single_source_shortest_path_length`.
    """
    distance = nx.single_source_shortest_path_length(graph, source)
    parents = list(range(graph.number_of_nodes()))
    for node, d in distance.items():
        if node != source:
            parents[node] = min(u for u in graph.neighbors(node) if distance.get(u) == d - 1)
    return parents


def bellman_ford_predecessors(graph: nx.Graph, source: int, weight: str = "weight") -> list[int]:
    """Every node's predecessor on a shortest path from ``source``.

    From `networkx.bellman_ford_predecessor_and_distance`; when a node has several
    (a measure-zero event for continuous weights) the lowest index is taken. The source
    and unreachable nodes point to themselves.
    """
    predecessors, _ = nx.bellman_ford_predecessor_and_distance(graph, source, weight=weight)
    parents = list(range(graph.number_of_nodes()))
    for node, options in predecessors.items():
        if options:
            parents[node] = min(options)
    return parents


def dijkstra_predecessors(graph: nx.Graph, source: int, weight: str = "weight") -> list[int]:
    """Every node's predecessor in Dijkstra's algorithm from ``source`` (CLRS, §24.3).

    A binary-heap Dijkstra: a node's predecessor is the node whose relaxation last
    lowered its distance (for non-negative weights: its predecessor on a shortest path;
    exact ties, a measure-zero event for continuous weights, keep the first). The source
    and the nodes it cannot reach point to themselves.
    """
    parents = list(range(graph.number_of_nodes()))
    distance = {source: 0.0}
    done: set[int] = set()
    queue = [(0.0, source)]
    while queue:
        d, u = heapq.heappop(queue)
        if u in done:
            continue
        done.add(u)
        for v in sorted(graph.neighbors(u)):
            candidate = d + graph.edges[u, v][weight]
            if v not in done and candidate < distance.get(v, math.inf):
                distance[v], parents[v] = candidate, u
                heapq.heappush(queue, (candidate, v))
    return parents


def dfs_predecessors(graph: nx.DiGraph) -> list[int]:
    """Every node's parent in CLRS's depth-first forest of a directed graph.

    As CLRS-30's DFS (Cormen et al., §22.3): roots are taken in index order (the lowest
    unvisited node), and from each node its unvisited successors are explored in index
    order; a root points to itself.
    """
    n = graph.number_of_nodes()
    parents, visited = list(range(n)), [False] * n
    successors = [sorted(graph.successors(u)) for u in range(n)]
    for root in range(n):
        if visited[root]:
            continue
        visited[root] = True
        stack = [(root, iter(successors[root]))]
        while stack:
            u, pending = stack[-1]
            for v in pending:
                if not visited[v]:
                    visited[v], parents[v] = True, u
                    stack.append((v, iter(successors[v])))
                    break
            else:
                stack.pop()
    return parents


def _edge_tensor(graph: nx.Graph) -> Tensor:
    """(2, E): both directions of every edge of an undirected graph, the edges of a directed one."""
    edges = np.asarray(list(graph.edges()), dtype=np.int64).reshape(-1, 2)
    if not graph.is_directed():
        edges = np.concatenate([edges, edges[:, ::-1]], axis=0)
    return torch.from_numpy(np.ascontiguousarray(edges.T))


def _one_hot(n: int, *nodes: int) -> Tensor:
    x = torch.zeros(n, len(nodes))
    for column, node in enumerate(nodes):
        x[node, column] = 1.0
    return x


def _positions(n: int, rng: np.random.Generator, positions: str) -> Tensor:
    """CLRS's node-position input (see `POSITIONS`), (n, 1).

    ``"random"``: n sorted U[0, 1] values, as Ibarz et al. (2022) randomise it, so that
    index order (the tie-break of BFS and DFS) is visible without fixing a spacing;
    ``"linear"``: i / n, CLRS-30's. The position is the last draw of an example, so both
    give the same graph, source and labels for the same seed.
    """
    if positions == "linear":
        return (torch.arange(n, dtype=torch.float32) / n).unsqueeze(-1)
    return torch.from_numpy(np.sort(rng.uniform(0.0, 1.0, size=n))).float().unsqueeze(-1)


def pointer_example(graph: nx.Graph, source: int | None, parents: list[int], *, weighted: bool = False,
                    positions: str = "linear", seed: int | None = None) -> Data:
    """A pointer example in the encoding of the CLRS generators (`bfs_graph` and the others)
    for a given graph and given labels: for graphs and labels made elsewhere, such as
    CLRS-30's own samples, scored by a model trained on memnets' generators.

    Args:
        graph: an undirected (or, for DFS, directed) networkx graph on nodes 0..n-1; with
            ``weighted``, every edge has a ``"weight"``.
        source: the source node, or ``None`` for a task without one (DFS).
        parents: every node's predecessor (a node without one points to itself).
        weighted: put the edge weights into ``edge_attr`` (Bellman-Ford, Dijkstra).
        positions: the node positions (`POSITIONS`); ``"random"`` draws them from ``seed``.
        seed: seeds the random positions.

    Returns:
        ``Data`` laid out as the generators' (``x``, ``edge_index`` with n self-loops last,
        ``edge_attr``, ``predecessor_index`` and, with a source, ``source_index``).

    Raises:
        ValueError: ``parents`` does not hold one node index per node, ``source`` is not a
            node, or ``positions`` is not in `POSITIONS`.

    Shapes:
        parents: (n,) -> x (n, 2) with a source, (n, 1) without; edge_index (2, E + n).
    """
    check_choice("pointer_example", "positions", positions, POSITIONS)
    n = graph.number_of_nodes()
    if sorted(graph.nodes) != list(range(n)):
        raise ValueError(f"pointer_example: expected a graph on nodes 0..{n - 1}, got nodes {sorted(graph.nodes)[:6]}")
    if len(parents) != n or any(not 0 <= int(v) < n for v in parents):
        raise ValueError(f"pointer_example: expected {n} parents, each a node in 0..{n - 1}, "
                         f"got {len(parents)}: {list(parents)[:6]}")
    if source is not None and not 0 <= source < n:
        raise ValueError(f"pointer_example: expected a source in 0..{n - 1}, got {source}")
    return _pointer_data(graph, source, [int(v) for v in parents], weighted, np.random.default_rng(seed), positions)


def pointer_counts(predicted: Tensor, batch: Batch) -> tuple[int, int, int]:
    """Right pointers, nodes, and graphs whose every pointer is right, of one batch.

    Args:
        predicted: every node's predicted predecessor (global node indices of ``batch``).
        batch: the batch, with ``predecessor_index`` and ``batch``.

    Shapes:
        predicted: (N,) for the batch's N nodes.
    """
    right = predicted == batch.predecessor_index
    wrong_per_graph = torch.zeros(batch.num_graphs, device=right.device).index_add_(0, batch.batch, (~right).float())
    return int(right.sum()), right.numel(), int((wrong_per_graph == 0).sum())


def _pointer_data(graph: nx.Graph, source: int | None, parents: list[int], weighted: bool,
                  rng: np.random.Generator, positions: str) -> Data:
    n = graph.number_of_nodes()
    edges = _edge_tensor(graph)
    loops = torch.arange(n).repeat(2, 1)
    edge_index = torch.cat([edges, loops], dim=1)
    is_loop = torch.cat([torch.zeros(edges.size(1)), torch.ones(n)]).unsqueeze(-1)
    if weighted:
        weights = torch.tensor([graph.edges[u, v]["weight"] for u, v in edges.t().tolist()], dtype=torch.float32)
        edge_attr = torch.cat([torch.cat([weights, torch.zeros(n)]).unsqueeze(-1), is_loop], dim=-1)
    else:
        edge_attr = is_loop
    if source is None:
        return Data(x=_positions(n, rng, positions), edge_index=edge_index, edge_attr=edge_attr,
                    predecessor_index=torch.tensor(parents), num_nodes=n)
    x = torch.cat([_one_hot(n, source), _positions(n, rng, positions)], dim=-1)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, predecessor_index=torch.tensor(parents),
                source_index=torch.tensor([source]), num_nodes=n)


def bfs_graph(n: int, p: float = CLRS_EDGE_PROB, seed: int | None = None, *, positions: str = "random") -> Data:
    """One BFS-predecessor example (CLRS-30): G(n, p), a uniform source, BFS parents.

    Args:
        n: nodes.
        p: Erdős–Rényi edge probability.
        seed: seeds the example (graph, source, positions); ``None`` draws a fresh one.
        positions: the node-position input (`POSITIONS`): ``"random"``, n sorted U[0, 1]
            values (Ibarz et al. 2022), or ``"linear"``, i / n (CLRS-30's own encoding);
            the same seed gives the same graph and labels under both.

    Returns:
        ``Data`` with ``x`` (n, 2) the source mark and the node's position (CLRS's
        ``pos`` input, which tells the model the index order that breaks ties),
        ``edge_index`` (2, E) both
        directions of every edge plus n self-loops (the self-loops last), ``edge_attr``
        (E, 1) = 1 on the self-loops, ``predecessor_index`` (n,) and ``source_index`` (1,).

    Raises:
        TypeError: ``n`` is not an int or ``p`` not a number.
        ValueError: ``n`` < 1, ``p`` outside [0, 1] or ``positions`` not in `POSITIONS`.

    Examples:
        >>> data = bfs_graph(16, seed=0)
    """
    check_positive_int("bfs_graph", n=n)
    check_probability("bfs_graph", p=p)
    check_choice("bfs_graph", "positions", positions, POSITIONS)
    rng = np.random.default_rng(seed)
    graph = erdos_renyi_graph(n, p, seed=int(rng.integers(_MAX_SEED)))
    source = int(rng.integers(n))
    return _pointer_data(graph, source, bfs_predecessors(graph, source), weighted=False, rng=rng,
                         positions=positions)


def bellman_ford_graph(n: int, p: float = CLRS_EDGE_PROB, seed: int | None = None, *,
                       positions: str = "random") -> Data:
    """One Bellman-Ford-predecessor example (CLRS-30): G(n, p) with weights U[0, 1].

    Each undirected edge gets one weight, the same in both directions.

    Args:
        n: nodes.
        p: Erdős–Rényi edge probability.
        seed: seeds the example (graph, weights, source, positions).
        positions: the node-position input, as `bfs_graph`.

    Returns:
        As `bfs_graph`, with ``edge_attr`` (E, 2) = (weight, self-loop mark); the
        self-loops have weight 0.

    Raises:
        TypeError: ``n`` is not an int or ``p`` not a number.
        ValueError: ``n`` < 1, ``p`` outside [0, 1] or ``positions`` not in `POSITIONS`.

    Examples:
        >>> data = bellman_ford_graph(16, seed=0)
    """
    graph, source, rng = _weighted_graph("bellman_ford_graph", n, p, seed, positions)
    return _pointer_data(graph, source, bellman_ford_predecessors(graph, source), weighted=True, rng=rng,
                         positions=positions)


def _weighted_graph(where: str, n: int, p: float, seed: int | None,
                    positions: str) -> tuple[nx.Graph, int, np.random.Generator]:
    """G(n, p) with one weight U[0, 1] per undirected edge, a uniform source, and the generator."""
    check_positive_int(where, n=n)
    check_probability(where, p=p)
    check_choice(where, "positions", positions, POSITIONS)
    rng = np.random.default_rng(seed)
    graph = erdos_renyi_graph(n, p, seed=int(rng.integers(_MAX_SEED)))
    for u, v in graph.edges():
        graph.edges[u, v]["weight"] = float(rng.uniform(0.0, 1.0))
    return graph, int(rng.integers(n)), rng


def dijkstra_graph(n: int, p: float = CLRS_EDGE_PROB, seed: int | None = None, *,
                   positions: str = "random") -> Data:
    """One Dijkstra-predecessor example (CLRS-30): G(n, p) with weights U[0, 1], Dijkstra's parents.

    The graphs (for one seed, the graph itself) are those of `bellman_ford_graph`; the
    labels are `dijkstra_predecessors` (the same tree when path lengths are distinct).

    Args:
        n: nodes.
        p: Erdős–Rényi edge probability.
        seed: seeds the example (graph, weights, source, positions).
        positions: the node-position input, as `bfs_graph`.

    Returns:
        As `bellman_ford_graph`.

    Raises:
        TypeError: ``n`` is not an int or ``p`` not a number.
        ValueError: ``n`` < 1, ``p`` outside [0, 1] or ``positions`` not in `POSITIONS`.

    Examples:
        >>> data = dijkstra_graph(16, seed=0)
    """
    graph, source, rng = _weighted_graph("dijkstra_graph", n, p, seed, positions)
    return _pointer_data(graph, source, dijkstra_predecessors(graph, source), weighted=True, rng=rng,
                         positions=positions)


def dfs_graph(n: int, p: float = CLRS_DIRECTED_EDGE_PROB, seed: int | None = None, *,
              positions: str = "random") -> Data:
    """One DFS-predecessor example (CLRS-30): a directed G(n, p) and its depth-first forest.

    Every ordered pair (u, v), u ≠ v, is an edge u → v with probability ``p``; the labels
    are `dfs_predecessors` (roots in index order, successors in index order, roots point
    to themselves). There is no source: the input is the node positions alone.

    Args:
        n: nodes.
        p: the probability of each directed edge.
        seed: seeds the example (graph, positions).
        positions: the node-position input, as `bfs_graph`.

    Returns:
        ``Data`` with ``x`` (n, 1) the node's position (as `bfs_graph`), ``edge_index``
        (2, E) the directed edges plus n self-loops (the self-loops last, so a node's
        candidates are its predecessors in the graph and itself), ``edge_attr`` (E, 1) = 1
        on the self-loops, ``predecessor_index`` (n,).

    Raises:
        TypeError: ``n`` is not an int or ``p`` not a number.
        ValueError: ``n`` < 1, ``p`` outside [0, 1] or ``positions`` not in `POSITIONS`.

    Examples:
        >>> data = dfs_graph(16, seed=0)
    """
    check_positive_int("dfs_graph", n=n)
    check_probability("dfs_graph", p=p)
    check_choice("dfs_graph", "positions", positions, POSITIONS)
    rng = np.random.default_rng(seed)
    graph = nx.gnp_random_graph(n, p, seed=int(rng.integers(_MAX_SEED)), directed=True)
    return _pointer_data(graph, None, dfs_predecessors(graph), weighted=False, rng=rng, positions=positions)


def shortest_path_graph(seed: int | None = None) -> Data:
    """One example of GGNN's shortest-path task (Li et al. 2016, §5.2).

    A connected Watts–Strogatz graph (5 nodes, k = 3, p = 0.5) and a 4-node distractor
    (a connected Watts–Strogatz graph too), nodes relabelled by a random permutation,
    every edge in both directions; source and target drawn from the first graph until
    their shortest path is unique.

    Returns:
        ``Data`` with ``x`` (9, 2) the source and target marks, ``edge_index`` (2, E),
        ``path_index`` (P,) the path's nodes from source to target, ``on_path`` (9,)
        booleans, ``source_index`` and ``target_index`` (1,).

    Examples:
        >>> data = shortest_path_graph(seed=0)
    """
    rng = np.random.default_rng(seed)
    main = nx.connected_watts_strogatz_graph(_PATH_NODES, _WS_K, _WS_P, seed=int(rng.integers(_MAX_SEED)))
    distractor = nx.connected_watts_strogatz_graph(_DISTRACTOR_NODES, _WS_K, _WS_P,
                                                   seed=int(rng.integers(_MAX_SEED)))
    joint = nx.disjoint_union(main, distractor)
    n = joint.number_of_nodes()
    relabel = rng.permutation(n)
    graph = nx.relabel_nodes(joint, {old: int(relabel[old]) for old in range(n)})
    for _ in range(_MAX_TRIES):
        source, target = (int(relabel[i]) for i in rng.choice(_PATH_NODES, size=2, replace=False))
        paths = list(nx.all_shortest_paths(graph, source, target))
        if len(paths) == 1:
            break
    else:  # pragma: no cover - a tree-like main graph always has unique paths
        raise RuntimeError("shortest_path_graph: no source/target pair with a unique shortest path")
    path = torch.tensor(paths[0])
    on_path = torch.zeros(n, dtype=torch.bool)
    on_path[path] = True
    return Data(x=_one_hot(n, source, target), edge_index=_edge_tensor(graph), path_index=path,
                on_path=on_path, source_index=torch.tensor([source]), target_index=torch.tensor([target]),
                num_nodes=n)


def shortest_path_annotations(data: Data, emitted: list[int]) -> Data:
    """The graph of a `shortest_path_graph` example annotated for its next output step.

    The annotations are the source and target marks, the nodes emitted so far (source
    first) and the last of them.

    Args:
        data: a `shortest_path_graph` example (local node indices).
        emitted: the path so far, starting at the source.

    Returns:
        ``Data`` with ``x`` (V, 4) and the graph's ``edge_index``.
    """
    mark = torch.zeros(data.num_nodes, 1)
    mark[emitted] = 1.0
    x = torch.cat([data.x, mark, _one_hot(data.num_nodes, emitted[-1])], dim=-1)
    return Data(x=x, edge_index=data.edge_index, num_nodes=data.num_nodes)


def shortest_path_steps(data: Data) -> list[Data]:
    """One example per output step of a path (GGS-NN's sequence output, teacher forced).

    For the k-th node after the source the annotations are those of
    `shortest_path_annotations` with the true path up to step k − 1; the label is
    the k-th node.

    Returns:
        P − 1 ``Data`` with ``x`` (V, 4) and ``next_index`` (1,).
    """
    path = data.path_index.tolist()
    steps = []
    for k in range(1, len(path)):
        step = shortest_path_annotations(data, path[:k])
        step.next_index = torch.tensor([path[k]])
        steps.append(step)
    return steps


def connectivity_graph(n: int, connected: bool | None = None, p: float | None = None,
                       seed: int | None = None) -> Data:
    r"""Is G(n, p) connected? Sampled at the connectivity threshold $p = \ln n / n$.

    Graphs are drawn until one with the requested label comes (``connected=None``: the
    label is a fair coin, so classes are balanced). One random node is marked: message
    passing from identical node states cannot tell, e.g., a 6-cycle from two triangles,
    but it can tell whether the mark reaches every node. A label no graph can have (a
    disconnected graph of one node or with p = 1, a connected one of n > 1 nodes with
    p = 0) is refused at once; for n = 1 with ``connected=None`` the label is 1.

    Returns:
        ``Data`` with ``x`` (n, 1) the mark, ``edge_index`` (2, E) both directions and
        ``y`` (1,) the label (1 = connected).

    Raises:
        TypeError: ``n`` is not an int, ``p`` not a number.
        ValueError: ``n`` < 1, ``p`` outside [0, 1], or a label no G(n, p) can have.

    Examples:
        >>> data = connectivity_graph(16, seed=0)
    """
    where = "connectivity_graph"
    check_positive_int(where, n=n)
    if p is not None:
        check_probability(where, p=p)
    if connected is not None and not isinstance(connected, bool):
        raise TypeError(f"{where}: connected should be of type bool or None, got: {type(connected).__name__}")
    p = math.log(n) / n if p is None else p
    can_connect = n == 1 or p > 0
    can_disconnect = n > 1 and p < 1
    if (connected is True and not can_connect) or (connected is False and not can_disconnect):
        raise ValueError(f"{where}: no G(n={n}, p={p}) is {'connected' if connected else 'disconnected'}")
    rng = np.random.default_rng(seed)
    if connected is None:
        connected = bool(rng.integers(2)) if can_connect and can_disconnect else can_connect
    for _ in range(_MAX_TRIES):
        graph = erdos_renyi_graph(n, p, seed=int(rng.integers(_MAX_SEED)))
        if nx.is_connected(graph) == connected:
            break
    else:
        raise RuntimeError(f"connectivity_graph: no {'connected' if connected else 'disconnected'} G({n}, {p}) "
                           f"in {_MAX_TRIES} draws")
    mark = int(rng.integers(n))
    return Data(x=_one_hot(n, mark), edge_index=_edge_tensor(graph), y=torch.tensor([int(connected)]),
                num_nodes=n)


def graph_batch(
    make_graph: Callable[..., Data],
    count: int,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> Batch:
    """``count`` graphs from ``make_graph(seed=..., **kwargs)``, seeds drawn from ``generator``.

    Raises:
        TypeError: ``count`` is not an int.
        ValueError: ``count`` < 1 (a batch holds at least one graph).

    Examples:
        >>> batch = graph_batch(bfs_graph, 32, torch.Generator().manual_seed(0), n=16)
        >>> batch.num_graphs
        32
    """
    check_positive_int("graph_batch", count=count)
    data = [make_graph(seed=seed, **kwargs) for seed in draw_seeds(generator, count)]
    batch = Batch.from_data_list(data)
    return batch.to(device) if device is not None else batch
