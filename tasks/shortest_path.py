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
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data

from memnets.data.graphs import draw_seeds, shortest_path_annotations, shortest_path_graph, shortest_path_steps
from memnets.nn.graphs import NodeSelectionGGNN, NodeSelectionReadout
from memnets.training import (EVAL_SEED, Task, TrainConfig, fit, is_main_process, parse_config, resolve_device,
                              write_json)

#: Annotations per node: source, target, emitted so far, last emitted.
_ANNOTATIONS = 4
#: Graphs decoded per forward pass during evaluation.
_EVAL_BATCH = 250


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
    for start in range(0, len(graphs), _EVAL_BATCH):
        chunk = graphs[start:start + _EVAL_BATCH]
        for graph, path in zip(chunk, decode_paths(model, chunk, device)):
            exact += int(path == graph.path_index.tolist())
    return {"path_accuracy": exact / max(len(graphs), 1)}


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
        log_p = model(batch)
        loss = -log_p[batch.next_index].mean()
        with torch.no_grad():
            chosen = NodeSelectionReadout.argmax(log_p, batch.batch, batch.num_graphs)
            accuracy = float((chosen == batch.next_index).float().mean())
        return loss, {"step_accuracy": accuracy}

    def shard(self, batch: Batch, rank: int, world_size: int) -> Batch:
        """This rank's teacher-forced steps under ``torchrun``: a contiguous, near-equal share
        (the steps are the items of the loss; their number need not divide among the ranks)."""
        bounds = [batch.num_graphs * r // world_size for r in range(world_size + 1)]
        return Batch.from_data_list(batch.index_select(slice(bounds[rank], bounds[rank + 1])))

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        graphs = [shortest_path_graph(seed=s) for s in draw_seeds(generator, self.eval_graphs)]
        return path_accuracy(model, graphs, device)


@dataclass
class ShortestPathConfig(TrainConfig):
    """Shortest path (GGNN): node selection per output step, trained on a few graphs.

    Args:
        train_graphs: size of the fixed training set (GGNN: 50).
        eval_graphs: fresh graphs per periodic evaluation.
        test_graphs: fresh graphs in the final evaluation.
        hidden_channels: GGNN state size.
        num_steps: GGNN propagation steps T.
        plots: save the learning curve.
    """

    out: str = "runs/shortest_path"
    steps: int = 300
    batch_size: int = 50
    lr: float = 3e-3
    eval_every: int = 50
    checkpoint_every: int = 100
    train_graphs: int = 50
    eval_graphs: int = 200
    test_graphs: int = 1000
    hidden_channels: int = 32
    num_steps: int = 5
    plots: bool = True


def main(argv=None) -> dict[str, Any]:
    cfg = parse_config(ShortestPathConfig, argv, description=__doc__.splitlines()[0])
    train = [shortest_path_graph(seed=s) for s in draw_seeds(torch.Generator().manual_seed(cfg.seed), cfg.train_graphs)]
    torch.manual_seed(cfg.seed)
    model = NodeSelectionGGNN(_ANNOTATIONS, hidden_channels=cfg.hidden_channels, num_steps=cfg.num_steps)
    fit(model, ShortestPathTask(train, cfg.eval_graphs), cfg)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    device = resolve_device(cfg.device)
    model.eval()
    test_graphs = [shortest_path_graph(seed=s)
                   for s in draw_seeds(torch.Generator().manual_seed(EVAL_SEED - 1), cfg.test_graphs)]
    results = {
        "task": "shortest_path",
        "seed": cfg.seed,
        "steps": cfg.steps,
        "train_graphs": cfg.train_graphs,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train": path_accuracy(model, train, device),
        "test": path_accuracy(model, test_graphs, device),
    }
    out = Path(cfg.out)
    write_json(out / "metrics.json", results)
    print(f"\nshortest path, GGNN, {cfg.train_graphs} training graphs, {cfg.steps} steps, seed {cfg.seed}:")
    print(f"  exact paths: training set {100 * results['train']['path_accuracy']:.1f}%, "
          f"{cfg.test_graphs} fresh graphs {100 * results['test']['path_accuracy']:.1f}%")
    if cfg.plots:
        from memnets.training.plots import plot_learning_curve

        plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png",
                            metrics=("loss", "step_accuracy"), log_y=False, title="shortest path: GGNN")
    return results


if __name__ == "__main__":
    main()
