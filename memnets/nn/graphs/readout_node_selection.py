r"""GGNN's node selection: a score per node, a softmax over the nodes of each graph."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from memnets.nn.graphs._common import (
    check_batch,
    check_readout_sizes,
    node_inputs,
    segment_argmax,
    segment_log_softmax,
)

__all__ = ["NodeSelectionReadout"]


class NodeSelectionReadout(nn.Module):
    r"""GGNN's node selection: a score per node, a softmax over the nodes of each graph.

    Li et al. (ICLR 2016), §3.4: $s_v = g(h_v^{(T)}, x_v)$ and
    $p(v \mid G) = \exp s_v / \sum_{v' \in G} \exp s_{v'}$, with $g$ a small MLP
    (one hidden ReLU layer of ``hidden`` units).

    Args:
        hidden_channels: the node state size H.
        in_channels: the annotation size F (0: states only).
        hidden: the MLP's hidden width (default H).

    ``forward`` returns the log-probabilities $\log p(v \mid G)$ of every node.

    Shapes:
        h: (V, H); x: (V, F); batch: (V,) (``None``: one graph) -> (V,). ``h`` and ``x``
        must have the parameters' dtype.

    Examples:
        >>> select = NodeSelectionReadout(16, 4)
        >>> log_p = select(torch.randn(5, 16), torch.randn(5, 4), torch.tensor([0, 0, 1, 1, 1]))
        >>> chosen = select.argmax(log_p, torch.tensor([0, 0, 1, 1, 1]))   # a node per graph
    """

    def __init__(self, hidden_channels: int, in_channels: int = 0, hidden: int | None = None) -> None:
        super().__init__()
        where = "NodeSelectionReadout"
        width = check_readout_sizes(where, hidden_channels, hidden, in_channels=in_channels)
        self.hidden_channels = hidden_channels
        self.in_channels = in_channels
        self.score = nn.Sequential(nn.Linear(hidden_channels + in_channels, width), nn.ReLU(), nn.Linear(width, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The MLP's layers as ``torch.nn.Linear``."""
        for layer in self.score:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def forward(self, h: Tensor, x: Tensor | None = None, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        """$\\log p(v \\mid G)$ of every node, (V,)."""
        where = "NodeSelectionReadout"
        z = node_inputs(where, h, x, self.hidden_channels, self.in_channels, self.score[0].weight.dtype)
        batch, num_graphs = check_batch(where, batch, z.size(0), num_graphs, z.device)
        return segment_log_softmax(self.score(z).squeeze(-1), batch, num_graphs)

    @staticmethod
    def argmax(log_p: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """The selected node (global index) of every graph; ties: the lowest index; -1 if empty."""
        batch, num_graphs = check_batch("NodeSelectionReadout", batch, log_p.size(0), num_graphs, log_p.device)
        nodes = torch.arange(log_p.size(0), device=log_p.device)
        return segment_argmax(log_p, batch, num_graphs, nodes)

    def extra_repr(self) -> str:
        return f"{self.hidden_channels}, {self.in_channels}"
