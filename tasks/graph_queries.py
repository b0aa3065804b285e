"""Graph queries (Graves et al. 2016, Methods): read a random graph as triples, then answer from memory.

    python -m tasks.graph_queries --out runs/graph_queries [--query traversal|shortest_path]
        [--model dnc|ntm|lstm|gnn] [--seed S] [--steps N] ...

A random labelled graph of n ~ U{5..10} nodes (points in the unit square, each joined
to its 3 nearest neighbours, 4 edge labels, 6-bit node ids) is shown one
(source, label, destination) triple per step; then a query. ``--query traversal``: a
start node and h ~ U{1..4} edge labels, answer the path they lead along, one triple per
hop. ``--query shortest_path``: a start and an end node with a unique shortest path,
answer its triples in order. The encoding is `memnets.data.graph_queries`'s.

``--model dnc|ntm|lstm`` trains a memory network on the bit sequences (the bit-task
harness, `tasks._bits`). ``--model gnn`` is the structural baseline on the same
graphs and queries: a `NodeSelectionGGNN` sees the graph itself (edges typed by their
label, reverse edges typed apart) instead of reading it, and answers one node per step,
a softmax over the graph's nodes from annotations of the current node (and the label to
follow, or the start, the end and the nodes emitted so far); trained teacher-forced,
decoded greedily. Both report the share of queries answered exactly (``exact``: every
triple of the answer right) and the share of answer triples right (``step_accuracy``)
on 1,000 fresh queries of the training distribution, on larger graphs (n = 15, 20) and,
for traversal, on longer queries (h = 6, 8); the final evaluation draws the same
queries for every model.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from memnets.data.bits import (
    BATCH_DIMS,
    BitBatch,
    bits_per_sequence,
    masked_bce_loss,
    wrong_bits_per_sequence,
)
from memnets.data.graph_queries import (
    GRAPH_QUERY_KINDS,
    GraphQuery,
    answer_step_accuracy,
    encode_queries,
    exact_answers,
    query_channels,
    query_data,
    shortest_path_batch,
    shortest_path_queries,
    traversal_batch,
    traversal_queries,
)
from memnets.nn.models.graphs import NodeSelectionGGNN
from memnets.training import Task, option
from tasks import _bits, _harness
from tasks.shortest_path import node_selection_loss

#: The models of ``--model``: the bit-task models and the message-passing baseline.
MODELS = (*_bits.MODELS, "gnn")
#: Annotations of a shortest-path step of the baseline: start, end, emitted so far, current.
_PATH_ANNOTATIONS = 4


# ---------------------------------------------------------------------------------------
# the queries, in the chunks every evaluation draws them in


def draw_queries(query: str, batch_size: int, generator: torch.Generator | None,
                 **kwargs: Any) -> list[GraphQuery]:
    """``batch_size`` queries of kind ``query`` (`traversal_queries` or `shortest_path_queries`)."""
    if query == "traversal":
        return traversal_queries(batch_size, generator=generator, **kwargs)
    return shortest_path_queries(batch_size, generator=generator, **kwargs)


def query_chunks(query: str, num_queries: int, generator: torch.Generator, **kwargs: Any) -> Iterator[list[GraphQuery]]:
    """``num_queries`` fresh queries in chunks of the harness's evaluation batch size.

    Every evaluation below draws its queries through this function, so that the memory
    networks and the baseline meet the same queries for the same generator.
    """
    for start in range(0, num_queries, _harness.EVAL_BATCH):
        yield draw_queries(query, min(_harness.EVAL_BATCH, num_queries - start), generator, **kwargs)


# ---------------------------------------------------------------------------------------
# the memory networks: bit sequences


def _bit_metrics(logits: Tensor, batch: BitBatch) -> dict[str, float]:
    return {"exact": float(exact_answers(logits, batch)), "step_accuracy": float(answer_step_accuracy(logits, batch)),
            "wrong_bits": float(wrong_bits_per_sequence(logits, batch)), "bits": float(bits_per_sequence(logits, batch))}


@torch.no_grad()
def evaluate_sequence_model(model: nn.Module, query: str, num_queries: int, generator: torch.Generator,
                            device: torch.device | str, *, id_bits: int, num_labels: int, planning_steps: int,
                            **kwargs: Any) -> dict[str, float]:
    """A sequence model's metrics on ``num_queries`` fresh queries, each chunk encoded by `encode_queries`.

    Returns:
        ``exact``, ``step_accuracy`` (answer triples right, over all answer steps),
        ``wrong_bits`` and ``bits`` per sequence.
    """
    was_training = model.training
    model.eval()
    totals = {"exact": 0.0, "wrong_bits": 0.0, "bits": 0.0}
    right_steps = answer_steps = 0.0
    for queries in query_chunks(query, num_queries, generator, id_bits=id_bits, num_labels=num_labels, **kwargs):
        batch = encode_queries(queries, id_bits=id_bits, num_labels=num_labels, planning_steps=planning_steps,
                               device=device)
        logits, _ = model(batch.inputs)
        metrics = _bit_metrics(logits, batch)
        for key in totals:
            totals[key] += metrics[key] * len(queries)
        steps = float(batch.mask.sum())
        right_steps += metrics["step_accuracy"] * steps
        answer_steps += steps
    model.train(was_training)
    return {"exact": totals["exact"] / num_queries, "step_accuracy": right_steps / max(answer_steps, 1.0),
            "wrong_bits": totals["wrong_bits"] / num_queries, "bits": totals["bits"] / num_queries}


class QueryBitTask(_bits.BitTask):
    """A graph-query task for `fit` on a sequence model: `_bits.BitTask` with the query metrics.

    Args:
        query: ``"traversal"`` or ``"shortest_path"``.
        make_batch: `traversal_batch` or `shortest_path_batch`.
        eval_sequences: fresh queries per periodic evaluation.
        **kwargs: the training distribution (arguments of ``make_batch``).
    """

    batch_dim = BATCH_DIMS

    def __init__(self, query: str, make_batch: Callable[..., BitBatch], eval_sequences: int, **kwargs: Any) -> None:
        super().__init__(make_batch, eval_sequences=eval_sequences, **kwargs)
        self.query = query

    def loss(self, model: nn.Module, batch: BitBatch) -> tuple[Tensor, dict[str, float]]:
        logits, _ = model(batch.inputs)
        loss = masked_bce_loss(logits, batch)
        with torch.no_grad():
            return loss, _bit_metrics(logits, batch)

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return evaluate_sequence_model(model, self.query, self.eval_sequences, generator, device, **self.kwargs)


# ---------------------------------------------------------------------------------------
# the structural baseline: node selection on the graph itself


def annotate(data: Data, query: GraphQuery, emitted: list[int], num_labels: int) -> Data:
    """The graph annotated for the baseline's next answer step, after the nodes ``emitted`` (start first).

    Traversal: a mark on the current node (the last emitted) and, on that node only, the
    one-hot of the label to follow next, (V, 1 + K). Shortest path: the start and end
    marks, the nodes emitted so far and the current node, (V, 4).
    """
    n = data.num_nodes
    current = emitted[-1]
    if query.kind == "traversal":
        x = torch.zeros(n, 1 + num_labels)
        x[current, 0] = 1.0
        x[current, 1 + query.labels[len(emitted) - 1]] = 1.0
    else:
        x = torch.zeros(n, _PATH_ANNOTATIONS)
        x[query.path[0], 0] = 1.0
        x[query.path[-1], 1] = 1.0
        x[emitted, 2] = 1.0
        x[current, 3] = 1.0
    return Data(x=x, edge_index=data.edge_index, edge_type=data.edge_type, num_nodes=n)


def teacher_forced_steps(query: GraphQuery, num_labels: int) -> list[Data]:
    """One example per answer step, annotated with the true path so far; ``next_index`` the next node."""
    data = query_data(query)
    steps = []
    for k in range(1, len(query.path)):
        step = annotate(data, query, query.path[:k], num_labels)
        step.next_index = torch.tensor([query.path[k]])
        steps.append(step)
    return steps


def _answer_triples(query: GraphQuery, path: list[int]) -> list[tuple[int, int, int]]:
    """A decoded node path as the answer's triples: a traversal's labels are the query's; a
    shortest path's are the labels of the edges taken (−1 where the step is not an edge)."""
    nodes, edges = query.graph.nodes, query.graph.edges
    triples = []
    for j, (u, v) in enumerate(zip(path, path[1:])):
        if query.kind == "traversal":
            label = query.labels[j]
        else:
            label = edges[u, v]["label"] if (u, v) in edges else -1
        triples.append((nodes[u]["id"], label, nodes[v]["id"]))
    return triples


