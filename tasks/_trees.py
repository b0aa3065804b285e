"""Code shared by the tree task scripts (``tasks.listops``, ``tasks.arithmetic``).

The glue between `memnets.data.trees` (the generators: gold trees and strings) and the
models (`memnets.nn.models.trees.TreeClassifier` on the trees, `memnets.SequenceToVector`
on the strings): `TreeTask` samples batches and attaches their level schedule, scores
accuracy by nesting depth; `TreeTaskConfig` holds the options both scripts share;
`run_tree_task` hands everything to the task harness (`tasks._harness.run`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from memnets.data.trees import TreeTaskBatch
from memnets.nn.models.trees import TREE_CELLS, TREE_READOUTS, TreeClassifier
from memnets.nn.recurrent import SequenceToVector
from memnets.nn.trees import attach_schedule
from memnets.training import Task, shard_batch
from memnets.training.config import option
from tasks import _harness

__all__ = ["EVAL_BATCH", "TreeTask", "TreeTaskConfig", "build_model", "predict", "forest_slice", "plot_by_depth",
           "run_tree_task"]

#: Expressions per forward pass during evaluation.
EVAL_BATCH = 250


def predict(model: nn.Module, batch: TreeTaskBatch) -> Tensor:
    """The model's outputs for a batch: the tree model reads the trees, the baseline the strings.

    The baseline (`SequenceToVector`) reads the strings' tokens one-hot, so its input
    projection is the token embedding.
    """
    inner = getattr(model, "module", model)  # also under DistributedDataParallel
    if isinstance(inner, SequenceToVector):
        one_hot = F.one_hot(batch.sequence, inner.input_size).to(inner.head.weight.dtype)
        return model(one_hot, batch.lengths)
    return model(batch.tree.token, batch.tree)


def forest_slice(forest: Data, start: int, stop: int) -> Data:
    """Trees ``start..stop-1`` of a generated forest (nodes of a tree are contiguous, ``ptr``).

    Returns:
        A forest of the same attributes (``edge_index``, ``child_slot``, ``token``,
        ``batch``, ``ptr``), renumbered from 0, without a schedule.
    """
    low, high = int(forest.ptr[start]), int(forest.ptr[stop])
    child = forest.edge_index[0]
    keep = (child >= low) & (child < high)
    return Data(edge_index=forest.edge_index[:, keep] - low, child_slot=forest.child_slot[keep],
                token=forest.token[low:high], batch=forest.batch[low:high] - start,
                ptr=forest.ptr[start:stop + 1] - low, num_nodes=high - low)


class TreeTask(Task):
    """A tree task for `fit`: classification (ListOps) or regression (arithmetic).

    Every batch gets its level schedule when it is drawn (`attach_schedule`), once.

    Args:
        make_batch: `memnets.data.trees.listops_batch` or `memnets.data.trees.arithmetic_batch`.
        regression: predict a value (MSE on ``target / value_scale``) instead of a class.
        value_scale: the regression target's unit (outputs are in units of it).
        eval_size: fresh expressions per periodic evaluation.
        **kwargs: the training distribution, passed to ``make_batch``.
    """

    def __init__(self, make_batch: Callable[..., TreeTaskBatch], *, regression: bool = False,
                 value_scale: float = 1.0, eval_size: int = 1000, **kwargs: Any) -> None:
        self.make_batch = make_batch
        self.regression = regression
        self.value_scale = value_scale
        self.eval_size = eval_size
        self.kwargs = kwargs

    def draw(self, batch_size: int, generator: torch.Generator, device: torch.device,
             **kwargs: Any) -> TreeTaskBatch:
        """A batch of the training distribution (updated by ``kwargs``), its schedule attached."""
        batch = self.make_batch(batch_size, generator, "cpu", **{**self.kwargs, **kwargs})
        attach_schedule(batch.tree)
        return batch.to(device) if torch.device(device).type != "cpu" else batch

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> TreeTaskBatch:
        return self.draw(batch_size, generator, device)

    def _loss_and_hits(self, output: Tensor, batch: TreeTaskBatch) -> tuple[Tensor, Tensor, Tensor]:
        if self.regression:
            prediction = output.squeeze(-1) * self.value_scale
            loss = F.mse_loss(output.squeeze(-1), batch.target / self.value_scale)
            return loss, torch.round(prediction) == batch.target, (prediction - batch.target).abs()
        loss = F.cross_entropy(output, batch.target)
        return loss, output.argmax(-1) == batch.target, torch.zeros_like(batch.target, dtype=output.dtype)

    def loss(self, model: nn.Module, batch: TreeTaskBatch) -> tuple[Tensor, dict[str, float]]:
        loss, hits, errors = self._loss_and_hits(predict(model, batch), batch)
        metrics = {"accuracy": float(hits.float().mean())}
        if self.regression:
            metrics["mae"] = float(errors.detach().mean())
        return loss, metrics

    def shard(self, batch: TreeTaskBatch, rank: int, world_size: int) -> TreeTaskBatch:
        """This rank's expressions under ``torchrun``: its trees cut from the forest (with a
        schedule of their own), the strings trimmed to their longest, the rest cut along the batch."""
        part = batch.batch_size // world_size
        sequence, lengths, target, depth = shard_batch(
            (batch.sequence, batch.lengths, batch.target, batch.depth), rank, world_size, dim=(1, 0, 0, 0))
        tree = attach_schedule(forest_slice(batch.tree.cpu(), rank * part, (rank + 1) * part))
        return TreeTaskBatch(tree.to(batch.target.device), sequence[: int(lengths.max())], lengths, target, depth,
                             batch.text[rank * part:(rank + 1) * part])

    @torch.no_grad()
    def score(self, model: nn.Module, num: int, generator: torch.Generator, device: torch.device,
              **kwargs: Any) -> dict[str, Any]:
        """Accuracy (and for a regression the mean absolute error) on ``num`` fresh
        expressions, overall and by nesting depth."""
        was_training = model.training
        model.eval()
        hits, errors, depths = [], [], []
        for start in range(0, num, EVAL_BATCH):
            batch = self.draw(min(EVAL_BATCH, num - start), generator, device, **kwargs)
            _, hit, error = self._loss_and_hits(predict(model, batch), batch)
            hits.append(hit.cpu())
            errors.append(error.cpu())
            depths.append(batch.depth.cpu())
        model.train(was_training)
        hit, error, depth = torch.cat(hits).float(), torch.cat(errors), torch.cat(depths)
        result: dict[str, Any] = {"accuracy": float(hit.mean()), "examples": num}
        if self.regression:
            result["mae"] = float(error.mean())
        result["by_depth"] = {int(d): {"accuracy": float(hit[depth == d].mean()), "examples": int((depth == d).sum())}
                              for d in depth.unique().tolist()}
        return result

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        result = self.score(model, self.eval_size, generator, device)
        return {k: v for k, v in result.items() if isinstance(v, float)}


@dataclass
class TreeTaskConfig(_harness.TaskConfig):
    """Settings shared by the tree-task scripts: the training loop's, plus the model's.

    Args:
        model: ``tree`` (a TreeClassifier on the gold trees) or ``lstm`` (an LSTM
            SequenceToVector on the strings, tokens one-hot).
        cell: the tree encoder, one of childsum, nary, recursive, gru.
        arity: N of the nary cell (and of a positional recursive one).
        embedding_size: token embedding size of the tree model.
        hidden_size: state size of the tree encoder or of each LSTM layer.
        lstm_layers: layers of the LSTM baseline.
        head_size: hidden units of the tree model's readout MLP (none: linear).
        readout: the root state the tree model's readout reads: hidden (h), cell (c, the
            Tree-LSTMs only) or both.
        eval_size: fresh expressions per periodic evaluation.
        test_size: fresh expressions per setting in the final evaluation.
    """

    steps: int = option(3000, low=0)
    batch_size: int = option(64, low=1)
    lr: float = option(2e-3, low=0.0, open_low=True)
    eval_every: int = option(250, low=1)
    model: str = option("tree", choices=("tree", "lstm"))
    cell: str = option("nary", choices=TREE_CELLS)
    arity: int | None = option(2, low=1)
    embedding_size: int = option(64, low=1)
    hidden_size: int = option(128, low=1)
    lstm_layers: int = option(1, low=1)
    head_size: int | None = option(None, low=1)
    readout: str = option("hidden", choices=TREE_READOUTS)
    eval_size: int = option(1000, low=1)
    test_size: int = option(5000, low=1)

    def validate(self) -> None:
        super().validate()
        if self.model == "tree" and self.cell == "nary" and self.arity is None:
            raise ValueError(f"{type(self).__name__}: --cell nary needs --arity, got none")


def build_model(cfg: TreeTaskConfig, tree_vocab: int, sequence_vocab: int, num_outputs: int) -> nn.Module:
    """The model a `TreeTaskConfig` names (the caller seeds torch first)."""
    if cfg.model == "tree":
        return TreeClassifier(tree_vocab, num_outputs, cell=cfg.cell, embedding_size=cfg.embedding_size,
                              hidden_size=cfg.hidden_size, arity=cfg.arity, head_size=cfg.head_size,
                              readout=cfg.readout)
    return SequenceToVector(sequence_vocab, cfg.hidden_size, num_outputs, cell="lstm", num_layers=cfg.lstm_layers)


def plot_by_depth(results: dict[str, Any], png_path: Path, title: str) -> None:
    """Accuracy against nesting depth for every evaluated setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, result in results.items():
        depths = sorted(result["by_depth"], key=int)
        ax.plot([int(d) for d in depths], [100 * result["by_depth"][d]["accuracy"] for d in depths], marker="o",
                label=name)
    ax.set_xlabel("nesting depth")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def run_tree_task(cfg: TreeTaskConfig, name: str, make_task: Callable[[TreeTaskConfig], TreeTask],
                  vocab_sizes: tuple[int, int], num_outputs: int,
                  settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Train, evaluate every setting, write ``metrics.json``, print the table, plot.

    Args:
        cfg: the script's config (from `tasks._harness.parse`).
        name: the task's name.
        make_task: ``cfg -> TreeTask``.
        vocab_sizes: (tree tokens, string tokens).
        num_outputs: classes (1 for a regression).
        settings: name -> arguments of the task's generator for each final evaluation
            (``{}`` is the training distribution).

    Returns:
        The dictionary written to ``metrics.json``.
    """
    def build(cfg: TreeTaskConfig) -> tuple[nn.Module, TreeTask]:
        return build_model(cfg, *vocab_sizes, num_outputs), make_task(cfg)

    def evaluate(model: nn.Module, task: Task, setting: dict[str, Any], generator: torch.Generator,
                 device: torch.device) -> dict[str, Any]:
        assert isinstance(task, TreeTask)
        return task.score(model, cfg.test_size, generator, device, **setting)

    def summary(results: dict[str, Any]) -> dict[str, Any]:
        """One line per setting: the accuracy (%) at each nesting depth."""
        return {f"accuracy by depth, {setting}": "  ".join(f"{d}: {100 * v['accuracy']:.1f}"
                                                           for d, v in sorted(r["by_depth"].items()))
                for setting, r in results["evaluation"].items()}

    def plot(model: nn.Module, task: Task, out: Path, device: torch.device) -> None:
        evaluation = json.loads((out / "metrics.json").read_text())["evaluation"]
        plot_by_depth(evaluation, out / "accuracy_by_depth.png", f"{out.name}: {model_name}")

    model_name = "lstm" if cfg.model == "lstm" else f"tree/{cfg.cell}"
    regression = num_outputs == 1
    return _harness.run(cfg, build, settings, evaluate, name, model_name=model_name, summary=summary,
                        curve_metrics=("accuracy", "mae") if regression else ("accuracy",), log_y=False, plot=plot)
