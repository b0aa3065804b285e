r"""Graph queries through memory: traversal and shortest path on random labelled graphs.

Graves et al. (2016), "Hybrid computing using a neural network with dynamic external
memory", Nature 538, Methods ("Graph tasks"): a graph is shown to a memory network as a
sequence of (source, edge label, destination) triples, one per step, and then queried.
The network has to store the triples and answer from memory:

* **traversal** -- a start node and a sequence of edge labels; the answer is the path
  the labels lead along, one triple per step;
* **shortest path** -- a start and an end node; the answer is the triples of the shortest
  path from the start to the end, in order.

**Graphs** (`random_graph`), in the spirit of the paper's random training graphs (points
in the unit square joined to their nearest neighbours; the choices below are this
module's): ``n`` nodes get positions uniform in the unit square and distinct random ids
from $\{1, \dots, 2^{I} - 1\}$ ($I$ = ``id_bits``; the code 0 means "no node"); every node has a directed edge to each
of its ``k`` = ``neighbours`` nearest other nodes (Euclidean distance; ``k`` is cut to
n − 1), so every node has out-degree k, and a pair of mutual neighbours is joined both
ways. Each node's k out-edges carry k distinct labels drawn from $\{0, \dots, K - 1\}$
($K$ = ``num_labels`` ≥ k), so a label leads out of a node along at most one edge and a
traversal is determined by its labels. The graphs are ``networkx.DiGraph``: node
attributes ``id`` and ``pos``, edge attribute ``label``.

**Queries.** A traversal of h hops (h ≥ 1) starts at a uniform node and follows a
uniform out-edge at every hop, so the path exists by construction. A shortest-path query
is an ordered pair (s, t), s ≠ t, t reachable from s, whose shortest path (in hops,
networkx's `all_shortest_paths`) is unique (``unique=True``, the default; with
``unique=False`` any reachable pair, and the answer is then the shortest path whose
sequence of node ids is the smallest, a deterministic tie-break). The pair is drawn in two
stages: a path length uniform over the lengths that the graph's eligible pairs have, then
a uniform pair of that length, so that the many adjacent pairs do not crowd out the
longer paths. A graph of n ≥ 2 nodes always has such a pair (any edge is one);
a one-node graph has no edge and is refused.

**Encoding** (`encode_queries`). With $I$ id bits and $L = \lceil \log_2 (K + 1) \rceil$
label bits, a triple (u, l, v) is the word of $2I + L$ bits
$[\,\mathrm{bin}_I(\mathrm{id}_u);\ \mathrm{bin}_L(l + 1);\ \mathrm{bin}_I(\mathrm{id}_v)\,]$,
where $\mathrm{bin}_m(x)$ is the m-bit binary code of x, least significant bit first
(channel j of a field holds bit j). A field of zeros means "none": ids start at 1 and a
label l is written as l + 1, so a query's empty fields are never mistaken for node or
label 0. Three phase flags follow the word: the inputs have
$C_{in} = 2I + L + 3$ channels, the targets $C_{out} = 2I + L$ (a triple). For a graph
of E edges, a query whose answer is the path $v_0, v_1, \dots, v_P$ with labels
$l_1, \dots, l_P$, and S = ``planning_steps``:

| steps | source id | label | destination id | graph | query | answer | targets | mask |
|---|---|---|---|---|---|---|---|---|
| 0 … E−1 | $u_e$ | $l_e$ | $v_e$ | 1 | 0 | 0 | 0 | no |
| traversal: E | $v_0$ | $l_1$ | none | 0 | 1 | 0 | 0 | no |
| traversal: E+j, j = 1 … P−1 | none | $l_{j+1}$ | none | 0 | 1 | 0 | 0 | no |
| shortest path: E | $v_0$ | none | $v_P$ | 0 | 1 | 0 | 0 | no |
| Q … Q+S−1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | no |
| Q+S+j, j = 0 … P−1 | 0 | 0 | 0 | 0 | 0 | 1 | $(v_j, l_{j+1}, v_{j+1})$ | yes |

where the E edges $(u_e, l_e, v_e)$ come in a random order, Q is the first step after
the query (E + P for a traversal, E + 1 for a shortest path) and the ids are the nodes'
ids. So $T_b = E + P + S + P$ for a traversal and $E + 1 + S + P$ for a shortest path;
sequences of a batch are zero-padded at the end as in `memnets.data.bits`. The answer
phase holds one triple per step: the destination ids are the nodes reached, and for a
shortest path the path's nodes are $v_0$ and the destinations in order
(`decode_triples` reads them back).

A batch is a `memnets.data.bits.BitBatch`, so `masked_bce_loss`,
`bits_per_sequence` and `wrong_bits_per_sequence` apply unchanged; `exact_answers`
(the share of queries whose whole answer is right, the paper's measure) and
`answer_step_accuracy` (the share of answer steps whose whole triple is right) are the
task's metrics. `query_data` gives the same graph and query as a
``torch_geometric.data.Data`` for a message-passing baseline.

All randomness comes from the ``generator`` argument (a CPU ``torch.Generator``;
``None`` uses torch's default generator): the graph sizes and query lengths are drawn
from it, then one integer seed per sequence, which seeds a ``numpy.random.default_rng``
that draws that sequence's graph, ids, labels, triple order and query. The same
generator state gives the same queries from `traversal_queries` as `traversal_batch`
encodes (and likewise for shortest paths).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from memnets._checks import check_int, check_shapes
from memnets.data._common import check_cpu_generator
from memnets.data.bits import BitBatch
from memnets.data.graphs import draw_seeds

__all__ = [
    "GRAPH_QUERY_KINDS",
    "GraphQuery",
    "answer_step_accuracy",
    "decode_triples",
    "encode_queries",
    "exact_answers",
    "query_channels",
    "query_data",
    "random_graph",
    "shortest_path_batch",
    "shortest_path_queries",
    "traversal_batch",
    "traversal_queries",
]

#: The two kinds of query.
GRAPH_QUERY_KINDS = ("traversal", "shortest_path")
#: Defaults: out-edges per node (k), edge labels (K) and bits per node id (I).
_NEIGHBOURS, _NUM_LABELS, _ID_BITS = 3, 4, 6
#: The phase flags follow the triple word: graph, query, answer.
_PHASES = 3


class GraphQuery(NamedTuple):
    """One graph and one query on it, in node indices (the encoding uses the node ids).

    Attributes:
        graph: the ``networkx.DiGraph`` (nodes 0..n−1 with attributes ``id`` and
            ``pos``, edges with ``label``).
        kind: ``"traversal"`` or ``"shortest_path"``.
        triples: the graph's edges ``(u, label, v)`` in the order they are presented.
        path: the answer's nodes $v_0, \\dots, v_P$, the start first (P ≥ 1).
        labels: the labels $l_1, \\dots, l_P$ along the path (a traversal's query).

    Examples:
        >>> query = traversal_queries(1, nodes=6, hops=3, generator=torch.Generator().manual_seed(0))[0]
        >>> len(query.path), len(query.labels), len(query.triples)
        (4, 3, 18)
    """

    graph: nx.DiGraph
    kind: str
    triples: list[tuple[int, int, int]]
    path: list[int]
    labels: list[int]

    def answer(self) -> list[tuple[int, int, int]]:
        """The answer as ``(source id, label, destination id)`` triples, one per answer step."""
        ids = self.graph.nodes
        return [(ids[u]["id"], label, ids[v]["id"]) for u, label, v in zip(self.path, self.labels, self.path[1:])]


# ---------------------------------------------------------------------------------------
# checks


def _label_bits(num_labels: int) -> int:
    """L: bits of the label codes 0 (none), 1..K."""
    return math.ceil(math.log2(num_labels + 1))


def query_channels(id_bits: int = _ID_BITS, num_labels: int = _NUM_LABELS) -> tuple[int, int]:
    """``(C_in, C_out)`` of the encoding: ``(2·id_bits + L + 3, 2·id_bits + L)``, L = ⌈log₂ (num_labels + 1)⌉.

    Examples:
        >>> query_channels()   # 6 id bits, 4 labels (3 bits: codes 0 = none, 1..4)
        (18, 15)
    """
    check_int("query_channels", minimum=1, id_bits=id_bits, num_labels=num_labels)
    word = 2 * id_bits + _label_bits(num_labels)
    return word + _PHASES, word


def _check_graph_args(where: str, neighbours: int, num_labels: int, id_bits: int) -> None:
    check_int(where, minimum=1, neighbours=neighbours, num_labels=num_labels, id_bits=id_bits)
    if num_labels < neighbours:
        raise ValueError(f"{where}: expected num_labels >= neighbours (a node's out-edges carry distinct labels), "
                         f"got num_labels={num_labels} < neighbours={neighbours}")


def _check_sizes(where: str, low_name: str, low: Any, high_name: str, high: Any, minimum: int,
                 why: str) -> tuple[int, int]:
    check_int(where, minimum=-(2**62), **{low_name: low, high_name: high})
    if low < minimum:
        raise ValueError(f"{where}: expected {low_name} >= {minimum} ({why}), got {low}")
    if low > high:
        raise ValueError(f"{where}: expected {low_name} <= {high_name}, got {low_name}={low} > {high_name}={high}")
    return low, high


def _draw_sizes(where: str, batch_size: int, fixed: Any, fixed_name: str, low: Any, low_name: str, high: Any,
                high_name: str, minimum: int, why: str, generator: torch.Generator | None) -> list[int]:
    """``fixed`` for every sequence, or one draw from U{low..high} per sequence."""
    if fixed is not None:
        low = high = fixed
        low_name = high_name = fixed_name
    low, high = _check_sizes(where, low_name, low, high_name, high, minimum, why)
    return torch.randint(low, high + 1, (batch_size,), generator=generator).tolist()


# ---------------------------------------------------------------------------------------
# graphs and queries


def random_graph(num_nodes: int, *, neighbours: int = _NEIGHBOURS, num_labels: int = _NUM_LABELS,
                 id_bits: int = _ID_BITS, seed: int | None = None) -> nx.DiGraph:
    """A random labelled graph of the graph-query tasks: nearest neighbours in the unit square.

    Positions uniform in $[0, 1)^2$, distinct ids uniform from $\\{1..2^{I}-1\\}$, a
    directed edge from every node to each of its ``min(neighbours, n − 1)`` nearest other
    nodes (ties by index), and on each node's out-edges distinct labels drawn without
    replacement from $\\{0..K-1\\}$. A one-node graph has no edges.

    Args:
        num_nodes: n (1 ≤ n ≤ 2^id_bits − 1).
        neighbours: k, out-edges per node.
        num_labels: K, edge labels (≥ k).
        id_bits: I, bits of a node id.
        seed: seeds the ``numpy.random.default_rng`` that draws everything.

    Returns:
        A ``networkx.DiGraph`` with nodes 0..n−1 (attributes ``id``, ``pos``) and edges
        with ``label``, n·min(k, n − 1) of them.

    Raises:
        TypeError: a size is not an int.
        ValueError: a size below 1, ``num_labels < neighbours``, or more nodes than ids.

    Examples:
        >>> graph = random_graph(8, seed=0)
        >>> graph.number_of_edges(), sorted({d["label"] for _, _, d in graph.edges(data=True)})
        (24, [0, 1, 2, 3])
    """
    where = "random_graph"
    check_int(where, minimum=1, num_nodes=num_nodes)
    _check_graph_args(where, neighbours, num_labels, id_bits)
    if num_nodes > 2**id_bits - 1:
        raise ValueError(f"{where}: expected at most 2**id_bits - 1 = {2**id_bits - 1} nodes (distinct ids from 1), "
                         f"got num_nodes={num_nodes}")
    rng = np.random.default_rng(seed)
    return _random_graph(num_nodes, neighbours, num_labels, id_bits, rng)


def _random_graph(n: int, neighbours: int, num_labels: int, id_bits: int, rng: np.random.Generator) -> nx.DiGraph:
    positions = rng.uniform(0.0, 1.0, size=(n, 2))
    ids = rng.choice(2**id_bits - 1, size=n, replace=False) + 1  # 0 is the code of "no node"
    graph = nx.DiGraph()
    for node in range(n):
        graph.add_node(node, id=int(ids[node]), pos=(float(positions[node, 0]), float(positions[node, 1])))
    distance = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    np.fill_diagonal(distance, np.inf)
    k = min(neighbours, n - 1)
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    for u in range(n):
        labels = rng.choice(num_labels, size=k, replace=False)
        for v, label in zip(nearest[u], labels):
            graph.add_edge(u, int(v), label=int(label))
    return graph


def _triples(graph: nx.DiGraph, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    edges = [(u, d["label"], v) for u, v, d in graph.edges(data=True)]
    return [edges[i] for i in rng.permutation(len(edges))]


def _traversal(graph: nx.DiGraph, hops: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    node = int(rng.integers(graph.number_of_nodes()))
    path, labels = [node], []
    for _ in range(hops):
        out = sorted((d["label"], v) for _, v, d in graph.out_edges(node, data=True))
        label, node = out[int(rng.integers(len(out)))]
        path.append(node)
        labels.append(label)
    return path, labels


def _path_counts(graph: nx.DiGraph, source: int) -> dict[int, int]:
    """The number of shortest paths from ``source`` to every node it reaches."""
    distance = nx.single_source_shortest_path_length(graph, source)
    predecessors = nx.predecessor(graph, source)
    counts = {source: 1}
    for node in sorted(distance, key=distance.__getitem__):
        if node != source:
            counts[node] = sum(counts[p] for p in predecessors[node])
    return counts


def _shortest_path(graph: nx.DiGraph, unique: bool, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    by_length: dict[int, list[tuple[int, int]]] = {}  # hops -> the eligible pairs that far apart
    for source in range(graph.number_of_nodes()):
        distance = nx.single_source_shortest_path_length(graph, source)
        for target, count in _path_counts(graph, source).items():
            if target != source and (count == 1 or not unique):
                by_length.setdefault(distance[target], []).append((source, target))
    lengths = sorted(by_length)
    pairs = by_length[lengths[int(rng.integers(len(lengths)))]]
    source, target = pairs[int(rng.integers(len(pairs)))]
    ids = graph.nodes
    path = min(nx.all_shortest_paths(graph, source, target), key=lambda p: [ids[v]["id"] for v in p])
    labels = [graph.edges[u, v]["label"] for u, v in zip(path, path[1:])]
    return path, labels


def _queries(where: str, kind: str, batch_size: int, min_nodes: Any, max_nodes: Any, nodes: Any,
             hop_range: tuple[Any, Any, Any] | None, neighbours: int, num_labels: int, id_bits: int, unique: bool,
             generator: torch.Generator | None) -> list[GraphQuery]:
    check_int(where, minimum=1, batch_size=batch_size)
    _check_graph_args(where, neighbours, num_labels, id_bits)
    check_cpu_generator(where, generator)
    sizes = _draw_sizes(where, batch_size, nodes, "nodes", min_nodes, "min_nodes", max_nodes, "max_nodes", 2,
                        "a one-node graph has no edge to query", generator)
    if max(sizes) > 2**id_bits - 1:
        raise ValueError(f"{where}: expected at most 2**id_bits - 1 = {2**id_bits - 1} nodes (distinct ids from 1), "
                         f"got {max(sizes)} nodes")
    if hop_range is not None:
        min_hops, max_hops, hops = hop_range
        lengths = _draw_sizes(where, batch_size, hops, "hops", min_hops, "min_hops", max_hops, "max_hops", 1,
                              "a traversal of zero hops has no answer", generator)
    queries = []
    for b, seed in enumerate(draw_seeds(generator, batch_size)):
        rng = np.random.default_rng(seed)
        graph = _random_graph(sizes[b], neighbours, num_labels, id_bits, rng)
        triples = _triples(graph, rng)
        if kind == "traversal":
            path, labels = _traversal(graph, lengths[b], rng)
        else:
            path, labels = _shortest_path(graph, unique, rng)
        queries.append(GraphQuery(graph, kind, triples, path, labels))
    return queries


def traversal_queries(
    batch_size: int,
    min_nodes: int = 5,
    max_nodes: int = 10,
    min_hops: int = 1,
    max_hops: int = 4,
    *,
    nodes: int | None = None,
    hops: int | None = None,
    neighbours: int = _NEIGHBOURS,
    num_labels: int = _NUM_LABELS,
    id_bits: int = _ID_BITS,
    generator: torch.Generator | None = None,
) -> list[GraphQuery]:
    """Random graphs, each with a traversal query: a start node and h edge labels.

    Each sequence draws n ~ U{min_nodes..max_nodes} and h ~ U{min_hops..max_hops} (or
    takes ``nodes``, ``hops``), a `random_graph`, a uniform start node and, hop by hop, a
    uniform out-edge; the labels of those edges are the query, the nodes reached the
    answer. See the module docstring for the whole recipe.

    Args:
        batch_size: B, the number of queries.
        min_nodes: the fewest nodes n (≥ 2: a one-node graph has no edge).
        max_nodes: the most nodes n (≤ 2^id_bits − 1).
        min_hops: the fewest hops h (≥ 1: zero hops have no answer).
        max_hops: the most hops h.
        nodes: if given, every graph has this many nodes (the range is ignored).
        hops: if given, every traversal has this many hops (the range is ignored).
        neighbours: k, out-edges per node.
        num_labels: K, edge labels (≥ k).
        id_bits: I, bits of a node id.
        generator: the CPU ``torch.Generator`` the sizes and per-sequence seeds come from.

    Returns:
        B `GraphQuery` of kind ``"traversal"``.

    Raises:
        TypeError: a size is not an int, or ``generator`` not a ``torch.Generator``.
        ValueError: fewer than 2 nodes, fewer than 1 hop, a minimum above its maximum,
            ``num_labels < neighbours``, more nodes than ids, a non-CPU generator.

    Examples:
        >>> query = traversal_queries(1, hops=2, generator=torch.Generator().manual_seed(0))[0]
        >>> [query.graph.edges[u, v]["label"] for u, v in zip(query.path, query.path[1:])] == query.labels
        True
    """
    return _queries("traversal_queries", "traversal", batch_size, min_nodes, max_nodes, nodes,
                    (min_hops, max_hops, hops), neighbours, num_labels, id_bits, True, generator)


def shortest_path_queries(
    batch_size: int,
    min_nodes: int = 5,
    max_nodes: int = 10,
    *,
    nodes: int | None = None,
    unique: bool = True,
    neighbours: int = _NEIGHBOURS,
    num_labels: int = _NUM_LABELS,
    id_bits: int = _ID_BITS,
    generator: torch.Generator | None = None,
) -> list[GraphQuery]:
    """Random graphs, each with a shortest-path query: a start and an end node.

    Each sequence draws n ~ U{min_nodes..max_nodes} (or takes ``nodes``), a
    `random_graph`, and an ordered pair (s, t), s ≠ t, t reachable from s, whose
    shortest path (fewest hops) is unique: first a path length, uniform over the lengths
    such pairs have in the graph, then a uniform pair of that length. With
    ``unique=False`` every reachable pair is eligible, and the answer is the shortest path
    with the smallest sequence of node ids (compared as lists).

    Args:
        batch_size: B, the number of queries.
        min_nodes: the fewest nodes n (≥ 2: a one-node graph has no edge).
        max_nodes: the most nodes n (≤ 2^id_bits − 1).
        nodes: if given, every graph has this many nodes (the range is ignored).
        unique: draw only pairs with a unique shortest path.
        neighbours: k, out-edges per node.
        num_labels: K, edge labels (≥ k).
        id_bits: I, bits of a node id.
        generator: the CPU ``torch.Generator`` the sizes and per-sequence seeds come from.

    Returns:
        B `GraphQuery` of kind ``"shortest_path"``.

    Raises:
        TypeError: a size is not an int, ``unique`` not a bool, or ``generator`` not a
            ``torch.Generator``.
        ValueError: fewer than 2 nodes, a minimum above its maximum,
            ``num_labels < neighbours``, more nodes than ids, a non-CPU generator.

    Examples:
        >>> query = shortest_path_queries(1, generator=torch.Generator().manual_seed(0))[0]
        >>> len(list(nx.all_shortest_paths(query.graph, query.path[0], query.path[-1])))
        1
    """
    if not isinstance(unique, bool):
        raise TypeError(f"shortest_path_queries: unique should be of type bool, got: {type(unique).__name__}")
    return _queries("shortest_path_queries", "shortest_path", batch_size, min_nodes, max_nodes, nodes, None,
                    neighbours, num_labels, id_bits, unique, generator)


# ---------------------------------------------------------------------------------------
# encoding and decoding


def _binary(values: list[int] | np.ndarray, bits: int) -> np.ndarray:
    """(len(values), bits) float32: the binary codes of ``values``, least significant bit first."""
    values = np.asarray(values, dtype=np.int64).reshape(-1, 1)
    return ((values >> np.arange(bits)) & 1).astype(np.float32)


def _words(triples: list[tuple[int, int, int]], id_bits: int, label_bits: int) -> np.ndarray:
    """(len, 2I + L): the words of ``(source id, label, destination id)`` triples (id 0 and
    label −1 are "none": codes of zeros)."""
    source, label, target = (np.asarray([t[i] for t in triples], dtype=np.int64) for i in range(3))
    return np.concatenate([_binary(source, id_bits), _binary(label + 1, label_bits), _binary(target, id_bits)],
                          axis=1)


def encode_queries(
    queries: list[GraphQuery],
    *,
    id_bits: int = _ID_BITS,
    num_labels: int = _NUM_LABELS,
    planning_steps: int = 0,
    device: torch.device | str | None = None,
) -> BitBatch:
    """The `BitBatch` of a list of queries, laid out as the module docstring's table.

    Args:
        queries: B `GraphQuery` (of either kind, even mixed).
        id_bits: I, bits of a node id (every id must fit).
        num_labels: K, the label range (every label must be below it).
        planning_steps: S, blank steps between the query and the answer.
        device: where the returned tensors live (built on the CPU, then moved).

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, 2I + L + 3), targets (T, B, 2I + L), mask (T, B), lengths (B,).

    Raises:
        ValueError: an empty list, a query that is not a `GraphQuery`, an unknown kind,
            an empty answer, or an id or label that does not fit.

    Examples:
        >>> queries = shortest_path_queries(2, generator=torch.Generator().manual_seed(0))
        >>> batch = encode_queries(queries)
        >>> decode_triples(batch.targets, batch.mask) == [q.answer() for q in queries]
        True
    """
    where = "encode_queries"
    check_int(where, minimum=1, id_bits=id_bits, num_labels=num_labels)
    check_int(where, minimum=0, planning_steps=planning_steps)
    if not isinstance(queries, (list, tuple)) or not queries:
        raise ValueError(f"{where}: expected a non-empty list of GraphQuery, got {queries!r:.80}")
    label_bits = _label_bits(num_labels)
    c_in, c_out = query_channels(id_bits, num_labels)
    flag = c_out  # graph flag; query flag + 1, answer flag + 2
    pieces = []
    for b, query in enumerate(queries):
        if not isinstance(query, GraphQuery):
            raise ValueError(f"{where}: expected queries[{b}] to be a GraphQuery, got {type(query).__name__}")
        if query.kind not in GRAPH_QUERY_KINDS:
            raise ValueError(f"{where}: expected queries[{b}].kind in {GRAPH_QUERY_KINDS}, got {query.kind!r}")
        if len(query.path) < 2 or len(query.labels) != len(query.path) - 1:
            raise ValueError(f"{where}: expected queries[{b}] to have a path of at least one hop with one label per "
                             f"hop, got {len(query.path)} nodes and {len(query.labels)} labels")
        ids = query.graph.nodes
        shown = [(ids[u]["id"], label, ids[v]["id"]) for u, label, v in query.triples]
        answer = query.answer()
        largest_id = max(max(t[0], t[2]) for t in shown + answer)
        largest_label = max(t[1] for t in shown + answer)
        smallest_id = min(min(t[0], t[2]) for t in shown + answer)
        smallest_label = min(t[1] for t in shown + answer)
        if not (1 <= smallest_id <= largest_id < 2**id_bits and 0 <= smallest_label <= largest_label < num_labels):
            raise ValueError(f"{where}: expected ids in [1, 2**id_bits) = [1, {2**id_bits}) and labels in [0, "
                             f"num_labels) = [0, {num_labels}), got ids in [{smallest_id}, {largest_id}] and labels "
                             f"in [{smallest_label}, {largest_label}] in queries[{b}]")
        start, end = ids[query.path[0]]["id"], ids[query.path[-1]]["id"]
        hops = len(answer)
        if query.kind == "traversal":  # 0: no node, -1: no label
            ask = [(start, query.labels[0], 0)] + [(0, label, 0) for label in query.labels[1:]]
        else:
            ask = [(start, -1, end)]
        steps = len(shown) + len(ask) + planning_steps + hops
        inputs = np.zeros((steps, c_in), dtype=np.float32)
        targets = np.zeros((steps, c_out), dtype=np.float32)
        graph_end = len(shown)
        query_end = graph_end + len(ask)
        answer_start = query_end + planning_steps
        if shown:
            inputs[:graph_end, :c_out] = _words(shown, id_bits, label_bits)
        inputs[:graph_end, flag] = 1.0
        inputs[graph_end:query_end, :c_out] = _words(ask, id_bits, label_bits)
        inputs[graph_end:query_end, flag + 1] = 1.0
        inputs[answer_start:, flag + 2] = 1.0
        targets[answer_start:] = _words(answer, id_bits, label_bits)
        pieces.append((inputs, targets, answer_start))
    lengths = torch.tensor([inputs.shape[0] for inputs, _, _ in pieces], dtype=torch.long)
    total = int(lengths.max())
    batch_inputs = torch.zeros(total, len(queries), c_in)
    batch_targets = torch.zeros(total, len(queries), c_out)
    mask = torch.zeros(total, len(queries), dtype=torch.bool)
    for b, (inputs, targets, answer_start) in enumerate(pieces):
        batch_inputs[:inputs.shape[0], b] = torch.from_numpy(inputs)
        batch_targets[:targets.shape[0], b] = torch.from_numpy(targets)
        mask[answer_start:inputs.shape[0], b] = True
    batch = BitBatch(batch_inputs, batch_targets, mask, lengths)
    return batch if device is None else batch.to(device)


def traversal_batch(
    batch_size: int,
    min_nodes: int = 5,
    max_nodes: int = 10,
    min_hops: int = 1,
    max_hops: int = 4,
    *,
    nodes: int | None = None,
    hops: int | None = None,
    neighbours: int = _NEIGHBOURS,
    num_labels: int = _NUM_LABELS,
    id_bits: int = _ID_BITS,
    planning_steps: int = 0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> BitBatch:
    """A batch of the traversal task: `traversal_queries` encoded by `encode_queries`.

    Graves et al. (2016), Methods: read a graph as triples, then a start node and a
    sequence of edge labels; write the path those labels lead along, one
    ``(source, label, destination)`` triple per hop. The layout is the module
    docstring's table; $T_b = E + 2h + S$ for a graph of E edges and h hops.

    Args:
        batch_size: queries in the batch; ``min_nodes``, ``max_nodes``, ``min_hops``,
            ``max_hops``, ``nodes``, ``hops``, ``neighbours``, ``num_labels``, ``id_bits``
            and ``generator`` as in `traversal_queries`.
        planning_steps: S, blank steps between the query and the answer.
        device: where the returned tensors live.

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, 2I + L + 3), targets (T, B, 2I + L), mask (T, B), lengths (B,).

    Raises:
        TypeError, ValueError: as `traversal_queries` and `encode_queries`.

    Examples:
        >>> batch = traversal_batch(4, nodes=5, hops=2, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, batch.targets.shape, batch.mask.sum(0).tolist()
        (torch.Size([19, 4, 18]), torch.Size([19, 4, 15]), [2, 2, 2, 2])
    """
    queries = traversal_queries(batch_size, min_nodes, max_nodes, min_hops, max_hops, nodes=nodes, hops=hops,
                                neighbours=neighbours, num_labels=num_labels, id_bits=id_bits, generator=generator)
    return encode_queries(queries, id_bits=id_bits, num_labels=num_labels, planning_steps=planning_steps,
                          device=device)


def shortest_path_batch(
    batch_size: int,
    min_nodes: int = 5,
    max_nodes: int = 10,
    *,
    nodes: int | None = None,
    unique: bool = True,
    neighbours: int = _NEIGHBOURS,
    num_labels: int = _NUM_LABELS,
    id_bits: int = _ID_BITS,
    planning_steps: int = 0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> BitBatch:
    """A batch of the shortest-path task: `shortest_path_queries` encoded by `encode_queries`.

    Graves et al. (2016), Methods: read a graph as triples, then a start and an end
    node; write the triples of the shortest path between them, in order. The layout is
    the module docstring's table; $T_b = E + 1 + S + P$ for a graph of E edges and a
    path of P hops.

    Args:
        batch_size: queries in the batch; ``min_nodes``, ``max_nodes``, ``nodes``,
            ``unique``, ``neighbours``, ``num_labels``, ``id_bits`` and ``generator`` as in
            `shortest_path_queries`.
        planning_steps: S, blank steps between the query and the answer.
        device: where the returned tensors live.

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, 2I + L + 3), targets (T, B, 2I + L), mask (T, B), lengths (B,).

    Raises:
        TypeError, ValueError: as `shortest_path_queries` and `encode_queries`.

    Examples:
        >>> batch = shortest_path_batch(4, nodes=6, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape[1:], batch.targets.shape[1:]
        (torch.Size([4, 18]), torch.Size([4, 15]))
    """
    queries = shortest_path_queries(batch_size, min_nodes, max_nodes, nodes=nodes, unique=unique,
                                    neighbours=neighbours, num_labels=num_labels, id_bits=id_bits,
                                    generator=generator)
    return encode_queries(queries, id_bits=id_bits, num_labels=num_labels, planning_steps=planning_steps,
                          device=device)


def decode_triples(bits: Tensor, mask: Tensor, *, id_bits: int = _ID_BITS,
                   num_labels: int = _NUM_LABELS) -> list[list[tuple[int, int, int]]]:
    """Read the ``(source id, label, destination id)`` triples of every sequence's masked steps.

    A bit is 1 where its value exceeds 1/2: pass ``batch.targets`` for the true answers,
    or ``(logits > 0).float()`` for a model's. The inverse of the encoding's word: an id
    field of zeros reads as 0 ("no node"), a label field of zeros as −1 ("no label").

    Args:
        bits: (T, B, 2I + L) values.
        mask: (T, B) bool, the steps to read (``batch.mask`` for the answers).
        id_bits: I.
        num_labels: K (gives L).

    Returns:
        For each sequence, its triples in step order.

    Raises:
        ValueError: wrong shapes, or a channel count that is not 2I + L.

    Examples:
        >>> batch = traversal_batch(1, hops=3, generator=torch.Generator().manual_seed(0))
        >>> len(decode_triples(batch.targets, batch.mask)[0])
        3
    """
    where = "decode_triples"
    label_bits = _label_bits(num_labels)
    word = query_channels(id_bits, num_labels)[1]
    check_shapes(where, bits=(bits, "T B C"), mask=(mask, "T B"), C=word)
    weights = 2 ** torch.arange(max(id_bits, label_bits), device=bits.device)
    ones = (bits.detach() > 0.5).long()
    source = (ones[..., :id_bits] * weights[:id_bits]).sum(-1)
    label = (ones[..., id_bits:id_bits + label_bits] * weights[:label_bits]).sum(-1) - 1
    target = (ones[..., id_bits + label_bits:] * weights[:id_bits]).sum(-1)
    decoded = []
    for b in range(bits.shape[1]):
        steps = mask[:, b].nonzero().flatten().tolist()
        decoded.append([(int(source[t, b]), int(label[t, b]), int(target[t, b])) for t in steps])
    return decoded


# ---------------------------------------------------------------------------------------
# metrics


def _right_steps(where: str, logits: Tensor, batch: BitBatch) -> Tensor:
    """(T, B) bool: every output bit of the step right (thresholded at logit 0)."""
    if not isinstance(batch, BitBatch):
        raise ValueError(f"{where}: expected batch to be a BitBatch, got {type(batch).__name__}")
    check_shapes(where, targets=(batch.targets, "T B C"), mask=(batch.mask, "T B"), logits=(logits, "T B C"))
    return ((logits.detach() > 0) == (batch.targets > 0.5)).all(dim=2)


def exact_answers(logits: Tensor, batch: BitBatch) -> Tensor:
    r"""The share of sequences whose whole answer is right: every bit of every answer step.

    The measure Graves et al. (2016) report for the graph tasks (a query counts only when
    its answer is entirely right). A bit is output as 1 where its logit is positive:

    $$\frac{1}{B} \sum_b \Bigl[\, \forall t \in A_b, \forall c:\ [z_{tbc} > 0] = y_{tbc} \,\Bigr]$$

    Args:
        logits: the model's outputs before the sigmoid.
        batch: the `BitBatch` the model read.

    Returns:
        A scalar float32 tensor in [0, 1] (no gradient).

    Shapes:
        logits (T, B, C_out) as ``batch.targets`` -> ().

    Examples:
        >>> batch = traversal_batch(3, generator=torch.Generator().manual_seed(0))
        >>> exact_answers(batch.targets * 2 - 1, batch), exact_answers(-torch.ones_like(batch.targets), batch)
        (tensor(1.), tensor(0.))
    """
    right = _right_steps("exact_answers", logits, batch) | ~batch.mask
    return right.all(dim=0).float().mean()


def answer_step_accuracy(logits: Tensor, batch: BitBatch) -> Tensor:
    r"""The share of answer steps whose whole triple is right, over the batch's answer steps.

    $$\frac{\sum_b \sum_{t \in A_b} [\forall c:\ [z_{tbc} > 0] = y_{tbc}]}{\sum_b |A_b|}$$

    Args:
        logits: the model's outputs before the sigmoid.
        batch: the `BitBatch` the model read.

    Returns:
        A scalar float32 tensor in [0, 1] (no gradient; 0 for a batch without answer steps).

    Shapes:
        logits (T, B, C_out) as ``batch.targets`` -> ().

    Examples:
        >>> batch = shortest_path_batch(3, generator=torch.Generator().manual_seed(0))
        >>> answer_step_accuracy(batch.targets * 2 - 1, batch)
        tensor(1.)
    """
    right = _right_steps("answer_step_accuracy", logits, batch) & batch.mask
    return right.sum().float() / batch.mask.sum().clamp(min=1).float()


# ---------------------------------------------------------------------------------------
# the same queries for message passing


def query_data(query: GraphQuery) -> Data:
    """The graph and query of a `GraphQuery` as ``torch_geometric.data.Data`` (local node indices).

    For a message-passing baseline, which sees the graph's structure directly instead
    of reading it as triples: the edges in the order they were presented, typed by
    their label, and the query.

    Args:
        query: a `GraphQuery`.

    Returns:
        ``Data`` with ``edge_index`` (2, E) (row 0 the sources), ``edge_type`` (E,) the
        labels, ``pos`` (n, 2), ``node_id`` (n,) the ids, ``path_index`` (P + 1,) the
        answer's nodes (start first; its last entry is a shortest path's end),
        ``hop_labels`` (P,) the labels along it (a traversal's query) and ``num_nodes``.

    Examples:
        >>> data = query_data(traversal_queries(1, nodes=5, hops=2, generator=torch.Generator().manual_seed(0))[0])
        >>> data.edge_index.shape, data.path_index.shape, data.hop_labels.shape
        (torch.Size([2, 15]), torch.Size([3]), torch.Size([2]))
    """
    if not isinstance(query, GraphQuery):
        raise ValueError(f"query_data: expected a GraphQuery, got {type(query).__name__}")
    graph = query.graph
    n = graph.number_of_nodes()
    edges = torch.tensor([[u, v] for u, _, v in query.triples], dtype=torch.long).reshape(-1, 2)
    return Data(
        edge_index=edges.t().contiguous(),
        edge_type=torch.tensor([label for _, label, _ in query.triples], dtype=torch.long),
        pos=torch.tensor([graph.nodes[v]["pos"] for v in range(n)], dtype=torch.float32).reshape(n, 2),
        node_id=torch.tensor([graph.nodes[v]["id"] for v in range(n)], dtype=torch.long),
        path_index=torch.tensor(query.path, dtype=torch.long),
        hop_labels=torch.tensor(query.labels, dtype=torch.long),
        num_nodes=n,
    )
