"""ListOps (Nangia & Bowman 2018): evaluate nested MAX/MIN/MED/SM expressions, given the tree.

    python -m tasks.listops --out runs/listops [--seed S] [--steps N] [--model tree|lstm]
    python -m tasks.listops --no-binarize --cell childsum      # operator trees, child-sum Tree-LSTM

A Tree-LSTM reads the gold tree and the label is read off the root: by default the
left-branching binary trees of the original data set (every token a leaf,
``[MAX 2 9 ]`` -> ``((([MAX 2) 9) ])``) through an N-ary Tree-LSTM with N = 2, the
setting of Nangia & Bowman; with ``--no-binarize`` the operator trees (operators internal
nodes, their arguments the children). The baseline is an LSTM reading the bracketed
string ``[MAX 2 9 [MIN 4 7 ] 0 ]``. Reports accuracy on fresh expressions overall and by
nesting depth. Anchors: Tree-LSTM on gold trees 98.7 %, LSTM 71.5 % (Nangia & Bowman 2018).

This module also holds the tree-task machinery shared with ``tasks.arithmetic``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from memnets.data.trees import LISTOPS_SEQUENCE_VOCAB, LISTOPS_VOCAB, TreeTaskBatch, collate_trees, listops_batch
from memnets.nn.trees import TREE_CELLS, SequenceClassifier, TreeClassifier
from memnets.training import (EVAL_SEED, Task, TrainConfig, fit, is_main_process, parse_config, resolve_device,
                              shard_batch, write_json)

#: Expressions per forward pass during evaluation.
_EVAL_BATCH = 250


def predict(model: nn.Module, batch: TreeTaskBatch) -> Tensor:
    """The model's outputs for a batch: the tree model reads the trees, the baseline the strings."""
    if isinstance(getattr(model, "module", model), SequenceClassifier):  # also under DistributedDataParallel
        return model(batch.sequence, batch.lengths)
    return model(batch.tree.token, batch.tree)


class TreeTask(Task):
    """A tree task for `fit`: classification (ListOps) or regression (arithmetic).

    Args:
        make_batch: `listops_batch` or
            `arithmetic_batch`.
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

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> TreeTaskBatch:
        return self.make_batch(batch_size, generator, device, **self.kwargs)

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
        """This rank's expressions under ``torchrun``: its trees re-collated (a forest has one
        schedule), the strings trimmed to their longest, the rest cut along the batch."""
        part = batch.batch_size // world_size
        keep = slice(rank * part, (rank + 1) * part)
        sequence, lengths, target, depth = shard_batch(
            (batch.sequence, batch.lengths, batch.target, batch.depth), rank, world_size, dim=(1, 0, 0, 0))
        return TreeTaskBatch(collate_trees(batch.tree.index_select(keep)), sequence[: int(lengths.max())], lengths,
                             target, depth, batch.text[keep])

    @torch.no_grad()
    def score(self, model: nn.Module, num: int, generator: torch.Generator, device: torch.device,
              **kwargs: Any) -> dict[str, Any]:
        """Accuracy (and for a regression the mean absolute error) on ``num`` fresh
        expressions, overall and by nesting depth."""
        was_training = model.training
        model.eval()
        hits, errors, depths = [], [], []
        for start in range(0, num, _EVAL_BATCH):
            batch = self.make_batch(min(_EVAL_BATCH, num - start), generator, device, **{**self.kwargs, **kwargs})
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
class TreeTaskConfig(TrainConfig):
    """Settings shared by the tree-task scripts: the training loop's, plus the model's.

    Args:
        model: ``"tree"`` (a `TreeClassifier` on the gold trees)
            or ``"lstm"`` (a `SequenceClassifier` on the strings).
        cell: the tree encoder, one of ``childsum``, ``nary``, ``recursive``, ``gru``.
        arity: N of the ``nary`` cell (and of a positional ``recursive`` one).
        embedding_size: token embedding size.
        hidden_size: state size of the tree encoder or of each LSTM layer.
        lstm_layers: layers of the LSTM baseline.
        head_size: hidden units of the readout MLP (``None``: linear).
        eval_size: fresh expressions per periodic evaluation.
        test_size: fresh expressions per setting in the final evaluation.
        plots: save the learning curve and the accuracy by depth.
    """

    model: str = "tree"
    cell: str = "childsum"
    arity: int | None = None
    embedding_size: int = 64
    hidden_size: int = 128
    lstm_layers: int = 1
    head_size: int | None = None
    eval_size: int = 1000
    test_size: int = 5000
    plots: bool = True


def build_tree_task_model(cfg: TreeTaskConfig, tree_vocab: int, sequence_vocab: int, num_outputs: int) -> nn.Module:
    """The model a `TreeTaskConfig` names, initialised from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    if cfg.model == "tree":
        if cfg.cell not in TREE_CELLS:
            raise ValueError(f"expected --cell in {TREE_CELLS}, got {cfg.cell!r}")
        return TreeClassifier(tree_vocab, num_outputs, cell=cfg.cell, embedding_size=cfg.embedding_size,
                              hidden_size=cfg.hidden_size, arity=cfg.arity, head_size=cfg.head_size)
    if cfg.model == "lstm":
        return SequenceClassifier(sequence_vocab, num_outputs, embedding_size=cfg.embedding_size,
                                  hidden_size=cfg.hidden_size, num_layers=cfg.lstm_layers, head_size=cfg.head_size)
    raise ValueError(f"expected --model 'tree' or 'lstm', got {cfg.model!r}")


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


