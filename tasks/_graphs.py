"""Code shared by the graph task scripts: the training-step schedule and the CLRS pointer task.

``tasks.bfs`` and ``tasks.bellman_ford`` are the same pointer task on two generators
(`PointerConfig`, `run_pointer_task`); ``tasks.connectivity`` shares the step schedule
(`GraphTask`, `train_step_range`) and the per-size evaluation settings (`size_settings`).
Every script ends in the task harness (`tasks._harness.run`): evaluation of every setting,
``metrics.json``, the table and the plots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from memnets.data.graphs import CLRS_EDGE_PROB, draw_seeds, graph_batch, pointer_counts
from memnets.nn.graphs import AGGREGATIONS, PointerReadout
from memnets.nn.models.graphs import PROCESSORS, GraphPointerNet
from memnets.training import Task, option
from tasks import _harness

__all__ = [
    "CLRS_TRAIN_Q",
    "CLRS_TRAIN_SIZES",
    "GraphTask",
    "PointerConfig",
    "PointerTask",
    "evaluation_batches",
    "pointer_accuracy",
    "pointer_loss",
    "run_pointer_task",
    "size_settings",
    "train_step_range",
]


#: CLRS's training mixture (the benchmark's example training script, as Ibarz et al. 2022
#: train): each batch one graph size from these, each graph its own edge draw q from
#: `CLRS_TRAIN_Q`; CLRS's sampler keeps an undirected edge when both directions are drawn,
#: so an undirected edge has probability q² and a directed one q.
CLRS_TRAIN_SIZES = (4, 7, 11, 13, 16)
CLRS_TRAIN_Q = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def train_step_range(num_steps: int | None, n: int, factor: float) -> tuple[int, int] | None:
    """``(T₀, ⌈factor·T₀⌉)`` with T₀ = ``num_steps`` or ``n``; ``None`` when ``factor`` ≤ 1."""
    steps = n if num_steps is None else num_steps
    return (steps, math.ceil(factor * steps)) if factor > 1 else None


def size_settings(sizes: tuple[int, ...]) -> dict[str, dict[str, int]]:
    """The harness's evaluation settings for graphs of each test size: ``{"n=16": {"n": 16}, ...}``."""
    return {f"n={size}": {"n": size} for size in sizes}


class GraphTask(Task):
    """A graph task for `fit`: batches of fresh graphs, each run for a random number of steps.

    Args:
        make_graph: a generator of `memnets.data.graphs` (called with ``seed`` and ``**graph_kwargs``).
        eval_graphs: fresh graphs per periodic evaluation.
        step_range: ``(low, high)``: every training batch runs T ~ U{low, ..., high}
            message-passing steps, so that the processor learns to hold its answer for
            more steps than the algorithm needs; ``None``: the model's own T.
        **graph_kwargs: the generator's arguments (``n``, ``p``, ...).
    """

    def __init__(self, make_graph: Callable[..., Data], eval_graphs: int, step_range: tuple[int, int] | None,
                 **graph_kwargs: Any) -> None:
        self.make_graph = make_graph
        self.eval_graphs = eval_graphs
        self.step_range = step_range
        self.graph_kwargs = graph_kwargs

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        return self._with_steps(graph_batch(self.make_graph, batch_size, generator, device, **self.graph_kwargs),
                                generator)

    def _with_steps(self, batch: Batch, generator: torch.Generator) -> Batch:
        """``batch`` with its training step count T ~ U{low, ..., high} drawn (``step_range``)."""
        if self.step_range is not None:
            low, high = self.step_range
            batch.train_steps = int(torch.randint(low, high + 1, (1,), generator=generator))
        return batch

    def forward(self, model: nn.Module, batch: Batch) -> Tensor:
        """The model's output with the batch's training step count."""
        return model(batch, num_steps=getattr(batch, "train_steps", None))


