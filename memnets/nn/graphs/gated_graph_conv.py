r"""The gated graph convolution of GGNN: typed, directed edges and a GRU node update."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from torch_geometric.nn.conv import MessagePassing

from memnets._checks import check_dtype, check_positive_int, check_shapes
from memnets.nn._init import uniform_
from memnets.nn.graphs._common import (
    check_aggr,
    check_edge_index,
    check_index_dtype,
    check_index_range,
    check_node_features,
    check_num_steps,
    pad_features,
)
from memnets.nn.graphs._gru import fused_gru_update
from memnets.nn.graphs._sparse import TypedAdjacency, csr_matmul, typed_adjacency
from memnets.nn.recurrent import GRUCell

__all__ = ["GatedGraphConv"]


class GatedGraphConv(MessagePassing):
    r"""Gated graph neural network (GGNN) propagation with typed edges and a GRU update.

    Li, Tarlow, Brockschmidt & Zemel (ICLR 2016), "Gated graph sequence neural networks",
    eqs. (1)-(6). Node states start as the input annotations padded with zeros, messages
    are a linear map of the sender's state chosen by the edge's type $k(u, v)$, summed
    over the incoming edges, and the node update is a GRU:

    $$h_v^{(0)} = [\,x_v^\top, \mathbf{0}\,]^\top,$$
    $$m_v^{(t)} = \sum_{(u \to v) \in E} e_{uv}\, W^{(t)\top}_{k(u, v)}\, h_u^{(t-1)},$$
    $$h_v^{(t)} = \mathrm{GRU}\big(m_v^{(t)}, h_v^{(t-1)}\big), \qquad t = 1, \dots, T.$$

    As in the paper the propagation weights are shared across the $T$ steps,
    $W^{(t)}_k = W_k$ (``share_weights=True``); ``share_weights=False`` gives every step
    its own, which is what ``torch_geometric.nn.GatedGraphConv`` does. A reverse edge is
    its own type (``add_reverse_edges=True`` appends, for every edge $u \to v$ of type
    $k$, the edge $v \to u$ of type $K + k$), so information can flow against the edge
    direction with different weights, as in the paper's $A = [A^{(out)}, A^{(in)}]$.
    $e_{uv}$ is the optional edge weight (1 by default). The paper's propagation bias
    $b$ would add $W_{ih} b$ to the GRU's input pre-activation, a constant the GRU's own
    bias $b_{ih}$ already holds, so it is left out (as torch_geometric does).

    The GRU is `memnets.GRUCell` (the shared gated core, equal to
    ``torch.nn.GRUCell``); its parameters are named as torch's, so
    ``load_state_dict(torch_geometric_layer.state_dict())`` works for a layer configured
    like torch_geometric's (one edge type, ``share_weights=False``): its ``weight`` of
    shape (T, C, C) is read as (T, 1, C, C).

    **Computation.** Each step transforms every node once per edge type, $h W_k$
    (|V|·K·C² multiply-adds), and then sums the transformed senders over the incoming
    edges. With ``aggr="add"`` or ``"mean"`` that sum is one sparse product with the
    V × (V·K) typed adjacency, built once per call in CSR form (and its transpose, for
    the backward pass) and reused by every step, so no |E| × C tensor is ever created.
    ``aggr="max"`` goes through torch_geometric's gather / scatter path. By default the
    GRU update is the fused one of ``memnets.nn.graphs._gru`` (``checkpoint_update``):
    it keeps only its inputs for the backward pass and recomputes the gates there with a
    hand-derived backward (equal to `memnets.GRUCell`'s gradients), which halves the
    memory a long propagation keeps; without gradients it runs in place.

    Args:
        out_channels: the state size C (the paper's D); input features are zero-padded
            to it, so F ≤ C.
        num_layers: the number of propagation steps T.
        aggr: ``"add"`` (the paper's sum; ``"sum"`` is accepted), ``"mean"`` or ``"max"``.
        bias: whether the GRU has biases.
        num_edge_types: the number of edge types K given in ``edge_type``.
        add_reverse_edges: add every edge reversed, with its own type (2K weight
            matrices in all).
        share_weights: one set of propagation weights for all steps (the paper), or one
            per step (torch_geometric).
        checkpoint_update: recompute the GRU update in the backward pass instead of
            storing its intermediate activations (two V × C tensors kept per step instead
            of about eight). Gradients are identical. Under ``torch.compile`` the
            recomputation is ``torch.utils.checkpoint`` of the cell.

    Shapes:
        x: (V, F) with F ≤ C; edge_index: (2, E), row 0 the sources, row 1 the targets;
        edge_weight: (E,); edge_type: (E,) integers in [0, K) (may be ``None`` when K = 1);
        output: (V, C). ``forward(x, edge_index, edge_weight=None, edge_type=None)`` takes
        its arguments in torch_geometric's order. Parameters: ``weight`` (S, K', C, C) with S = 1 (shared) or T and
        K' = K or 2K; ``rnn`` a `GRUCell` (C, C).

    Examples:
        >>> conv = GatedGraphConv(16, num_layers=3, num_edge_types=2)
        >>> x = torch.randn(5, 4)
        >>> edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
        >>> h = conv(x, edge_index, edge_type=torch.tensor([0, 1, 0, 1]))   # (5, 16)

    Inputs must have the dtype of the layer's parameters (``x`` and ``edge_weight``);
    another dtype raises ``ValueError`` naming both (convert with ``conv.double()`` or
    ``x.float()``).
    """

    def __init__(
        self,
        out_channels: int,
        num_layers: int,
        aggr: str = "add",
        bias: bool = True,
        *,
        num_edge_types: int = 1,
        add_reverse_edges: bool = False,
        share_weights: bool = True,
        checkpoint_update: bool = True,
    ) -> None:
        check_positive_int("GatedGraphConv", out_channels=out_channels, num_layers=num_layers,
                           num_edge_types=num_edge_types)
        super().__init__(aggr=check_aggr("GatedGraphConv", aggr))
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.num_edge_types = num_edge_types
        self.add_reverse_edges = add_reverse_edges
        self.share_weights = share_weights
        self.checkpoint_update = checkpoint_update
        weight_types = num_edge_types * (2 if add_reverse_edges else 1)
        weight_steps = 1 if share_weights else num_layers
        self.weight = nn.Parameter(torch.empty(weight_steps, weight_types, out_channels, out_channels))
        self.rnn = GRUCell(out_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights from $\\mathcal{U}(-1/\\sqrt{C}, 1/\\sqrt{C})$ (torch_geometric's ``uniform``), GRU as torch."""
        super().reset_parameters()
        uniform_(self, self.out_channels, recurse=False)  # the propagation weights; the GRU draws its own
        self.rnn.reset_parameters()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # torch_geometric stores its per-step weights as (T, C, C): one edge type.
        key = prefix + "weight"
        weight = state_dict.get(key)
        if isinstance(weight, Tensor) and weight.dim() == 3 and self.weight.size(1) == 1:
            state_dict[key] = weight.unsqueeze(1)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _typed_edges(
        self, edge_index: Tensor, edge_weight: Tensor | None, edge_type: Tensor | None, x: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        where = "GatedGraphConv"
        num_edges = check_edge_index(where, edge_index, x.size(0))
        if edge_weight is not None:
            check_shapes(where, edge_weight=(edge_weight, "E"), E=num_edges)
            check_dtype(where, self.weight.dtype, edge_weight=edge_weight)
        if edge_type is None:
            if self.num_edge_types > 1 and num_edges > 0:
                raise ValueError(f"{where}: expected edge_type of shape (E={num_edges},) for "
                                 f"num_edge_types={self.num_edge_types}, got None")
            edge_type = torch.zeros(num_edges, dtype=torch.long, device=edge_index.device)
        else:
            check_shapes(where, edge_type=(edge_type, "E"), E=num_edges)
            check_index_dtype(where, "edge_type", edge_type)
            check_index_range(where, "edge_type", edge_type, self.num_edge_types,
                              f"for num_edge_types={self.num_edge_types}")
            edge_type = edge_type.long()
        source, target = edge_index.long()
        if self.add_reverse_edges:
            source, target = torch.cat([source, target]), torch.cat([target, source])
            edge_type = torch.cat([edge_type, edge_type + self.num_edge_types])
            if edge_weight is not None:
                edge_weight = torch.cat([edge_weight, edge_weight])
        return source, target, edge_type, edge_weight

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        edge_type: Tensor | None = None,
        *,
        num_steps: int | None = None,
    ) -> Tensor:
        """Run T propagation steps from the annotations ``x``; return the final states.

        Args:
            x: node annotations (V, F), F ≤ C.
            edge_index: (2, E) sources and targets.
            edge_weight: (E,) multiplies each message (``None``: 1).
            edge_type: (E,) edge types in [0, K); ``None`` is type 0 (K = 1 only).
            num_steps: overrides T (shared weights only).

        Returns:
            The node states $h^{(T)}$, (V, C).

        Raises:
            ValueError: on a wrong shape, a dtype other than the parameters' (``x``,
                ``edge_weight``), a non-integer ``edge_index`` or ``edge_type``, an
                out-of-range node index or edge type, F > C, or ``num_steps`` with
                per-step weights.
            TypeError: ``num_steps`` is not an int.
        """
        where = "GatedGraphConv"
        num_nodes, _ = check_node_features(where, x, self.out_channels, self.weight.dtype)
        steps = check_num_steps(where, num_steps, self.num_layers)
        if not self.share_weights and steps != self.num_layers:
            raise ValueError(f"{where}: per-step weights allow exactly num_layers={self.num_layers} steps, "
                             f"got num_steps={steps}")
        source, target, edge_type, edge_weight = self._typed_edges(edge_index, edge_weight, edge_type, x)
        types = self.weight.size(1)
        slot = source * types + edge_type  # the typed sender u·K + k of every edge
        size = (num_nodes * types, num_nodes)

        adjacency: TypedAdjacency | None = None
        # The fused sparse product needs a CSR build (bincount, sort) that torch.compile cannot
        # trace without breaking the graph; compiled calls take the gather/scatter path.
        if self.aggr in ("add", "mean") and self.fuse and not self.explain and not torch.compiler.is_compiling():
            values = edge_weight
            if self.aggr == "mean":
                degree = torch.bincount(target, minlength=num_nodes).clamp_(min=1).to(x.dtype)
                values = (1.0 / degree)[target] if values is None else values / degree[target]
            adjacency = typed_adjacency(slot, target, size[0], size[1], values, dtype=x.dtype,
                                        with_transpose=torch.is_grad_enabled())
            edges = adjacency.matrix  # a torch.sparse tensor: propagate calls message_and_aggregate
        else:
            edges = torch.stack([slot, target])

        h = pad_features(x, self.out_channels)
        for step in range(steps):
            weight = self.weight[0 if self.share_weights else step]  # (K, C, C)
            if types == 1:
                transformed = h @ weight[0]
            else:
                transformed = rearrange(h @ rearrange(weight, "k i o -> i (k o)"), "v (k o) -> (v k) o", k=types)
            m = self.propagate(edges, x=transformed, edge_weight=edge_weight, adjacency=adjacency, size=size)
            h = self._update(m, h)
        return h

    def _update(self, m: Tensor, h: Tensor) -> Tensor:
        if torch.compiler.is_compiling():  # the composed cell traces; the fused function is for eager calls
            if self.checkpoint_update and torch.is_grad_enabled():
                return checkpoint(self.rnn, m, h, use_reentrant=False)
            return self.rnn(m, h)
        if self.checkpoint_update or not torch.is_grad_enabled():
            return fused_gru_update(self.rnn, m, h)
        return self.rnn(m, h)

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

    def message_and_aggregate(self, adj_t: Tensor, x: Tensor, adjacency: TypedAdjacency) -> Tensor:
        return csr_matmul(adjacency, x)

    def __repr__(self) -> str:
        extra = ""
        if self.num_edge_types != 1:
            extra += f", num_edge_types={self.num_edge_types}"
        if self.add_reverse_edges:
            extra += ", add_reverse_edges=True"
        if not self.share_weights:
            extra += ", share_weights=False"
        if self.aggr != "add":
            extra += f", aggr={self.aggr!r}"
        return f"{self.__class__.__name__}({self.out_channels}, num_layers={self.num_layers}{extra})"
