"""Shortest path (GGNN, Li et al. 2016, §5.2): output the nodes of the unique shortest path.

    python -m tasks.shortest_path --out runs/shortest_path [--seed S] [--train-graphs 50] ...

A connected Watts–Strogatz graph (5 nodes) plus a 4-node distractor, nodes relabelled at
random, source and target marked (TASKS.md). The output is a sequence, as in a GGS-NN:
at every output step a `NodeSelectionGGNN` selects the next node
on the path (a softmax over the graph's nodes) from annotations that mark the source,
the target, the nodes emitted so far and the last of them; decoding stops at the
target. Training is teacher-forced on a fixed set of ``train_graphs`` graphs (the paper:
50); the metric is the share of fresh graphs whose whole path is decoded exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from memnets.data.graphs import (
    draw_seeds,
    shortest_path_annotations,
    shortest_path_graph,
    shortest_path_steps,
)
from memnets.nn.graphs import NodeSelectionReadout
from memnets.nn.models.graphs import NodeSelectionGGNN
from memnets.training import Task, option
from tasks import _harness

#: Annotations per node: source, target, emitted so far, last emitted.
_ANNOTATIONS = 4


@torch.no_grad()
def decode_paths(model: nn.Module, graphs: list[Data], device: torch.device) -> list[list[int]]:
    """Greedy decoding: from the source, select nodes until the target (at most V − 1 steps)."""
    paths = [[int(g.source_index)] for g in graphs]
    active = list(range(len(graphs)))
    while active:
        batch = Batch.from_data_list([shortest_path_annotations(graphs[i], paths[i]) for i in active]).to(device)
        chosen = (model.predict(batch) - batch.ptr[:-1]).tolist()
        still = []
        for i, node in zip(active, chosen):
            paths[i].append(int(node))
            if node != int(graphs[i].target_index) and len(paths[i]) < graphs[i].num_nodes:
                still.append(i)
        active = still
    return paths


def path_accuracy(model: nn.Module, graphs: list[Data], device: torch.device) -> dict[str, float]:
    """Share of graphs whose decoded path equals the true one, and of their nodes found."""
    exact = 0
    for start in range(0, len(graphs), _harness.EVAL_BATCH):
        chunk = graphs[start:start + _harness.EVAL_BATCH]
        for graph, path in zip(chunk, decode_paths(model, chunk, device)):
            exact += int(path == graph.path_index.tolist())
    return {"path_accuracy": exact / max(len(graphs), 1)}


def node_selection_loss(model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
    """The teacher-forced loss of a node-selection model: the mean negative log-probability
    of every step's next node (``batch.next_index``), and the share of steps whose most
    probable node is that one (``step_accuracy``).

    Args:
        model: maps the batch to per-node log-probabilities, normalised within each graph.
        batch: a `Batch` of teacher-forced steps, one graph each, with ``next_index``.

    Shapes:
        model(batch): (V,); batch.next_index: (G,) -> loss: scalar.
    """
    log_p = model(batch)
    loss = -log_p[batch.next_index].mean()
    with torch.no_grad():
        chosen = NodeSelectionReadout.argmax(log_p, batch.batch, batch.num_graphs)
        accuracy = float((chosen == batch.next_index).float().mean())
    return loss, {"step_accuracy": accuracy}


class ShortestPathTask(Task):
    """Teacher-forced node selection on a fixed training set of shortest-path graphs.

    Args:
        train_graphs: the training set (GGNN: 50 graphs).
        eval_graphs: fresh graphs per periodic evaluation.
    """

    def __init__(self, train_graphs: list[Data], eval_graphs: int) -> None:
        self.train_steps = [shortest_path_steps(g) for g in train_graphs]
        self.eval_graphs = eval_graphs

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Batch:
        chosen = torch.randperm(len(self.train_steps), generator=generator)[:batch_size].tolist()
        return Batch.from_data_list([step for i in chosen for step in self.train_steps[i]]).to(device)

    def loss(self, model: nn.Module, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        return node_selection_loss(model, batch)

    def shard(self, batch: Batch, rank: int, world_size: int) -> Batch:
        """This rank's teacher-forced steps under ``torchrun``: a contiguous, near-equal share
        (the steps are the items of the loss; their number need not divide among the ranks)."""
        bounds = [batch.num_graphs * r // world_size for r in range(world_size + 1)]
        return Batch.from_data_list(batch.index_select(slice(bounds[rank], bounds[rank + 1])))

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        graphs = [shortest_path_graph(seed=s) for s in draw_seeds(generator, self.eval_graphs)]
        return path_accuracy(model, graphs, device)


@dataclass
class ShortestPathConfig(_harness.TaskConfig):
    """Shortest path (GGNN): node selection per output step, trained on a few graphs.

    Args:
        train_graphs: size of the fixed training set (GGNN: 50).
        eval_graphs: fresh graphs per periodic evaluation.
        test_graphs: fresh graphs in the final evaluation.
        hidden_channels: GGNN state size.
        num_steps: GGNN propagation steps T.
    """

    out: str = "runs/shortest_path"
    steps: int = 300
    batch_size: int = 50
    lr: float = 3e-3
    eval_every: int = 50
    checkpoint_every: int = 100
    train_graphs: int = option(50, low=1)
    eval_graphs: int = option(200, low=1)
    test_graphs: int = option(1000, low=1)
    hidden_channels: int = option(32, low=4)
    num_steps: int = option(5, low=1)


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(ShortestPathConfig, argv, __doc__)
    train = [shortest_path_graph(seed=s) for s in draw_seeds(torch.Generator().manual_seed(cfg.seed), cfg.train_graphs)]

    def build(cfg: ShortestPathConfig) -> tuple[nn.Module, Task]:
        model = NodeSelectionGGNN(_ANNOTATIONS, hidden_channels=cfg.hidden_channels, num_steps=cfg.num_steps)
        return model, ShortestPathTask(train, cfg.eval_graphs)

    def evaluate(model: nn.Module, task: Task, setting: dict[str, Any], generator: torch.Generator,
                 device: torch.device) -> dict[str, float]:
        if setting["graphs"] == "train":
            return path_accuracy(model, train, device)
        fresh = [shortest_path_graph(seed=s) for s in draw_seeds(generator, cfg.test_graphs)]
        return path_accuracy(model, fresh, device)

    # "test" first: its generator is the first setting's (the same fresh graphs in every run).
    settings = {"test": {"graphs": "fresh"}, "train": {"graphs": "train"}}
    return _harness.run(cfg, build, settings, evaluate, "shortest_path", model_name="NodeSelectionGGNN",
                        curve_metrics=("loss", "step_accuracy"), log_y=False)


if __name__ == "__main__":
    main()
