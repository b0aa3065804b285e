r"""Message-passing graph networks on the shared gated core.

The textbook's graph network (Goodfellow, Bengio & Courville; Gilmer et al. 2017):

$$m_v = \sum_{u \in N(v)} f(h_v, h_u, e_{uv}), \qquad h_v \leftarrow g(h_v, m_v),$$

then a readout over the nodes. Built on torch_geometric's ``MessagePassing``, with the
node update $g$ taken from the library's own gated cells (`memnets.GRUCell`,
`memnets.LSTMCell`), so graphs, trees and sequences share one core. One layer per file:

* `GatedGraphConv` (``gated_graph_conv``) -- GGNN (Li et al. 2016): typed, directed
  edges, GRU update.
* `MPNNConv` (``mpnn``) -- MLP messages of (receiver, sender, edge), sum/mean/max, GRU
  or LSTM.
* `TripletMPNNConv` (``triplet``) -- Triplet-GMPNN (Ibarz et al. 2022): gated
  max-aggregation messages and edge latents from node triples.
* Readouts: `GatedGraphReadout` (``readout_gated``: GGNN's gated sum),
  `GlobalPoolReadout` (``readout_pool``: sum/mean/max), `NodeSelectionReadout`
  (``readout_node_selection``: a softmax over each graph's nodes), `PointerReadout`
  (``readout_pointer``: a softmax over each node's incoming edges).

The task models built from them (`GraphPointerNet`, `GraphClassifier`,
`NodeSelectionGGNN`) live in `memnets.nn.models`.

Every layer computes in its parameters' dtype and refuses inputs of another dtype with
both named (``ValueError``), as torch.nn does.
"""

from memnets.nn.graphs._common import AGGREGATIONS
from memnets.nn.graphs.gated_graph_conv import GatedGraphConv
from memnets.nn.graphs.mpnn import MPNNConv
from memnets.nn.graphs.readout_gated import GatedGraphReadout
from memnets.nn.graphs.readout_node_selection import NodeSelectionReadout
from memnets.nn.graphs.readout_pointer import PointerReadout
from memnets.nn.graphs.readout_pool import GlobalPoolReadout
from memnets.nn.graphs.triplet import TripletMPNNConv

__all__ = [
    "AGGREGATIONS",
    "GatedGraphConv",
    "GatedGraphReadout",
    "GlobalPoolReadout",
    "MPNNConv",
    "NodeSelectionReadout",
    "PointerReadout",
    "TripletMPNNConv",
]
