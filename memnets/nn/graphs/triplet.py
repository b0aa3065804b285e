r"""Triplet-GMPNN: gated max-aggregation messages and edge latents from node triples (Ibarz et al. 2022)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.utils import to_dense_adj, to_dense_batch

from memnets._checks import check_int, check_positive_int
from memnets.functional.gates import leaky_update
from memnets.nn.graphs._common import (
    check_batch,
    check_edge_index,
    check_features,
    check_node_features,
    check_num_steps,
    pad_features,
)

__all__ = ["TripletMPNNConv"]

#: Initial bias of the gate's last layer: the gate starts nearly closed (σ(−3) ≈ 0.05), so a
#: step at first mostly keeps the previous state (Ibarz et al. 2022, §3.2).
GATE_BIAS_INIT = -3.0


class TripletMPNNConv(MessagePassing):
    r"""The Triplet-GMPNN processor: gated max-MPNN node updates and triplet edge latents.

    Ibarz, Kurin, Papamakarios, Nikiforou, Bennani, Csordás, Dudzik, Bošnjak, Vitvitskyi,
    Rubanova, Deac, Bevilacqua, Ganin, Blundell & Veličković (LoG 2022), "A Generalist
    Neural Algorithmic Learner", §3.2, with the message function of Veličković et al.
    (2022, CLRS). For $t = 1, \dots, T$, with $z_v = [h_v; a_v]$ the state and the
    static node features, and $e_{uv}$ the feature of the edge $u \to v$:

    $$m_v = \max_{u \to v} f_m\big(\mathrm{ReLU}(W_r z_v + W_s z_u + W_e e_{uv} + b)\big)$$

    ($f_m$ a two-layer MLP, ReLU between; a node without incoming edges gets $m_v = 0$),

    $$\hat h_v = \mathrm{ReLU}(O_z z_v + O_m m_v), \qquad
      g_v = \sigma\big(G_3\, \mathrm{ReLU}(G_z z_v + G_m m_v) + b_g\big), \qquad
      h_v \leftarrow g_v \odot \hat h_v + (1 - g_v) \odot h_v,$$

    the gated update being `memnets.functional.leaky_update` with the gate as its rate
    ($b_g$ starts at −3; ``gated=False`` takes $h_v \leftarrow \hat h_v$). Triplet
    reasoning gives every edge $u \to v$ a latent from the node triples $(u, v, k)$, $k$
    ranging over the nodes of its graph, reduced by a max over $k$:

    $$t_{uvk} = \psi_u z_u + \psi_v z_v + \psi_k z_k + \psi_{uv} e_{uv} + \psi_{uk} e_{uk}
      + \psi_{kv} e_{kv} + b_t, \qquad
      \varepsilon_{uv} = \mathrm{ReLU}\big(\phi\, \max_k t_{uvk} + b_\phi\big),$$

    where $e_{uk}$ is the feature of the edge $u \to k$ (summed over repeated edges) and
    zero where there is none -- the dense edge features of CLRS. As in CLRS the latents
    do not enter the node update: they are the edge features a decoder reads (a pointer
    head, say); ``return_edge_latents=True`` returns those of the last step (computed
    from the states that step read, $z^{(T-1)}$, or $z^{(0)}$ when $T = 0$). CLRS's graph
    features are left out (torch_geometric graphs carry none). The triplets cost
    $|E| \cdot N \cdot$ ``triplet_channels`` per step for graphs of at most $N$ nodes, and
    are computed only when asked for.

    Args:
        channels: the state size C; input features are zero-padded to it.
        edge_dim: the number of edge features D (0: none).
        num_layers: the number of steps T (weights shared across steps).
        triplet_channels: the width of $t_{uvk}$ (CLRS: 8).
        message_channels: the width of the message MLP (default C).
        node_attr_dim: the number of static node features A in $z$ (0: none).
        gated: the gated update (Triplet-**G**MPNN), or $h_v \leftarrow \hat h_v$.

    Shapes:
        x: (V, F) with F ≤ C; edge_index: (2, E), row 0 the senders u, row 1 the receivers
        v; edge_attr: (E, D); node_attr: (V, A); batch: (V,) (``None``: one graph);
        output: (V, C), and with ``return_edge_latents`` also (E, C). Inputs must have the
        parameters' dtype.

    Examples:
        >>> conv = TripletMPNNConv(16, edge_dim=1, num_layers=3)
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> h, latents = conv(torch.randn(3, 2), edge_index, torch.rand(4, 1), return_edge_latents=True)
    """

    def __init__(
        self,
        channels: int,
        edge_dim: int = 0,
        num_layers: int = 1,
        triplet_channels: int = 8,
        message_channels: int | None = None,
        node_attr_dim: int = 0,
        gated: bool = True,
    ) -> None:
        where = "TripletMPNNConv"
        check_positive_int(where, channels=channels, num_layers=num_layers, triplet_channels=triplet_channels)
        check_int(where, minimum=0, edge_dim=edge_dim, node_attr_dim=node_attr_dim)
        width = channels if message_channels is None else message_channels
        check_positive_int(where, message_channels=width)
        super().__init__(aggr="max")
        self.channels = channels
        self.edge_dim = edge_dim
        self.num_layers = num_layers
        self.triplet_channels = triplet_channels
        self.message_channels = width
        self.node_attr_dim = node_attr_dim
        self.gated = gated
        z_dim = channels + node_attr_dim
        # messages
        self.lin_receiver = nn.Linear(z_dim, width)
        self.lin_sender = nn.Linear(z_dim, width, bias=False)
        self.lin_edge = nn.Linear(edge_dim, width, bias=False) if edge_dim > 0 else None
        self.message_mlp = nn.Sequential(nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))
        # node update and gate
        self.out_z = nn.Linear(z_dim, channels)
        self.out_m = nn.Linear(width, channels, bias=False)
        self.gate_z = nn.Linear(z_dim, channels) if gated else None
        self.gate_m = nn.Linear(width, channels, bias=False) if gated else None
        self.gate_out = nn.Linear(channels, channels) if gated else None
        # triplets
        self.tri_u = nn.Linear(z_dim, triplet_channels)
        self.tri_v = nn.Linear(z_dim, triplet_channels, bias=False)
        self.tri_k = nn.Linear(z_dim, triplet_channels, bias=False)
        self.tri_uv = nn.Linear(edge_dim, triplet_channels, bias=False) if edge_dim > 0 else None
        self.tri_uk = nn.Linear(edge_dim, triplet_channels, bias=False) if edge_dim > 0 else None
        self.tri_kv = nn.Linear(edge_dim, triplet_channels, bias=False) if edge_dim > 0 else None
        self.tri_out = nn.Linear(triplet_channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Linear layers as ``torch.nn.Linear``; the gate's last bias at −3."""
        super().reset_parameters()
        for module in self.modules():
            if isinstance(module, nn.Linear):
                module.reset_parameters()
        if self.gate_out is not None:
            nn.init.constant_(self.gate_out.bias, GATE_BIAS_INIT)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        node_attr: Tensor | None = None,
        batch: Tensor | None = None,
        *,
        num_steps: int | None = None,
        return_edge_latents: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Run T steps from the features ``x``; return the states (and the edge latents).

        Args:
            x: node features (V, F), F ≤ C.
            edge_index: (2, E) senders and receivers.
            edge_attr: (E, D) edge features (required when D > 0).
            node_attr: (V, A) static node features (required when A > 0).
            batch: (V,) the graph of every node, which bounds the triplets' third node
                (``None``: one graph).
            num_steps: overrides T.
            return_edge_latents: also return $\\varepsilon_{uv}$ of every edge, (E, C).

        Raises:
            ValueError: a wrong shape, a dtype other than the parameters', an edge_index
                that is not integer, out of range or joins two graphs of ``batch``, F > C.
        """
        where = "TripletMPNNConv"
        dtype = self.out_z.weight.dtype
        num_nodes, _ = check_node_features(where, x, self.channels, dtype)
        num_edges = check_edge_index(where, edge_index, num_nodes)
        edge_attr = check_features(where, "edge_attr", edge_attr, self.edge_dim, "E", num_edges, "edge_dim", dtype)
        node_attr = check_features(where, "node_attr", node_attr, self.node_attr_dim, "V", num_nodes,
                                   "node_attr_dim", dtype)
        batch, num_graphs = check_batch(where, batch, num_nodes, None, x.device)
        if num_edges > 0 and not torch.compiler.is_compiling() and bool((batch[edge_index[0]] !=
                                                                           batch[edge_index[1]]).any()):
            raise ValueError(f"{where}: expected every edge inside one graph of batch, got an edge between graphs")
        steps = check_num_steps(where, num_steps, self.num_layers)
        edge_term = self.lin_edge(edge_attr) if self.lin_edge is not None else None

        h = pad_features(x, self.channels)
        z = self._z(h, node_attr)
        for _ in range(steps):
            z = self._z(h, node_attr)
            m = self.propagate(edge_index, receiver=self.lin_receiver(z), sender=self.lin_sender(z),
                               edge_term=edge_term, size=(num_nodes, num_nodes))
            pre = self.out_z(z) + self.out_m(m)
            if self.gated:
                gate = torch.sigmoid(self.gate_out(torch.relu(self.gate_z(z) + self.gate_m(m))))
                h = leaky_update(pre, h, gate, nonlinearity="relu")
            else:
                h = torch.relu(pre)
        if not return_edge_latents:
            return h
        return h, self.edge_latents(z, edge_index, edge_attr, batch, num_graphs)

    @staticmethod
    def _z(h: Tensor, node_attr: Tensor | None) -> Tensor:
        return h if node_attr is None else torch.cat([h, node_attr], dim=-1)

    def message(self, receiver_i: Tensor, sender_j: Tensor, edge_term: Tensor | None) -> Tensor:
        pre = receiver_i + sender_j
        if edge_term is not None:
            pre = pre + edge_term
        return self.message_mlp(pre)

    def edge_latents(self, z: Tensor, edge_index: Tensor, edge_attr: Tensor | None, batch: Tensor,
                     num_graphs: int) -> Tensor:
        r"""$\varepsilon_{uv}$ of every edge from the node representations ``z`` (V, C + A) -> (E, C)."""
        sender, receiver = edge_index.long()
        base = self.tri_u(z)[sender] + self.tri_v(z)[receiver]  # (E, T)
        if edge_index.size(1) == 0:
            return torch.relu(self.tri_out(base))  # (0, C)
        third, present = to_dense_batch(self.tri_k(z), batch, batch_size=num_graphs)  # (B, N, T), (B, N)
        first = torch.zeros(num_graphs + 1, dtype=torch.long, device=z.device)
        first[1:] = torch.bincount(batch, minlength=num_graphs).cumsum(0)
        graph = batch[sender]
        local_u, local_v = sender - first[graph], receiver - first[graph]
        t = base.unsqueeze(1) + third[graph]  # (E, N, T): k over the nodes of the edge's graph
        if self.tri_uv is not None:
            dense = to_dense_adj(edge_index, batch, edge_attr, batch_size=num_graphs,
                                 max_num_nodes=third.size(1))  # (B, N, N, D): e_uk, zero where no edge
            t = t + self.tri_uv(edge_attr).unsqueeze(1)
            t = t + self.tri_uk(dense[graph, local_u])  # e_{u k}, k along dim 1
            t = t + self.tri_kv(dense[graph, :, local_v])  # e_{k v}
        t = t.masked_fill(~present[graph].unsqueeze(-1), float("-inf"))
        return torch.relu(self.tri_out(t.amax(dim=1)))

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, edge_dim={self.edge_dim}, num_layers={self.num_layers}, "
                f"triplet_channels={self.triplet_channels}, gated={self.gated})")
