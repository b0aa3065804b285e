r"""Whole models for the graph tasks, loadable with `memnets.load`.

Each is an encode-process-decode network (Hamrick et al. 2018; Veličković et al. 2022):
node features are zero-padded into the state (GGNN's $h^{(0)}$), a processor runs $T$
message-passing steps with shared weights, and a readout produces the output. $T$ is
fixed, or -- ``num_steps=None`` -- the number of nodes of the largest graph in the
batch, enough for any BFS or Bellman-Ford (at most n − 1 rounds), so the same network
runs longer on larger graphs.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from memnets._checks import check_choice, check_int, check_positive_int
from memnets.nn.graphs import (
    GatedGraphConv,
    GatedGraphReadout,
    GlobalPoolReadout,
    MPNNConv,
    NodeSelectionReadout,
    PointerReadout,
    TripletMPNNConv,
)
from memnets.nn.registry import register_model

__all__ = ["PROCESSORS", "GraphClassifier", "GraphPointerNet", "NodeSelectionGGNN", "graph_steps"]

#: Processors of the task models.
PROCESSORS = ("mpnn", "ggnn", "triplet")


def graph_steps(data: Data, num_steps: int | None) -> int:
    """``num_steps``, or the node count of the largest graph in ``data`` when it is ``None``."""
    if num_steps is not None:
        return num_steps
    ptr = getattr(data, "ptr", None)
    if ptr is None:
        return int(data.num_nodes)
    return int((ptr[1:] - ptr[:-1]).max()) if ptr.numel() > 1 else 0


def _processor(kind: str, hidden: int, edge_dim: int, aggr: str, update: str, message_layers: int,
               node_attr_dim: int = 0) -> nn.Module:
    if kind == "mpnn":
        return MPNNConv(hidden, edge_dim=edge_dim, num_layers=1, aggr=aggr, update=update,
                        message_layers=message_layers, node_attr_dim=node_attr_dim)
    if kind == "ggnn":
        if node_attr_dim:
            raise ValueError("processor 'ggnn' sees its inputs only in h^(0); reinject_inputs needs 'mpnn'")
        if edge_dim:
            raise ValueError(f"processor 'ggnn' takes edge types, not edge features; got edge_dim={edge_dim}")
        if update != "gru":
            raise ValueError(f"processor 'ggnn' has a GRU update, got update={update!r}")
        return GatedGraphConv(hidden, 1, aggr=aggr, checkpoint_update=False)  # small graphs: speed over memory
    if kind == "triplet":
        if aggr != "max":
            raise ValueError(f"processor 'triplet' aggregates by max (Triplet-GMPNN), got aggr={aggr!r}")
        return TripletMPNNConv(hidden, edge_dim=edge_dim, num_layers=1, node_attr_dim=node_attr_dim)
    raise ValueError(f"expected processor to be one of {PROCESSORS}, got {kind!r}")


def _check_sizes(where: str, in_channels: int, hidden_channels: int, num_steps: int | None) -> None:
    check_positive_int(where, in_channels=in_channels, hidden_channels=hidden_channels)
    if num_steps is not None:
        check_int(where, minimum=0, num_steps=num_steps)
    if in_channels > hidden_channels:
        raise ValueError(f"{where}: expected in_channels <= hidden_channels={hidden_channels}, got {in_channels}")


def _graphs_of(data: Data) -> tuple[Tensor | None, int]:
    """The batch vector of ``data`` and its number of graphs (one graph without a batch vector)."""
    batch = getattr(data, "batch", None)
    return batch, (getattr(data, "num_graphs", 1) if batch is not None else 1)


def _process(processor: nn.Module, data: Data, steps: int) -> Tensor:
    if isinstance(processor, TripletMPNNConv):
        return processor(data.x, data.edge_index, getattr(data, "edge_attr", None) if processor.edge_dim else None,
                         data.x if processor.node_attr_dim else None, _graphs_of(data)[0], num_steps=steps)
    if isinstance(processor, MPNNConv):
        return processor(data.x, data.edge_index, getattr(data, "edge_attr", None) if processor.edge_dim else None,
                         data.x if processor.node_attr_dim else None, num_steps=steps)
    return processor(data.x, data.edge_index, num_steps=steps)


@register_model
class GraphPointerNet(nn.Module):
    r"""Processor + pointer head: for every node, a distribution over its candidates.

    For CLRS's predecessor tasks (BFS, Bellman-Ford): $T$ steps of `MPNNConv`
    (or `GatedGraphConv`) from the zero-padded node features, then
    `PointerReadout` of $[h_v, x_v]$ over every node's incoming edges
    (self-loops included in the data, so a node may point to itself).

    Args:
        in_channels: node feature size F (≤ ``hidden_channels``).
        edge_dim: edge feature size D.
        hidden_channels: state size C (torch_geometric's meaning: the node embedding;
            the width of the MPNN's message MLP is C too).
        processor: ``"mpnn"``, ``"ggnn"`` (no edge features) or ``"triplet"``
            (`TripletMPNNConv`, Triplet-GMPNN: its edge latents join the pointer head's
            edge features, as CLRS's decoders read them).
        aggr: the processor's aggregation (CLRS uses max; the triplet processor only max).
        update: ``"gru"`` or ``"lstm"`` (MPNN only; the triplet processor has its own gate).
        num_steps: fixed $T$, or ``None`` for the largest graph's node count.
        message_layers: linear layers of the MPNN's message MLP.
        reinject_inputs: the MPNN's messages also see the node features at every step
            (``node_attr``), not only through $h^{(0)}$.

    Shapes:
        ``forward(data)``: data.x (V, F), data.edge_index (2, E), data.edge_attr (E, D)
        -> log-probabilities (E,), normalised over the incoming edges of each node.

    Examples:
        >>> from memnets.data.graphs import bfs_graph
        >>> model = GraphPointerNet(2, edge_dim=1, hidden_channels=16)
        >>> parents = model.predict(bfs_graph(8, seed=0))   # (8,)
    """

    def __init__(self, in_channels: int, edge_dim: int = 0, hidden_channels: int = 64, processor: str = "mpnn",
                 aggr: str = "max", update: str = "gru", num_steps: int | None = None,
                 message_layers: int = 2, reinject_inputs: bool = False) -> None:
        super().__init__()
        _check_sizes("GraphPointerNet", in_channels, hidden_channels, num_steps)
        check_int("GraphPointerNet", minimum=0, edge_dim=edge_dim)
        self.num_steps = num_steps
        self.edge_dim = edge_dim
        self.processor = _processor(processor, hidden_channels, edge_dim, aggr, update, message_layers,
                                    in_channels if reinject_inputs else 0)
        self.triplet = isinstance(self.processor, TripletMPNNConv)
        self.pointer = PointerReadout(hidden_channels + in_channels, edge_dim + (hidden_channels if self.triplet else 0))

    def forward(self, data: Data, num_steps: int | None = None) -> Tensor:
        """Log-probabilities of every edge as its target's pointer; ``num_steps`` overrides $T$."""
        steps = graph_steps(data, self.num_steps if num_steps is None else num_steps)
        edge_attr = data.edge_attr if self.edge_dim else None
        if self.triplet:
            batch, _ = _graphs_of(data)
            node_attr = data.x if self.processor.node_attr_dim else None
            h, latents = self.processor(data.x, data.edge_index, edge_attr, node_attr, batch, num_steps=steps,
                                        return_edge_latents=True)
            edge_attr = latents if edge_attr is None else torch.cat([edge_attr, latents], dim=-1)
        else:
            h = _process(self.processor, data, steps)
        h = torch.cat([h, data.x], dim=-1)  # the pointer sees (h_v, x_v), as GGNN's readouts do
        return self.pointer(h, data.edge_index, edge_attr)

    @torch.no_grad()
    def predict(self, data: Data) -> Tensor:
        """The node each node points to (global indices), (V,)."""
        return PointerReadout.argmax(self(data), data.edge_index, data.num_nodes)


@register_model
class GraphClassifier(nn.Module):
    r"""Processor + graph-level readout + a linear layer: class logits per graph.

    Args:
        in_channels: node feature size F (≤ ``hidden_channels``).
        num_classes: number of classes.
        hidden_channels: state size C.
        processor: ``"ggnn"`` (default) or ``"mpnn"``.
        readout: ``"gated"`` (GGNN's eq. 7, `GatedGraphReadout`), ``"sum"``,
            ``"mean"`` or ``"max"`` (`GlobalPoolReadout`).
        readout_channels: size of the gated readout's $h_G$ (default C).
        aggr: the processor's aggregation.
        num_steps: fixed $T$, or ``None`` for the largest graph's node count.

    Shapes:
        ``forward(data)``: data.x (V, F), data.edge_index (2, E), data.batch (V,)
        -> logits (B, num_classes).

    Examples:
        >>> from memnets.data.graphs import connectivity_graph
        >>> model = GraphClassifier(1, 2, hidden_channels=16)
        >>> logits = model(connectivity_graph(8, seed=0))   # (1, 2)
    """

    def __init__(self, in_channels: int, num_classes: int, hidden_channels: int = 32, processor: str = "ggnn",
                 readout: str = "gated", readout_channels: int | None = None, aggr: str = "add",
                 num_steps: int | None = None) -> None:
        super().__init__()
        _check_sizes("GraphClassifier", in_channels, hidden_channels, num_steps)
        check_positive_int("GraphClassifier", num_classes=num_classes)
        check_choice("GraphClassifier", "readout", readout, ("gated", "sum", "mean", "max"))
        self.in_channels = in_channels
        self.num_steps = num_steps
        self.processor = _processor(processor, hidden_channels, 0, aggr, "gru", 2)
        if readout == "gated":
            width = hidden_channels if readout_channels is None else readout_channels
            self.readout = GatedGraphReadout(hidden_channels, in_channels, width)
        else:
            width = hidden_channels
            self.readout = GlobalPoolReadout(readout)
        self.classify = nn.Linear(width, num_classes)

    def forward(self, data: Data, num_steps: int | None = None) -> Tensor:
        """Class logits of every graph; ``num_steps`` overrides $T$."""
        h = _process(self.processor, data, graph_steps(data, self.num_steps if num_steps is None else num_steps))
        batch, num_graphs = _graphs_of(data)
        if isinstance(self.readout, GatedGraphReadout):
            h_g = self.readout(h, data.x, batch, num_graphs)
        else:
            h_g = self.readout(h, batch, num_graphs)
        return self.classify(h_g)


@register_model
class NodeSelectionGGNN(nn.Module):
    r"""GGNN with the node-selection output: a softmax over the nodes of each graph.

    Li et al. (ICLR 2016), §3.4 and §5.2: `GatedGraphConv` for $T$ steps from
    the annotations, then `NodeSelectionReadout` of the final states and the
    annotations. Run once per output step, with the annotations updated by the
    caller, it is the output of a GGS-NN.

    Args:
        in_channels: annotation size F.
        hidden_channels: state size C.
        num_steps: propagation steps $T$.
        num_edge_types: edge types K (``data.edge_type`` when K > 1).
        add_reverse_edges: reverse edges as their own types.

    Shapes:
        ``forward(data)``: data.x (V, F), data.edge_index (2, E), data.batch (V,)
        -> log-probabilities (V,), normalised over the nodes of each graph.

    Examples:
        >>> from memnets.data.graphs import shortest_path_graph, shortest_path_steps
        >>> model = NodeSelectionGGNN(4, hidden_channels=16)
        >>> log_p = model(shortest_path_steps(shortest_path_graph(seed=0))[0])   # (9,)
    """

    def __init__(self, in_channels: int, hidden_channels: int = 32, num_steps: int = 8, num_edge_types: int = 1,
                 add_reverse_edges: bool = False) -> None:
        super().__init__()
        _check_sizes("NodeSelectionGGNN", in_channels, hidden_channels, None)
        self.num_edge_types = num_edge_types
        self.conv = GatedGraphConv(hidden_channels, num_steps, num_edge_types=num_edge_types,
                                   add_reverse_edges=add_reverse_edges, checkpoint_update=False)
        self.select = NodeSelectionReadout(hidden_channels, in_channels)

    def forward(self, data: Data) -> Tensor:
        edge_type = getattr(data, "edge_type", None) if self.num_edge_types > 1 else None
        h = self.conv(data.x, data.edge_index, edge_type=edge_type)
        batch, num_graphs = _graphs_of(data)
        return self.select(h, data.x, batch, num_graphs)

    @torch.no_grad()
    def predict(self, data: Data) -> Tensor:
        """The selected node (global index) of every graph, (B,)."""
        batch, num_graphs = _graphs_of(data)
        return NodeSelectionReadout.argmax(self(data), batch, num_graphs)