@torch.no_grad()
def decode_answers(model: nn.Module, queries: list[GraphQuery], num_labels: int,
                   device: torch.device | str) -> list[list[int]]:
    """Greedy decoding: from the start, one selected node per step, the model's own choices fed back.

    A traversal takes one step per label; a shortest path stops at the end node or after
    n − 1 steps.
    """
    data = [query_data(query) for query in queries]
    paths = [[query.path[0]] for query in queries]
    active = list(range(len(queries)))
    while active:
        batch = Batch.from_data_list([annotate(data[i], queries[i], paths[i], num_labels) for i in active]).to(device)
        chosen = (model.predict(batch) - batch.ptr[:-1]).tolist()
        still = []
        for i, node in zip(active, chosen):
            paths[i].append(int(node))
            query = queries[i]
            if query.kind == "traversal":
                done = len(paths[i]) == len(query.path)
            else:
                done = node == query.path[-1] or len(paths[i]) == data[i].num_nodes
            if not done:
                still.append(i)
        active = still
    return paths


def evaluate_graph_model(model: nn.Module, query: str, num_queries: int, generator: torch.Generator,
                         device: torch.device | str, *, num_labels: int, **kwargs: Any) -> dict[str, float]:
    """The baseline's ``exact`` and ``step_accuracy`` on ``num_queries`` fresh queries.

    The decoded nodes are turned into the answer's triples (`_answer_triples`) and compared
    with the true ones as the sequence models' outputs are: a query is exact when every
    triple is right, and ``step_accuracy`` counts the triples right at their position over
    all answer steps.
    """
    was_training = model.training
    model.eval()
    exact = right = steps = 0
    for queries in query_chunks(query, num_queries, generator, num_labels=num_labels, **kwargs):
        for q, path in zip(queries, decode_answers(model, queries, num_labels, device)):
            truth, got = q.answer(), _answer_triples(q, path)
            exact += int(got == truth)
            right += sum(a == b for a, b in zip(got, truth))
            steps += len(truth)
    model.train(was_training)
    return {"exact": exact / num_queries, "step_accuracy": right / max(steps, 1)}


