r"""A pointer from every node to one of its candidates: a softmax over its incoming edges."""

from __future__ import annotations

from torch import Tensor, nn

from memnets._checks import check_dtype, check_shapes
from memnets.nn.graphs._common import (
    check_edge_index,
    check_features,
    check_readout_sizes,
    segment_argmax,
    segment_log_softmax,
)

__all__ = ["PointerReadout"]


class PointerReadout(nn.Module):
    r"""A pointer from every node to one of its candidates: a softmax over its incoming edges.

    The output of CLRS's pointer-valued tasks (Veličković et al. 2022, "The CLRS
    algorithmic reasoning benchmark"), such as a predecessor in BFS or Bellman-Ford: node
    $v$ points to a node $u$ among those with an edge $u \to v$ (add self-loops to let a
    node point to itself). With $f$ an MLP of $[h_v, h_u, e_{uv}]$,

    $$p(\pi_v = u) = \frac{\exp f(h_v, h_u, e_{uv})}{\sum_{u' \to v} \exp f(h_v, h_{u'}, e_{u'v})}.$$

    Args:
        hidden_channels: the node state size H.
        edge_dim: the number of edge features D (0: none).
        hidden: the MLP's hidden width (default H).

    ``forward`` returns the log-probability of every edge, normalised over the incoming
    edges of its target.

    Shapes:
        h: (V, H); edge_index: (2, E); edge_attr: (E, D) -> (E,). ``h`` and ``edge_attr``
        must have the parameters' dtype.

    Examples:
        >>> head = PointerReadout(8)
        >>> edge_index = torch.tensor([[0, 1, 0, 1], [0, 0, 1, 1]])   # self-loops and 0 <-> 1
        >>> h = torch.randn(2, 8)
        >>> pointer = head.argmax(head(h, edge_index), edge_index, 2)  # a node per node
    """

    def __init__(self, hidden_channels: int, edge_dim: int = 0, hidden: int | None = None) -> None:
        super().__init__()
        where = "PointerReadout"
        width = check_readout_sizes(where, hidden_channels, hidden, edge_dim=edge_dim)
        self.hidden_channels = hidden_channels
        self.edge_dim = edge_dim
        self.lin_receiver = nn.Linear(hidden_channels, width)
        self.lin_sender = nn.Linear(hidden_channels, width, bias=False)
        self.lin_edge = nn.Linear(edge_dim, width, bias=False) if edge_dim > 0 else None
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(width, 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every linear layer as ``torch.nn.Linear``."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        """The log-probability of every edge as its target's pointer, (E,)."""
        where = "PointerReadout"
        check_shapes(where, h=(h, "V H"), H=self.hidden_channels)
        dtype = self.lin_receiver.weight.dtype
        check_dtype(where, dtype, h=h)
        num_edges = check_edge_index(where, edge_index, h.size(0))
        sender, receiver = edge_index.long()
        pre = self.lin_receiver(h)[receiver] + self.lin_sender(h)[sender]
        edge_attr = check_features(where, "edge_attr", edge_attr, self.edge_dim, "E", num_edges, "edge_dim", dtype)
        if self.lin_edge is not None:
            pre = pre + self.lin_edge(edge_attr)
        return segment_log_softmax(self.out(pre).squeeze(-1), receiver, h.size(0))

    @staticmethod
    def argmax(log_p: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        """Each node's chosen candidate (ties: the lowest index; -1 for a node with no candidate)."""
        return segment_argmax(log_p, edge_index[1].long(), num_nodes, edge_index[0].long())

    def extra_repr(self) -> str:
        return f"{self.hidden_channels}, edge_dim={self.edge_dim}"