def pointer_loss(log_p: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
    """Mean negative log-likelihood of the true predecessors, and the pointer accuracy."""
    sender, receiver = batch.edge_index
    true_edge = sender == batch.predecessor_index[receiver]  # one per node (its predecessor or self-loop)
    loss = -log_p[true_edge].sum() / batch.num_nodes
    with torch.no_grad():
        chosen = PointerReadout.argmax(log_p.detach(), batch.edge_index, batch.num_nodes)
        accuracy = (chosen == batch.predecessor_index).float().mean()
    return loss, accuracy


def evaluation_batches(make_graph: Callable[..., Data], num_graphs: int, generator: torch.Generator,
                       device: torch.device, **kwargs: Any) -> Iterator[Batch]:
    """``num_graphs`` fresh graphs in batches of the harness's evaluation size."""
    for start in range(0, num_graphs, _harness.EVAL_BATCH):
        yield graph_batch(make_graph, min(_harness.EVAL_BATCH, num_graphs - start), generator, device, **kwargs)


@torch.no_grad()
def pointer_accuracy(model: nn.Module, make_graph: Callable[..., Data], num_graphs: int,
                     generator: torch.Generator, device: torch.device, *, linear_positions: bool = False,
                     **kwargs: Any) -> dict[str, float]:
    """Pointer accuracy over all nodes of ``num_graphs`` fresh graphs, and the share of
    graphs whose every pointer is right.

    With ``linear_positions``, also ``accuracy_linear`` and ``graph_accuracy_linear``: the
    same graphs (the same seeds) with CLRS-30's node positions i / n in place of the
    random sorted ones the model trained on (``make_graph(..., positions="linear")``).

    Args:
        model: a `GraphPointerNet` (its ``predict`` gives every node's predecessor).
        make_graph: a pointer generator of `memnets.data.graphs`.
        num_graphs: fresh graphs to score, drawn in batches of the harness's size.
        generator: draws the graphs' seeds.
        device: where the model runs.
        linear_positions: also score the same graphs with CLRS's positions.
        **kwargs: the generator's arguments (``n``, ``p``).
    """
    kinds = ("random", "linear") if linear_positions else ("random",)
    totals = {kind: [0, 0, 0] for kind in kinds}
    for start in range(0, num_graphs, _harness.EVAL_BATCH):
        seeds = draw_seeds(generator, min(_harness.EVAL_BATCH, num_graphs - start))
        for kind in kinds:
            graphs = [make_graph(seed=seed, **kwargs) if kind == "random" else
                      make_graph(seed=seed, positions=kind, **kwargs) for seed in seeds]
            batch = Batch.from_data_list(graphs).to(device)
            counts = pointer_counts(model.predict(batch), batch)
            totals[kind] = [a + b for a, b in zip(totals[kind], counts)]
    metrics = {}
    for kind, (correct, nodes, exact) in totals.items():
        suffix = "" if kind == "random" else f"_{kind}"
        metrics[f"accuracy{suffix}"] = correct / max(nodes, 1)
        metrics[f"graph_accuracy{suffix}"] = exact / max(num_graphs, 1)
    return metrics


class PointerTask(GraphTask):
    """A CLRS pointer task for `fit`: predict every node's predecessor.

    Args:
        make_graph: `bfs_graph`, `bellman_ford_graph`, `dijkstra_graph` or `dfs_graph`.
        n: training graph size.
        p: Erdős–Rényi edge probability.
        eval_graphs: fresh graphs per periodic evaluation (at size n).
        step_range: as `GraphTask`.
        mixture: train on CLRS's mixture instead (`CLRS_TRAIN_SIZES`, `CLRS_TRAIN_Q`):
            per batch a size, per graph an edge probability; the periodic evaluation
            stays at (n, p).
        directed: the generator's graphs are directed (edge probability q, not q²).
    """

    def __init__(self, make_graph: Callable[..., Data], n: int, p: float, eval_graphs: int,
                 step_range: tuple[int, int] | None = None, *, mixture: bool = False, directed: bool = False) -> None:
        super().__init__(make_graph, eval_graphs, step_range, n=n, p=p)
        self.mixture, self.directed = mixture, directed

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        if not self.mixture:
            return super().sample(batch_size, generator, device)
        n = CLRS_TRAIN_SIZES[int(torch.randint(len(CLRS_TRAIN_SIZES), (1,), generator=generator))]
        draws = torch.randint(len(CLRS_TRAIN_Q), (batch_size,), generator=generator).tolist()
        graphs = [self.make_graph(n, p=CLRS_TRAIN_Q[k] if self.directed else CLRS_TRAIN_Q[k] ** 2, seed=seed)
                  for k, seed in zip(draws, draw_seeds(generator, batch_size))]
        return self._with_steps(Batch.from_data_list(graphs).to(device), generator)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        loss, accuracy = pointer_loss(self.forward(model, batch), batch)
        return loss, {"accuracy": float(accuracy)}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return pointer_accuracy(model, self.make_graph, self.eval_graphs, generator, device, **self.graph_kwargs)


@dataclass
class PointerConfig(_harness.TaskConfig):
    """Settings of the pointer tasks: the training loop's, the graphs' and the model's.

    Args:
        n: training graph size (CLRS: 16).
        p: Erdős–Rényi edge probability (CLRS-30's undirected graphs: 0.25).
        test_sizes: graph sizes of the final evaluation (CLRS tests at 64).
        eval_graphs: graphs per periodic evaluation.
        test_graphs: graphs per size in the final evaluation.
        hidden_channels: state size.
        processor: ``"mpnn"``, ``"ggnn"`` (BFS only: no edge features) or ``"triplet"``
            (Triplet-GMPNN, max aggregation only).
        aggr: the processor's aggregation (CLRS: max).
        update: node update, ``"gru"`` or ``"lstm"`` (``"lstm"``: MPNN only).
        num_steps: message-passing steps (``None``: the graph's node count).
        message_layers: linear layers of the message MLP.
        reinject_inputs: the messages see the node features at every step (MPNN and triplet).
        max_step_factor: training runs T ~ U{T₀, ..., ⌈factor·T₀⌉} steps, T₀ = ``num_steps``
            or n (1: always T₀).
        train_mixture: train on CLRS's mixture of graph sizes (4, 7, 11, 13, 16; one per
            batch) and edge probabilities (q² for an undirected edge, q for a directed one,
            q ∈ {0.1, …, 0.9} per graph) instead of G(n, p); ``n`` still sets the step
            count and the periodic evaluation.
        linear_positions: the final evaluation also scores every test graph with CLRS-30's
            node positions i / n (``accuracy_linear``, ``graph_accuracy_linear``) beside
            the random sorted positions of training (``accuracy``, ``graph_accuracy``):
            CLRS's own test data encode positions as i / n.
    """

    out: str = "runs/bfs"
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 100
    checkpoint_every: int = 250
    n: int = option(16, low=1)
    p: float = option(CLRS_EDGE_PROB, low=0.0, high=1.0)
    test_sizes: tuple[int, ...] = option((16, 64), low=1)
    eval_graphs: int = option(64, low=1)
    test_graphs: int = option(256, low=1)
    hidden_channels: int = option(64, low=2)
    processor: str = option("mpnn", choices=PROCESSORS)
    aggr: str = option("max", choices=AGGREGATIONS)
    update: str = option("gru", choices=("gru", "lstm"))
    num_steps: int | None = option(None, low=0)
    message_layers: int = option(2, low=1)
    reinject_inputs: bool = option(True)
    max_step_factor: float = option(2.0, low=1.0)
    train_mixture: bool = option(False)
    linear_positions: bool = option(True)

    def validate(self) -> None:
        """The fields' ranges, then: GGNN has a GRU update, the triplet processor a max aggregation."""
        super().validate()
        if self.processor == "ggnn" and self.update != "gru":
            raise ValueError(f"{type(self).__name__}: processor 'ggnn' has a GRU update, got update={self.update!r}")
        if self.processor == "triplet" and self.aggr != "max":
            raise ValueError(f"{type(self).__name__}: processor 'triplet' aggregates by max, got aggr={self.aggr!r}")


def run_pointer_task(cfg: PointerConfig, make_graph: Callable[..., Data], in_channels: int, edge_dim: int,
                     name: str, directed: bool = False) -> dict[str, Any]:
    """Train a `GraphPointerNet` on a pointer task and evaluate it at every test size (the harness).

    ``directed``: the generator's graphs are directed (DFS), for the training mixture's
    edge probabilities."""

    def build(cfg: PointerConfig) -> tuple[nn.Module, Task]:
        features = cfg.processor != "ggnn"  # GGNN takes edge types, not features, and sees x only in h^(0)
        model = GraphPointerNet(in_channels, edge_dim=edge_dim if features else 0,
                                hidden_channels=cfg.hidden_channels, processor=cfg.processor, aggr=cfg.aggr,
                                update=cfg.update, num_steps=cfg.num_steps, message_layers=cfg.message_layers,
                                reinject_inputs=cfg.reinject_inputs and features)
        step_range = train_step_range(cfg.num_steps, cfg.n, cfg.max_step_factor)
        return model, PointerTask(make_graph, cfg.n, cfg.p, cfg.eval_graphs, step_range, mixture=cfg.train_mixture,
                                  directed=directed)

    def evaluate(model: nn.Module, task: Task, setting: dict[str, Any], generator: torch.Generator,
                 device: torch.device) -> dict[str, float]:
        return pointer_accuracy(model, make_graph, cfg.test_graphs, generator, device, n=setting["n"], p=cfg.p,
                                linear_positions=cfg.linear_positions)

    return _harness.run(cfg, build, size_settings(cfg.test_sizes), evaluate, name,
                        model_name=f"GraphPointerNet/{cfg.processor}", curve_metrics=("loss", "accuracy"),
                        log_y=False)
