r"""GGNN's graph-level readout: a gated sum over the nodes of each graph."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from memnets._checks import check_int, check_positive_int
from memnets.nn.graphs._common import check_batch, node_inputs

__all__ = ["GatedGraphReadout"]


class GatedGraphReadout(nn.Module):
    r"""GGNN's graph-level readout: a gated sum over the nodes of each graph.

    Li et al. (ICLR 2016), eq. (7): with $i$ and $j$ linear maps of the final state and
    the input annotation of every node,

    $$h_G = \tanh\Big(\sum_{v \in G} \sigma\big(i(h_v^{(T)}, x_v)\big) \odot
            \tanh\big(j(h_v^{(T)}, x_v)\big)\Big).$$

    The sigmoid is a soft attention that decides which nodes matter for the graph-level
    output; the product is computed as written (it resembles the LSTM's gated input
    $i \odot g$, but it is not an LSTM step: there is no cell state and no output gate).

    Args:
        hidden_channels: the node state size H.
        in_channels: the annotation size F (0: the readout sees only the states).
        out_channels: the size of $h_G$.

    Shapes:
        h: (V, H); x: (V, F); batch: (V,) graph of each node (``None``: one graph);
        output: (B, out_channels). ``h`` and ``x`` must have the parameters' dtype.

    Examples:
        >>> readout = GatedGraphReadout(16, 4, 8)
        >>> h_g = readout(torch.randn(5, 16), torch.randn(5, 4), torch.tensor([0, 0, 1, 1, 1]))  # (2, 8)
    """

    def __init__(self, hidden_channels: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        check_positive_int("GatedGraphReadout", hidden_channels=hidden_channels, out_channels=out_channels)
        check_int("GatedGraphReadout", minimum=0, in_channels=in_channels)
        self.hidden_channels = hidden_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.gate = nn.Linear(hidden_channels + in_channels, out_channels)  # i
        self.value = nn.Linear(hidden_channels + in_channels, out_channels)  # j
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Both maps as ``torch.nn.Linear``."""
        self.gate.reset_parameters()
        self.value.reset_parameters()

    def forward(self, h: Tensor, x: Tensor | None = None, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        """$h_G$ of every graph, (B, out_channels); a graph without nodes gets zeros."""
        where = "GatedGraphReadout"
        z = node_inputs(where, h, x, self.hidden_channels, self.in_channels, self.gate.weight.dtype)
        batch, num_graphs = check_batch(where, batch, z.size(0), num_graphs, z.device)
        per_node = torch.sigmoid(self.gate(z)) * torch.tanh(self.value(z))
        return torch.tanh(scatter(per_node, batch, 0, dim_size=num_graphs, reduce="sum"))

    def extra_repr(self) -> str:
        return f"{self.hidden_channels}, {self.in_channels}, {self.out_channels}"
