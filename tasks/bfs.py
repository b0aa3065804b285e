"""BFS predecessor (CLRS-30): for every node, its parent in a breadth-first search from the source.

    python -m tasks.bfs --out runs/bfs [--seed S] [--steps N] [--processor mpnn|ggnn] ...

Trains on Erdős–Rényi graphs of n = 16 nodes and reports pointer accuracy on fresh graphs
of n = 16 and, out of distribution, n = 64 (TASKS.md). The model is a
`GraphPointerNet`: T = n message-passing steps (the largest
graph's node count; training draws T ~ U{n, ..., 2n} so the processor learns to hold its
answer), with the inputs re-fed to every message, then a softmax over each node's
incoming edges and its self-loop. This module also holds the pointer task shared with
``tasks.bellman_ford``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from memnets.data.graphs import CLRS_EDGE_PROB, bfs_graph, graph_batch
from memnets.nn.graphs import GraphPointerNet, PointerReadout
from memnets.training import (EVAL_SEED, Task, TrainConfig, fit, is_main_process, parse_config, resolve_device,
                              write_json)

#: Graphs per forward pass during evaluation.
_EVAL_BATCH = 32


def pointer_loss(log_p: Tensor, batch: Batch) -> tuple[Tensor, Tensor]:
    """Mean negative log-likelihood of the true predecessors, and the pointer accuracy."""
    sender, receiver = batch.edge_index
    true_edge = sender == batch.predecessor_index[receiver]  # one per node (its predecessor or self-loop)
    loss = -log_p[true_edge].sum() / batch.num_nodes
    with torch.no_grad():
        chosen = PointerReadout.argmax(log_p.detach(), batch.edge_index, batch.num_nodes)
        accuracy = (chosen == batch.predecessor_index).float().mean()
    return loss, accuracy


@torch.no_grad()
def pointer_accuracy(model: nn.Module, make_graph: Callable[..., Data], num_graphs: int,
                     generator: torch.Generator, device: torch.device, **kwargs: Any) -> dict[str, float]:
    """Pointer accuracy over all nodes of ``num_graphs`` fresh graphs, and the share of
    graphs whose every pointer is right."""
    correct = nodes = exact = 0
    for start in range(0, num_graphs, _EVAL_BATCH):
        batch = graph_batch(make_graph, min(_EVAL_BATCH, num_graphs - start), generator, device, **kwargs)
        right = model.predict(batch) == batch.predecessor_index
        correct += int(right.sum())
        nodes += right.numel()
        wrong_per_graph = torch.zeros(batch.num_graphs, device=right.device).index_add_(0, batch.batch,
                                                                                          (~right).float())
        exact += int((wrong_per_graph == 0).sum())
    return {"accuracy": correct / max(nodes, 1), "graph_accuracy": exact / max(num_graphs, 1)}


class PointerTask(Task):
    """A CLRS pointer task for `fit`: predict every node's predecessor.

    Args:
        make_graph: `bfs_graph` or
            `bellman_ford_graph`.
        n: training graph size.
        p: Erdős–Rényi edge probability.
        eval_graphs: fresh graphs per periodic evaluation (at size n).
        step_range: ``(low, high)``: every training batch runs T ~ U{low, ..., high}
            message-passing steps, so that the processor learns to hold its answer for
            more steps than the algorithm needs; ``None``: the model's own T.
    """

    def __init__(self, make_graph: Callable[..., Data], n: int, p: float, eval_graphs: int,
                 step_range: tuple[int, int] | None = None) -> None:
        self.make_graph = make_graph
        self.n = n
        self.p = p
        self.eval_graphs = eval_graphs
        self.step_range = step_range

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        batch = graph_batch(self.make_graph, batch_size, generator, device, n=self.n, p=self.p)
        if self.step_range is not None:
            low, high = self.step_range
            batch.train_steps = int(torch.randint(low, high + 1, (1,), generator=generator))
        return batch

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        loss, accuracy = pointer_loss(model(batch, num_steps=getattr(batch, "train_steps", None)), batch)
        return loss, {"accuracy": float(accuracy)}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return pointer_accuracy(model, self.make_graph, self.eval_graphs, generator, device, n=self.n, p=self.p)


@dataclass
class PointerConfig(TrainConfig):
    """Settings of the pointer tasks: the training loop's, the graphs' and the model's.

    Args:
        n: training graph size (CLRS: 16).
        p: Erdős–Rényi edge probability (CLRS-30's undirected graphs: 0.25).
        test_sizes: graph sizes of the final evaluation (CLRS tests at 64).
        eval_graphs: graphs per periodic evaluation.
        test_graphs: graphs per size in the final evaluation.
        hidden_channels: state size.
        processor: ``"mpnn"`` or ``"ggnn"`` (BFS only: no edge features).
        aggr: the processor's aggregation (CLRS: max).
        update: node update, ``"gru"`` or ``"lstm"``.
        num_steps: message-passing steps (``None``: the graph's node count).
        message_layers: linear layers of the message MLP.
        reinject_inputs: the messages see the node features at every step (MPNN only).
        max_step_factor: training runs T ~ U{T₀, ..., ⌈factor·T₀⌉} steps, T₀ = ``num_steps``
            or n (1: always T₀).
        plots: save the learning curve.
    """

    out: str = "runs/bfs"
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 100
    checkpoint_every: int = 250
    n: int = 16
    p: float = CLRS_EDGE_PROB
    test_sizes: tuple[int, ...] = (16, 64)
    eval_graphs: int = 64
    test_graphs: int = 256
    hidden_channels: int = 64
    processor: str = "mpnn"
    aggr: str = "max"
    update: str = "gru"
    num_steps: int | None = None
    message_layers: int = 2
    reinject_inputs: bool = True
    max_step_factor: float = 2.0
    plots: bool = True


def run_pointer_task(cfg: PointerConfig, make_graph: Callable[..., Data], in_channels: int, edge_dim: int,
                     name: str) -> dict[str, Any]:
    """Train a `GraphPointerNet` on a pointer task, evaluate at every test size, write ``metrics.json``."""
    torch.manual_seed(cfg.seed)
    model = GraphPointerNet(in_channels, edge_dim=edge_dim if cfg.processor == "mpnn" else 0,
                            hidden_channels=cfg.hidden_channels, processor=cfg.processor, aggr=cfg.aggr,
                            update=cfg.update, num_steps=cfg.num_steps, message_layers=cfg.message_layers,
                            reinject_inputs=cfg.reinject_inputs and cfg.processor == "mpnn")
    steps = cfg.n if cfg.num_steps is None else cfg.num_steps
    step_range = (steps, math.ceil(cfg.max_step_factor * steps)) if cfg.max_step_factor > 1 else None
    task = PointerTask(make_graph, cfg.n, cfg.p, cfg.eval_graphs, step_range)
    fit(model, task, cfg)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    device = resolve_device(cfg.device)
    model.eval()
    test = {}
    for i, size in enumerate(cfg.test_sizes):
        generator = torch.Generator().manual_seed(EVAL_SEED - 1 - i)
        test[f"n={size}"] = pointer_accuracy(model, make_graph, cfg.test_graphs, generator, device, n=size, p=cfg.p)
    results = {
        "task": name,
        "processor": cfg.processor,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "graphs": cfg.steps * cfg.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "test": test,
    }
    out = Path(cfg.out)
    write_json(out / "metrics.json", results)
    print(f"\n{name}, {cfg.processor}, {cfg.steps} steps ({results['graphs']} graphs of n={cfg.n}), seed {cfg.seed}:")
    print(f"  {'size':<8}{'pointer accuracy':>18}{'graphs all right':>18}")
    for key, r in test.items():
        print(f"  {key:<8}{100 * r['accuracy']:>17.2f}%{100 * r['graph_accuracy']:>17.2f}%")
    if cfg.plots:
        from memnets.training.plots import plot_learning_curve

        plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png", metrics=("loss", "accuracy"),
                            log_y=False, title=f"{name}: {cfg.processor}")
    return results


def main(argv=None) -> dict:
    cfg = parse_config(PointerConfig, argv, description="BFS predecessor (CLRS-30) with a message-passing network.")
    return run_pointer_task(cfg, bfs_graph, in_channels=2, edge_dim=1, name="bfs")


if __name__ == "__main__":
    main()
