"""Connectivity (graph level): is an Erdős–Rényi graph at its connectivity threshold connected?

    python -m tasks.connectivity --out runs/connectivity [--seed S] [--readout gated|sum|mean|max] ...

G(n, p) with p = ln(n)/n, classes balanced by rejection sampling, one random node marked
(TASKS.md). A `GraphClassifier`: GGNN for T = n steps (the
mark must reach every node; training draws T ~ U{n, ..., 2n}), then a graph-level readout
-- max by default, which generalises to larger graphs; GGNN's gated sum (``--readout
gated``) does not -- and a linear layer. Trains on n = 16, reports accuracy at n = 16 and
larger sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch

from memnets.data.graphs import connectivity_graph, graph_batch
from memnets.nn.graphs import GraphClassifier
from memnets.training import (EVAL_SEED, Task, TrainConfig, fit, is_main_process, parse_config, resolve_device,
                              write_json)

#: Graphs per forward pass during evaluation.
_EVAL_BATCH = 64
#: Classes: disconnected (0), connected (1).
_CLASSES = 2


@torch.no_grad()
def classification_accuracy(model: nn.Module, num_graphs: int, generator: torch.Generator, device: torch.device,
                            n: int) -> dict[str, float]:
    """Accuracy on ``num_graphs`` fresh balanced graphs of ``n`` nodes."""
    correct = 0
    for start in range(0, num_graphs, _EVAL_BATCH):
        batch = graph_batch(connectivity_graph, min(_EVAL_BATCH, num_graphs - start), generator, device, n=n)
        correct += int((model(batch).argmax(-1) == batch.y).sum())
    return {"accuracy": correct / max(num_graphs, 1)}


class ConnectivityTask(Task):
    """Binary graph classification for `fit`.

    Args:
        n: training graph size.
        eval_graphs: fresh graphs per periodic evaluation.
        step_range: ``(low, high)``: every training batch runs T ~ U{low, ..., high}
            propagation steps; ``None``: the model's own T.
    """

    def __init__(self, n: int, eval_graphs: int, step_range: tuple[int, int] | None = None) -> None:
        self.n = n
        self.eval_graphs = eval_graphs
        self.step_range = step_range

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        batch = graph_batch(connectivity_graph, batch_size, generator, device, n=self.n)
        if self.step_range is not None:
            low, high = self.step_range
            batch.train_steps = int(torch.randint(low, high + 1, (1,), generator=generator))
        return batch

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        logits = model(batch, num_steps=getattr(batch, "train_steps", None))
        loss = F.cross_entropy(logits, batch.y)
        return loss, {"accuracy": float((logits.argmax(-1) == batch.y).float().mean())}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        return classification_accuracy(model, self.eval_graphs, generator, device, self.n)


@dataclass
class ConnectivityConfig(TrainConfig):
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
        plots: save the learning curve.
    """

    out: str = "runs/connectivity"
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    eval_every: int = 100
    checkpoint_every: int = 200
    n: int = 16
    test_sizes: tuple[int, ...] = (16, 32, 64)
    eval_graphs: int = 256
    test_graphs: int = 512
    hidden_channels: int = 32
    processor: str = "ggnn"
    readout: str = "max"
    aggr: str = "add"
    num_steps: int | None = None
    max_step_factor: float = 2.0
    plots: bool = True


def main(argv=None) -> dict[str, Any]:
    cfg = parse_config(ConnectivityConfig, argv, description=__doc__.splitlines()[0])
    torch.manual_seed(cfg.seed)
    model = GraphClassifier(1, _CLASSES, hidden_channels=cfg.hidden_channels, processor=cfg.processor,
                            readout=cfg.readout, aggr=cfg.aggr, num_steps=cfg.num_steps)
    steps = cfg.n if cfg.num_steps is None else cfg.num_steps
    step_range = (steps, math.ceil(cfg.max_step_factor * steps)) if cfg.max_step_factor > 1 else None
    fit(model, ConnectivityTask(cfg.n, cfg.eval_graphs, step_range), cfg)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    device = resolve_device(cfg.device)
    model.eval()
    test = {f"n={size}": classification_accuracy(model, cfg.test_graphs, torch.Generator().manual_seed(
        EVAL_SEED - 1 - i), device, size) for i, size in enumerate(cfg.test_sizes)}
    results = {
        "task": "connectivity",
        "processor": cfg.processor,
        "readout": cfg.readout,
        "seed": cfg.seed,
        "steps": cfg.steps,
        "graphs": cfg.steps * cfg.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "test": test,
    }
    out = Path(cfg.out)
    write_json(out / "metrics.json", results)
    print(f"\nconnectivity, {cfg.processor} + {cfg.readout} readout, {cfg.steps} steps, seed {cfg.seed}:")
    for key, r in test.items():
        print(f"  {key:<8}accuracy {100 * r['accuracy']:.1f}%")
    if cfg.plots:
        from memnets.training.plots import plot_learning_curve

        plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png", metrics=("loss", "accuracy"),
                            log_y=False, title=f"connectivity: {cfg.processor} + {cfg.readout}")
    return results


if __name__ == "__main__":
    main()
