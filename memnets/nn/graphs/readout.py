r"""Readouts: from node states to one vector per graph, a node per graph, or a node per node."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter

from memnets._checks import check_shapes
from memnets.functional.gates import lstm_update
from memnets.nn.graphs._common import check_batch, check_edge_index, segment_argmax, segment_log_softmax

__all__ = ["GatedGraphReadout", "GlobalPoolReadout", "NodeSelectionReadout", "PointerReadout", "POOLINGS"]

#: Pooling reductions of `GlobalPoolReadout`, by name.
POOLINGS = ("sum", "mean", "max")


def _node_inputs(where: str, h: Tensor, x: Tensor | None, hidden: int, inputs: int) -> Tensor:
    dims = check_shapes(where, h=(h, "V H"), H=hidden)
    if inputs == 0:
        if x is not None:
            raise ValueError(f"{where}: got x but the readout was built with in_channels=0")
        return h
    if x is None:
        raise ValueError(f"{where}: expected x of shape (V={dims['V']}, F={inputs}), got None")
    check_shapes(where, x=(x, "V F"), V=dims["V"], F=inputs)
    return torch.cat([h, x.to(h.dtype)], dim=-1)


class GatedGraphReadout(nn.Module):
    r"""GGNN's graph-level readout: a gated sum over the nodes of each graph.

    Li et al. (ICLR 2016), eq. (7): with $i$ and $j$ linear maps of the final state and
    the input annotation of every node,

    $$h_G = \tanh\Big(\sum_{v \in G} \sigma\big(i(h_v^{(T)}, x_v)\big) \odot
            \tanh\big(j(h_v^{(T)}, x_v)\big)\Big).$$

    $\sigma(i) \odot \tanh(j)$ is the LSTM's gated input $i \odot g$ (a soft attention
    that decides which nodes matter); it is computed by the shared core,
    `memnets.functional.lstm_update` (``variant="no_forget"``) from a zero cell,
    whose new cell state is exactly that product.

    Args:
        hidden_channels: the node state size H.
        in_channels: the annotation size F (0: the readout sees only the states).
        out_channels: the size of $h_G$.

    Shapes:
        h: (V, H); x: (V, F); batch: (V,) graph of each node (``None``: one graph);
        output: (B, out_channels).

    Examples:
        >>> readout = GatedGraphReadout(16, 4, 8)
        >>> h_g = readout(torch.randn(5, 16), torch.randn(5, 4), torch.tensor([0, 0, 1, 1, 1]))  # (2, 8)
    """

    def __init__(self, hidden_channels: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.gate = nn.Linear(hidden_channels + in_channels, out_channels)  # i
        self.value = nn.Linear(hidden_channels + in_channels, out_channels)  # j

    def forward(self, h: Tensor, x: Tensor | None = None, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        where = "GatedGraphReadout"
        z = _node_inputs(where, h, x, self.hidden_channels, self.in_channels)
        batch, num_graphs = check_batch(where, batch, z.size(0), num_graphs, z.device)
        # lstm_update (no_forget) with c = 0: c' = sigma(a_i) * tanh(a_g); the output gate is unused.
        gates = torch.cat([self.gate(z), self.value(z), z.new_zeros(z.size(0), self.out_channels)], dim=-1)
        _, gated = lstm_update(gates, h.new_zeros(z.size(0), self.out_channels), variant="no_forget")
        return torch.tanh(scatter(gated, batch, 0, dim_size=num_graphs, reduce="sum"))

    def extra_repr(self) -> str:
        return f"{self.hidden_channels}, {self.in_channels}, {self.out_channels}"


class GlobalPoolReadout(nn.Module):
    r"""Sum, mean or max of the node states of each graph.

    $$h_G = \bigoplus_{v \in G} h_v, \qquad \bigoplus \in \{\textstyle\sum, \mathrm{mean}, \max\}$$

    (a graph without nodes gets zeros), as torch_geometric's ``global_*_pool``.

    Args:
        aggr: ``"sum"``, ``"mean"`` or ``"max"``.

    Shapes:
        h: (V, H); batch: (V,) (``None``: one graph); output: (B, H).

    Examples:
        >>> GlobalPoolReadout("max")(torch.randn(5, 3), torch.tensor([0, 0, 1, 1, 1])).shape
        torch.Size([2, 3])
    """

    def __init__(self, aggr: str = "sum") -> None:
        super().__init__()
        if aggr not in POOLINGS:
            raise ValueError(f"GlobalPoolReadout: expected aggr to be one of {POOLINGS}, got {aggr!r}")
        self.aggr = aggr

    def forward(self, h: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        check_shapes("GlobalPoolReadout", h=(h, "V H"))
        batch, num_graphs = check_batch("GlobalPoolReadout", batch, h.size(0), num_graphs, h.device)
        return scatter(h, batch, 0, dim_size=num_graphs, reduce=self.aggr)

    def extra_repr(self) -> str:
        return repr(self.aggr)


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
        h: (V, H); x: (V, F); batch: (V,) (``None``: one graph) -> (V,).

    Examples:
        >>> select = NodeSelectionReadout(16, 4)
        >>> log_p = select(torch.randn(5, 16), torch.randn(5, 4), torch.tensor([0, 0, 1, 1, 1]))
        >>> chosen = select.argmax(log_p, torch.tensor([0, 0, 1, 1, 1]))   # a node per graph
    """

    def __init__(self, hidden_channels: int, in_channels: int = 0, hidden: int | None = None) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.in_channels = in_channels
        width = hidden_channels if hidden is None else hidden
        self.score = nn.Sequential(nn.Linear(hidden_channels + in_channels, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, h: Tensor, x: Tensor | None = None, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        where = "NodeSelectionReadout"
        z = _node_inputs(where, h, x, self.hidden_channels, self.in_channels)
        batch, num_graphs = check_batch(where, batch, z.size(0), num_graphs, z.device)
        return segment_log_softmax(self.score(z).squeeze(-1), batch, num_graphs)

    @staticmethod
    def argmax(log_p: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """The selected node (global index) of every graph; ties: the lowest index; -1 if empty."""
        batch, num_graphs = check_batch("NodeSelectionReadout", batch, log_p.size(0), num_graphs, log_p.device)
        nodes = torch.arange(log_p.size(0), device=log_p.device)
        return segment_argmax(log_p, batch, num_graphs, nodes)


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
        h: (V, H); edge_index: (2, E); edge_attr: (E, D) -> (E,).

    Examples:
        >>> head = PointerReadout(8)
        >>> edge_index = torch.tensor([[0, 1, 0, 1], [0, 0, 1, 1]])   # self-loops and 0 <-> 1
        >>> h = torch.randn(2, 8)
        >>> pointer = head.argmax(head(h, edge_index), edge_index, 2)  # a node per node
    """

    def __init__(self, hidden_channels: int, edge_dim: int = 0, hidden: int | None = None) -> None:
        super().__init__()
        self.hidden_channels = hidden_channels
        self.edge_dim = edge_dim
        width = hidden_channels if hidden is None else hidden
        self.lin_receiver = nn.Linear(hidden_channels, width)
        self.lin_sender = nn.Linear(hidden_channels, width, bias=False)
        self.lin_edge = nn.Linear(edge_dim, width, bias=False) if edge_dim > 0 else None
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(width, 1))

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor | None = None) -> Tensor:
        where = "PointerReadout"
        check_shapes(where, h=(h, "V H"), H=self.hidden_channels)
        num_edges = check_edge_index(where, edge_index, h.size(0))
        sender, receiver = edge_index.long()
        pre = self.lin_receiver(h)[receiver] + self.lin_sender(h)[sender]
        if self.lin_edge is not None:
            if edge_attr is None:
                raise ValueError(f"{where}: expected edge_attr of shape (E={num_edges}, D={self.edge_dim}), got None")
            check_shapes(where, edge_attr=(edge_attr, "E D"), E=num_edges, D=self.edge_dim)
            pre = pre + self.lin_edge(edge_attr.to(h.dtype))
        return segment_log_softmax(self.out(pre).squeeze(-1), receiver, h.size(0))

    @staticmethod
    def argmax(log_p: Tensor, edge_index: Tensor, num_nodes: int) -> Tensor:
        """Each node's chosen candidate (ties: the lowest index; -1 for a node with no candidate)."""
        return segment_argmax(log_p, edge_index[1].long(), num_nodes, edge_index[0].long())
