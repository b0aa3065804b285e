"""Connectivity (graph level): is an Erdős–Rényi graph at its connectivity threshold connected?

    python -m tasks.connectivity --out runs/connectivity [--seed S] [--readout gated|sum|mean|max] ...

G(n, p) with p = ln(n)/n, classes balanced by rejection sampling, one random node marked
(TASKS.md). A `GraphClassifier`: GGNN for T = n steps (the mark must reach every node;
training draws T ~ U{n, ..., 2n}), then a graph-level readout -- max by default, which
generalises to larger graphs; GGNN's gated sum (``--readout gated``) does not -- and a
linear layer. Trains on n = 16, reports accuracy at n = 16 and larger sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch

from memnets.data.graphs import connectivity_graph
from memnets.nn.graphs import AGGREGATIONS
from memnets.nn.models.graphs import PROCESSORS, GraphClassifier
from memnets.training import Task, option
from tasks import _harness
from tasks._graphs import GraphTask, evaluation_batches, size_settings, train_step_range

#: Classes: disconnected (0), connected (1).
_CLASSES = 2


@torch.no_grad()
def classification_accuracy(model: nn.Module, num_graphs: int, generator: torch.Generator, device: torch.device,
                            n: int) -> dict[str, float]:
    """Accuracy on ``num_graphs`` fresh balanced graphs of ``n`` nodes."""
    correct = 0
    for batch in evaluation_batches(connectivity_graph, num_graphs, generator, device, n=n):
        correct += int((model(batch).argmax(-1) == batch.y).sum())
    return {"accuracy": correct / max(num_graphs, 1)}


class ConnectivityTask(GraphTask):
    """Binary graph classification for `fit`.

    Args:
        n: training graph size.
        eval_graphs: fresh graphs per periodic evaluation.
        step_range: as `tasks._graphs.GraphTask`.
    """

    def __init__(self, n: int, eval_graphs: int, step_range: tuple[int, int] | None = None) -> None:
        super().__init__(connectivity_graph, eval_graphs, step_range, n=n)
        self.n = n

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        logits = self.forward(model, batch)
        loss = F.cross_entropy(logits, batch.y)
        return loss, {"accuracy": float((logits.argmax(-1) == batch.y).float().mean())}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return classification_accuracy(model, self.eval_graphs, generator, device, self.n)


@dataclass
class ConnectivityConfig(_harness.TaskConfig):
    """Connectivity: GGNN + graph-level readout on G(n, ln n / n).

    Args:
        n: training graph size.
        test_sizes: graph sizes of the final evaluation.
        eval_graphs: graphs per periodic evaluation.
        test_graphs: graphs per size in the final evaluation.
        hidden_channels: state size.
        processor: ``"ggnn"`` or ``"mpnn"``.
        readout: ``"gated"``, ``"sum"``, ``"mean"`` or ``"max"``.
        aggr: the processor's aggregation.
        num_steps: propagation steps (``None``: the graph's node count).
        max_step_factor: training runs T ~ U{T₀, ..., ⌈factor·T₀⌉} steps, T₀ = ``num_steps``
            or n (1: always T₀).
    """

    out: str = "runs/connectivity"
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 100
    checkpoint_every: int = 200
    n: int = option(16, low=2)
    test_sizes: tuple[int, ...] = option((16, 32, 64), low=2)
    eval_graphs: int = option(256, low=1)
    test_graphs: int = option(512, low=1)
    hidden_channels: int = option(32, low=1)
    processor: str = option("ggnn", choices=PROCESSORS)
    readout: str = option("max", choices=("gated", "sum", "mean", "max"))
    aggr: str = option("add", choices=AGGREGATIONS)
    num_steps: int | None = option(None, low=0)
    max_step_factor: float = option(2.0, low=1.0)


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(ConnectivityConfig, argv, __doc__)

    def build(cfg: ConnectivityConfig) -> tuple[nn.Module, Task]:
        model = GraphClassifier(1, _CLASSES, hidden_channels=cfg.hidden_channels, processor=cfg.processor,
                                readout=cfg.readout, aggr=cfg.aggr, num_steps=cfg.num_steps)
        return model, ConnectivityTask(cfg.n, cfg.eval_graphs, train_step_range(cfg.num_steps, cfg.n,
                                                                                cfg.max_step_factor))

    def evaluate(model: nn.Module, task: Task, setting: dict[str, Any], generator: torch.Generator,
                 device: torch.device) -> dict[str, float]:
        return classification_accuracy(model, cfg.test_graphs, generator, device, setting["n"])

    return _harness.run(cfg, build, size_settings(cfg.test_sizes), evaluate, "connectivity",
                        model_name=f"GraphClassifier/{cfg.processor}+{cfg.readout}",
                        curve_metrics=("loss", "accuracy"), log_y=False)


if __name__ == "__main__":
    main()
