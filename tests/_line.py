"""A line to fit, shared by the tests of the training loop and of the task harness:
a registered one-layer model and the task y = x · w under the mean squared error."""

from __future__ import annotations

import torch
from torch import nn

from memnets.nn.registry import register_model
from memnets.training import Task

__all__ = ["LineModel", "LineTask"]


@register_model
class LineModel(nn.Module):
    def __init__(self, size: int = 3):
        super().__init__()
        self.lin = nn.Linear(size, 1)

    def forward(self, x):
        return self.lin(x).squeeze(-1)


class LineTask(Task):
    """Fit y = x · w; the loss and its metric are the mean squared error."""

    def __init__(self, w: torch.Tensor):
        self.w = w

    def sample(self, batch_size, generator, device):
        x = torch.randn(batch_size, self.w.numel(), generator=generator)
        return x, x @ self.w

    def loss(self, model, batch):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        return loss, {"mse": loss.item()}
