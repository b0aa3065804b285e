r"""Message-passing graph networks on the shared gated core.

The textbook's graph network (Goodfellow, Bengio & Courville; Gilmer et al. 2017):

$$m_v = \sum_{u \in N(v)} f(h_v, h_u, e_{uv}), \qquad h_v \leftarrow g(h_v, m_v),$$

then a readout over the nodes. Built on torch_geometric's ``MessagePassing``, with the
node update $g$ taken from the library's own gated cells (`memnets.GRUCell`,
`memnets.LSTMCell`), so graphs, trees and sequences share one core.

* `GatedGraphConv` -- GGNN (Li et al. 2016): typed, directed edges, GRU update.
* `MPNNConv` -- MLP messages of (receiver, sender, edge), sum/mean/max, GRU or LSTM.
* Readouts: `GatedGraphReadout` (GGNN's gated sum), `GlobalPoolReadout`
  (sum/mean/max), `NodeSelectionReadout` (a softmax over each graph's nodes),
  `PointerReadout` (a softmax over each node's incoming edges).
* Task models: `GraphPointerNet`, `GraphClassifier`, `NodeSelectionGGNN`.
"""

from memnets.nn.graphs.conv import GatedGraphConv
from memnets.nn.graphs.models import GraphClassifier, GraphPointerNet, NodeSelectionGGNN
from memnets.nn.graphs.mpnn import MPNNConv
from memnets.nn.graphs.readout import GatedGraphReadout, GlobalPoolReadout, NodeSelectionReadout, PointerReadout

__all__ = [
    "GatedGraphConv",
    "MPNNConv",
    "GatedGraphReadout",
    "GlobalPoolReadout",
    "NodeSelectionReadout",
    "PointerReadout",
    "GraphPointerNet",
    "GraphClassifier",
    "NodeSelectionGGNN",
]