def run_tree_task(cfg: TreeTaskConfig, task: TreeTask, model: nn.Module,
                  settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Train, evaluate, write ``metrics.json`` and plot: the body of every tree-task script.

    Args:
        cfg: the script's config.
        task: the `TreeTask` (its keyword arguments are the training distribution).
        model: the model to train.
        settings: name -> arguments of the task's generator for each final evaluation
            (``{}`` is the training distribution).

    Returns:
        The dictionary written to ``metrics.json``.
    """
    from memnets.training.plots import plot_learning_curve

    result = fit(model, task, cfg)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    evaluations = {}
    for offset, (name, kwargs) in enumerate(settings.items()):
        generator = torch.Generator().manual_seed(EVAL_SEED - 1 - offset)
        evaluations[name] = task.score(model, cfg.test_size, generator, device, **kwargs)
    results: dict[str, Any] = {
        "model": cfg.model if cfg.model == "lstm" else f"tree/{cfg.cell}",
        "seed": cfg.seed,
        "steps": result.step,
        "examples_seen": result.step * cfg.batch_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "evaluation": evaluations,
    }
    write_json(out / "metrics.json", results)
    print(f"\n{results['model']} after {result.step} steps ({results['examples_seen']} examples), seed {cfg.seed}:")
    for name, evaluation in evaluations.items():
        extra = f", MAE {evaluation['mae']:.3f}" if "mae" in evaluation else ""
        print(f"  {name:<12} accuracy {100 * evaluation['accuracy']:6.2f} % on {evaluation['examples']}{extra}")
        row = "  ".join(f"{d}: {100 * v['accuracy']:.1f}" for d, v in sorted(evaluation["by_depth"].items()))
        print(f"  {'':<12} by depth  {row}")
    if cfg.plots:
        metrics = ("accuracy", "mae") if task.regression else ("accuracy",)
        plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png", metrics=metrics, log_y=False,
                            title=f"{out.name}: {results['model']}")
        plot_by_depth(evaluations, out / "accuracy_by_depth.png", f"{out.name}: {results['model']}")
    return results


@dataclass
class ListOpsConfig(TreeTaskConfig):
    """ListOps: MAX/MIN/MED/SM expressions (Nangia & Bowman 2018); --model tree or lstm.

    Args:
        max_depth: the deepest nesting (20).
        subexpression_prob: probability that an argument is a sub-expression (0.25).
        max_args: the most arguments of an operator (5).
        binarize: the tree model reads the left-branching binary trees of the original
            data (every token a leaf; the default, with the N-ary Tree-LSTM, N = 2, as
            Nangia & Bowman) instead of the operator trees (``--no-binarize``, e.g. with
            ``--cell childsum``).
    """

    out: str = "runs/listops"
    cell: str = "nary"
    arity: int | None = 2
    steps: int = 3000
    batch_size: int = 64
    lr: float = 2e-3
    eval_every: int = 250
    max_depth: int = 20
    subexpression_prob: float = 0.25
    max_args: int = 5
    binarize: bool = True


def main(argv=None) -> dict:
    cfg = parse_config(ListOpsConfig, argv)
    task = TreeTask(listops_batch, eval_size=cfg.eval_size, max_depth=cfg.max_depth,
                    subexpression_prob=cfg.subexpression_prob, max_args=cfg.max_args, binarize=cfg.binarize)
    tree_vocab = len(LISTOPS_SEQUENCE_VOCAB) if cfg.binarize else len(LISTOPS_VOCAB)
    model = build_tree_task_model(cfg, tree_vocab, len(LISTOPS_SEQUENCE_VOCAB), num_outputs=10)
    return run_tree_task(cfg, task, model, {"test": {}})


if __name__ == "__main__":
    main()