class QueryGraphTask(Task):
    """A graph-query task for `fit` on the baseline: teacher-forced node selection on fresh queries.

    Args:
        query: ``"traversal"`` or ``"shortest_path"``.
        num_labels: K, the edge labels.
        eval_sequences: fresh queries per periodic evaluation.
        **kwargs: the training distribution (arguments of `traversal_queries` or
            `shortest_path_queries`).
    """

    def __init__(self, query: str, num_labels: int, eval_sequences: int, **kwargs: Any) -> None:
        self.query = query
        self.num_labels = num_labels
        self.eval_sequences = eval_sequences
        self.kwargs = kwargs

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        queries = draw_queries(self.query, batch_size, generator, num_labels=self.num_labels, **self.kwargs)
        return Batch.from_data_list([step for q in queries for step in teacher_forced_steps(q, self.num_labels)]).to(
            device)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        return node_selection_loss(model, batch)

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return evaluate_graph_model(model, self.query, self.eval_sequences, generator, device,
                                    num_labels=self.num_labels, **self.kwargs)


# ---------------------------------------------------------------------------------------
# the script


@dataclass
class GraphQueriesConfig(_bits.BitTaskConfig):
    """Graph queries: the graphs, the query, the models (the bit-task settings plus the baseline's).

    Args:
        query: ``"traversal"`` or ``"shortest_path"``.
        model: ``"dnc"``, ``"ntm"``, ``"lstm"`` (sequence models, `_bits.BitTaskConfig`)
            or ``"gnn"`` (the `NodeSelectionGGNN` baseline).
        min_nodes: the fewest nodes of a training graph (at least 2).
        max_nodes: the most nodes of a training graph.
        min_hops: the fewest hops of a training traversal (at least 1).
        max_hops: the most hops of a training traversal.
        neighbours: out-edges per node (each node's nearest neighbours).
        num_labels: edge labels (at least ``neighbours``).
        id_bits: bits of a node id (graphs of up to 2^id_bits − 1 nodes).
        planning_steps: blank steps between the query and the answer (sequence models).
        test_nodes: graph sizes of the generalisation test.
        test_hops: traversal lengths of the generalisation test (traversal only).
        gnn_hidden: the baseline's state size.
        gnn_steps: the baseline's propagation steps per answer step.

    ``compile`` applies to the sequence models only: the baseline trains eager, because
    its batches change shape with every draw of graphs and a compiled model would be
    recompiled again and again.
    """

    out: str = "runs/graph_queries"
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    lr_schedule: str = "cosine"
    eval_every: int = 200
    eval_sequences: int = option(250, low=1)
    query: str = option("traversal", choices=GRAPH_QUERY_KINDS)
    model: str = option("dnc", choices=MODELS)
    memory_size: int = option(64, low=1)
    min_nodes: int = option(5, low=2)
    max_nodes: int = option(10, low=2)
    min_hops: int = option(1, low=1)
    max_hops: int = option(4, low=1)
    neighbours: int = option(3, low=1)
    num_labels: int = option(4, low=1)
    id_bits: int = option(6, low=1)
    planning_steps: int = option(0, low=0)
    test_nodes: tuple[int, ...] = option((15, 20), low=2)
    test_hops: tuple[int, ...] = option((6, 8), low=1)
    gnn_hidden: int = option(32, low=1)
    gnn_steps: int = option(10, low=1)

    def validate(self) -> None:
        super().validate()
        name = type(self).__name__
        for low, high in (("min_nodes", "max_nodes"), ("min_hops", "max_hops")):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{name}: expected {low} <= {high}, got {getattr(self, low)} > {getattr(self, high)}")
        if self.num_labels < self.neighbours:
            raise ValueError(f"{name}: expected num_labels >= neighbours (a node's out-edges carry distinct labels), "
                             f"got {self.num_labels} < {self.neighbours}")
        largest = max(self.max_nodes, *self.test_nodes)
        if largest > 2**self.id_bits - 1:
            raise ValueError(f"{name}: expected at most 2**id_bits - 1 = {2**self.id_bits - 1} nodes (distinct ids), "
                             f"got graphs of {largest} nodes")
        annotations = 1 + self.num_labels if self.query == "traversal" else _PATH_ANNOTATIONS
        if self.model == "gnn" and self.gnn_hidden < annotations:
            raise ValueError(f"{name}: expected gnn_hidden >= {annotations} (the baseline's annotations are "
                             f"zero-padded into its state), got {self.gnn_hidden}")


