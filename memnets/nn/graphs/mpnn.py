r"""A general message-passing layer: an MLP message of (receiver, sender, edge) and a gated update."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint
from torch_geometric.nn.conv import MessagePassing

from memnets._checks import (
    check_choice,
    check_int,
    check_positive_int,
)
from memnets.nn.graphs._common import (
    check_aggr,
    check_edge_index,
    check_features,
    check_node_features,
    check_num_steps,
    pad_features,
)
from memnets.nn.graphs._gru import fused_gru_update
from memnets.nn.recurrent import GRUCell, LSTMCell

__all__ = ["NODE_UPDATES", "MPNNConv"]

#: Node updates of `MPNNConv`: the library's own gated cells.
NODE_UPDATES = {"gru": GRUCell, "lstm": LSTMCell}


class MPNNConv(MessagePassing):
    r"""Message passing with an MLP message function and a GRU or LSTM node update.

    The message-passing neural network of Gilmer et al. (ICML 2017), "Neural message
    passing for quantum chemistry", with the textbook's (Goodfellow, Bengio & Courville)
    general form: for $t = 1, \dots, T$,

    $$m_v^{(t)} = \bigoplus_{u \in N(v)} f\big(h_v^{(t-1)}, h_u^{(t-1)}, e_{uv}\big),
      \qquad h_v^{(t)} = g\big(h_v^{(t-1)}, m_v^{(t)}\big),$$

    with $\bigoplus$ a sum, mean or max over the incoming edges $u \to v$; $f$ an MLP of the
    concatenation $[h_v, h_u, e_{uv}]$,

    $$f = W_L\, \mathrm{ReLU}(\cdots \mathrm{ReLU}(W_1 [h_v; h_u; e_{uv}] + b_1) \cdots) + b_L$$

    (with ``node_attr_dim`` > 0, static node features $a$ join the states in every message,
    $f([h_v; a_v], [h_u; a_u], e_{uv})$: the inputs are seen at every step, as CLRS's
    processors see their encoded inputs);

    and $g$ the GRU (`memnets.GRUCell`) or the LSTM (`memnets.LSTMCell`,
    whose cell state starts at zero) of the shared gated core, with the message as
    input. States start as the input features padded with zeros, as in GGNN, and the
    weights are shared across the $T$ steps. $W_1$ is applied as
    $W_1^{v} h_v + W_1^{u} h_u + W_1^{e} e_{uv}$, the two node terms computed once per node
    rather than once per edge (the same function, |V|·C·H instead of |E|·C·H work).

    Args:
        channels: the state size C; input features are zero-padded to it.
        edge_dim: the number of edge features D (0: none).
        num_layers: the number of message-passing steps T.
        aggr: ``"add"`` (or ``"sum"``), ``"mean"`` or ``"max"``.
        update: ``"gru"`` or ``"lstm"``.
        message_channels: the MLP's hidden width H (default C). (The state size C is the
            ``hidden_channels`` of the task models, as in torch_geometric's models.)
        message_layers: the MLP's number of linear layers L (1: a linear message).
        checkpoint_update: recompute the node update in the backward pass instead of
            storing its intermediate activations (less memory, a little more time; the GRU
            through the fused update of ``memnets.nn.graphs._gru``, the LSTM through
            ``torch.utils.checkpoint``).
        node_attr_dim: the number of static node features A seen by every message (0: none).

    Shapes:
        x: (V, F) with F ≤ C; edge_index: (2, E), row 0 the senders u, row 1 the receivers
        v; edge_attr: (E, D); node_attr: (V, A); output: (V, C).

    Examples:
        >>> conv = MPNNConv(32, edge_dim=2, num_layers=4, aggr="max", update="lstm")
        >>> edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> h = conv(torch.randn(3, 5), edge_index, torch.rand(4, 2))   # (3, 32)
    """

    def __init__(
        self,
        channels: int,
        edge_dim: int = 0,
        num_layers: int = 1,
        aggr: str = "add",
        update: str = "gru",
        message_channels: int | None = None,
        message_layers: int = 2,
        checkpoint_update: bool = False,
        node_attr_dim: int = 0,
    ) -> None:
        where = "MPNNConv"
        check_positive_int(where, channels=channels, num_layers=num_layers, message_layers=message_layers)
        check_int(where, minimum=0, edge_dim=edge_dim, node_attr_dim=node_attr_dim)
        if message_channels is not None:
            check_positive_int(where, message_channels=message_channels)
        check_choice(where, "update", update, NODE_UPDATES)
        super().__init__(aggr=check_aggr(where, aggr))
        hidden = channels if message_channels is None else message_channels
        first = hidden if message_layers > 1 else channels
        self.channels = channels
        self.edge_dim = edge_dim
        self.node_attr_dim = node_attr_dim
        self.num_layers = num_layers
        self.update_kind = update
        self.message_channels = hidden
        self.message_layers = message_layers
        self.checkpoint_update = checkpoint_update
        self.lin_receiver = nn.Linear(channels + node_attr_dim, first)
        self.lin_sender = nn.Linear(channels + node_attr_dim, first, bias=False)
        self.lin_edge = nn.Linear(edge_dim, first, bias=False) if edge_dim > 0 else None
        layers: list[nn.Module] = []
        for i in range(message_layers - 1):
            layers += [nn.ReLU(), nn.Linear(hidden, channels if i == message_layers - 2 else hidden)]
        self.mlp = nn.Sequential(*layers)
        self.rnn = NODE_UPDATES[update](channels, channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Linear layers as ``torch.nn.Linear``, the cell as torch's."""
        super().reset_parameters()
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_attr: Tensor | None = None,
        node_attr: Tensor | None = None,
        *,
        num_steps: int | None = None,
    ) -> Tensor:
        """Run T message-passing steps from the features ``x``; return the final states.

        Args:
            x: node features (V, F), F ≤ C.
            edge_index: (2, E) senders and receivers.
            edge_attr: (E, D) edge features (required when D > 0).
            node_attr: (V, A) static node features (required when A > 0).
            num_steps: overrides T.

        Returns:
            The node states $h^{(T)}$, (V, C).

        Raises:
            ValueError: on a wrong shape, a dtype other than the parameters' (``x``,
                ``edge_attr``, ``node_attr``), a non-integer or out-of-range
                ``edge_index``, or F > C.
            TypeError: ``num_steps`` is not an int.
        """
        where = "MPNNConv"
        dtype = self.lin_receiver.weight.dtype
        num_nodes, _ = check_node_features(where, x, self.channels, dtype)
        num_edges = check_edge_index(where, edge_index, num_nodes)
        edge_attr = check_features(where, "edge_attr", edge_attr, self.edge_dim, "E", num_edges, "edge_dim", dtype)
        node_attr = check_features(where, "node_attr", node_attr, self.node_attr_dim, "V", num_nodes, "node_attr_dim",
                                   dtype)
        edge_term = self.lin_edge(edge_attr) if self.lin_edge is not None else None
        steps = check_num_steps(where, num_steps, self.num_layers)

        h = pad_features(x, self.channels)
        c = torch.zeros_like(h) if self.update_kind == "lstm" else None
        for _ in range(steps):
            z = h if node_attr is None else torch.cat([h, node_attr], dim=-1)
            m = self.propagate(edge_index, receiver=self.lin_receiver(z), sender=self.lin_sender(z),
                               edge_term=edge_term, size=(num_nodes, num_nodes))
            if self.update_kind == "lstm":
                h, c = self._update(m, (h, c))
            else:
                h = self._update(m, h)
        return h

    def _update(self, m: Tensor, state):
        if self.checkpoint_update and torch.is_grad_enabled():
            if self.update_kind == "gru" and not torch.compiler.is_compiling():
                return fused_gru_update(self.rnn, m, state)  # keeps m and h, recomputes the gates
            return checkpoint(self.rnn, m, state, use_reentrant=False)
        return self.rnn(m, state)

    def message(self, receiver_i: Tensor, sender_j: Tensor, edge_term: Tensor | None) -> Tensor:
        pre = receiver_i + sender_j
        if edge_term is not None:
            pre = pre + edge_term
        return self.mlp(pre)

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.channels}, edge_dim={self.edge_dim}, num_layers={self.num_layers}, "
                f"aggr={self.aggr!r}, update={self.update_kind!r})")
