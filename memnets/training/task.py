"""What `fit` needs from a task: a `Task` draws the batches, computes the loss and evaluates."""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import Tensor, nn

from memnets.training.distributed import shard_batch

__all__ = ["Task"]


class Task(abc.ABC):
    """What `fit` needs from a task: data, a loss, an evaluation.

    Subclass it and implement `sample` and `loss`; `evaluate`,
    `curriculum` and the state methods are optional. For multi-process training
    set `batch_dim` to where the batch dimension of `sample`'s tensors is,
    or override `shard`.
    """

    #: The batch dimension of the tensors `sample` returns, used by the default
    #: `shard`: one int for all of them (0 batch-first, 1 time-major), or a
    #: structure shaped like the batch (``BitBatch(inputs=1, targets=1, mask=1,
    #: lengths=0)``). ``None``: not declared; then only ``torch_geometric`` batches (split
    #: by graph) can be sharded, so that time is never split by mistake.
    batch_dim: Any = None

    @abc.abstractmethod
    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Any:
        """Draw one training batch with ``generator`` (a CPU generator) and put it on ``device``."""

    @abc.abstractmethod
    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, dict[str, float]]:
        """Return the scalar loss to minimise and a dictionary of metrics to log."""

    def shard(self, batch: Any, rank: int, world_size: int) -> Any:
        """This rank's part of a global batch, in multi-process training.

        `fit` draws the *global* batch of every step on every rank (from the
        generator seeded with ``(seed, step)``) and trains each rank on its shard, so
        the ranks see disjoint data and a run matches the single-process run with the
        same global batch. The default cuts every tensor along `batch_dim` into
        ``world_size`` contiguous parts (`shard_batch`;
        it also splits ``torch_geometric`` batches by graph). For the averaged rank
        losses to equal the global loss, `loss` must be a mean over the batch's
        items (sequences, trees, graphs).
        """
        return shard_batch(batch, rank, world_size, self.batch_dim)

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        """Periodic evaluation (called in eval mode under ``torch.no_grad``); default: none."""
        return {}

    def figures(self, model: nn.Module, device: torch.device) -> dict[str, Any]:
        """Matplotlib figures to log at each evaluation when TensorBoard is on (called in
        eval mode under ``torch.no_grad``), by tag; default: none."""
        return {}

    def curriculum(self, step: int, metrics: dict[str, float]) -> None:
        """Called after every step with the step's metrics (and evaluation results, when
        there are some); may change what `sample` draws. Default: no-op."""

    def state_dict(self) -> dict[str, Any]:
        """Plain-valued state that a checkpoint must carry (e.g. a curriculum's level)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