def settings_of(cfg: GraphQueriesConfig) -> dict[str, dict[str, int]]:
    """The final evaluation's settings: the training distribution, the larger graphs and
    (traversal) the longer queries, as overrides of the training arguments."""
    settings: dict[str, dict[str, int]] = {"train": {}}
    settings.update({f"n={n}": {"nodes": n} for n in cfg.test_nodes})
    if cfg.query == "traversal":
        settings.update({f"hops={h}": {"hops": h} for h in cfg.test_hops})
    return settings


def query_kwargs(cfg: GraphQueriesConfig) -> dict[str, Any]:
    """The training distribution: arguments of `traversal_queries` / `shortest_path_queries`."""
    kwargs: dict[str, Any] = {"min_nodes": cfg.min_nodes, "max_nodes": cfg.max_nodes, "neighbours": cfg.neighbours,
                              "num_labels": cfg.num_labels, "id_bits": cfg.id_bits}
    if cfg.query == "traversal":
        kwargs.update(min_hops=cfg.min_hops, max_hops=cfg.max_hops)
    return kwargs


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(GraphQueriesConfig, argv, __doc__)
    train = query_kwargs(cfg)
    input_size, output_size = query_channels(cfg.id_bits, cfg.num_labels)
    make_batch = traversal_batch if cfg.query == "traversal" else shortest_path_batch
    gnn = cfg.model == "gnn"
    if gnn and cfg.compile:
        print("graph_queries: the GNN baseline trains eager (its batches change shape with every draw of graphs)",
              file=sys.stderr, flush=True)
        cfg = dataclasses.replace(cfg, compile=False)

    def build(cfg: GraphQueriesConfig) -> tuple[nn.Module, Task]:
        if gnn:
            annotations = 1 + cfg.num_labels if cfg.query == "traversal" else _PATH_ANNOTATIONS
            model = NodeSelectionGGNN(annotations, hidden_channels=cfg.gnn_hidden, num_steps=cfg.gnn_steps,
                                      num_edge_types=cfg.num_labels, add_reverse_edges=True)
            return model, QueryGraphTask(cfg.query, cfg.num_labels, cfg.eval_sequences,
                                         **{k: v for k, v in train.items() if k != "num_labels"})
        task = QueryBitTask(cfg.query, make_batch, cfg.eval_sequences, planning_steps=cfg.planning_steps, **train)
        return _bits.build_bit_model(cfg, input_size, output_size), task

    def evaluate(model: nn.Module, task: Task, setting: dict[str, Any], generator: torch.Generator,
                 device: torch.device) -> dict[str, float]:
        kwargs = {**train, **setting}
        if gnn:
            return evaluate_graph_model(model, cfg.query, cfg.final_sequences, generator, device, **kwargs)
        return evaluate_sequence_model(model, cfg.query, cfg.final_sequences, generator, device,
                                       planning_steps=cfg.planning_steps, **kwargs)

    def plot(model: nn.Module, task: Task, out: Path, device: torch.device) -> None:
        if not gnn:
            _bits.plot_bit_sequence(model, make_batch, out / "sequence.png", device=device, **task.plot_kwargs)

    return _harness.run(cfg, build, settings_of(cfg), evaluate, "graph_queries",
                        model_name="NodeSelectionGGNN" if gnn else None, summary=lambda _: {"query": cfg.query},
                        curve_metrics=("loss", "step_accuracy") if gnn else ("wrong_bits", "bits"), log_y=not gnn,
                        plot=plot)


if __name__ == "__main__":
    main()
