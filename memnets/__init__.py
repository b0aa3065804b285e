"""memnets: memory-augmented and structured recurrent networks on one gated-update core.

The public names of the library are importable from here; the pure functions live in
`memnets.functional`.
"""

from memnets import functional
from memnets.nn.cells import GRUCell, LeakyRNNCell, LSTMCell, RNNCell
from memnets.nn.classic import NARX, TDNN, EchoStateNetwork, JordanRNN, MultiTimescaleRNN, SkipRNN
from memnets.nn.graphs import (
    GatedGraphConv,
    GatedGraphReadout,
    GlobalPoolReadout,
    GraphClassifier,
    GraphPointerNet,
    MPNNConv,
    NodeSelectionGGNN,
    NodeSelectionReadout,
    PointerReadout,
)
from memnets.nn.modes import EncoderDecoder, SequenceToSequence, SequenceToVector, VectorToSequence
from memnets.nn.ntm import NTM, NTMCell, NTMState
from memnets.nn.rnn import GRU, LSTM, RNN
from memnets.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNN, TreeGRU
from memnets.training.checkpoint import load

__version__ = "0.1.0"

__all__ = [
    "functional",
    "load",
    "NTM",
    "NTMCell",
    "NTMState",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "LeakyRNNCell",
    "RNN",
    "LSTM",
    "GRU",
    "EchoStateNetwork",
    "TDNN",
    "NARX",
    "JordanRNN",
    "SkipRNN",
    "MultiTimescaleRNN",
    "SequenceToVector",
    "SequenceToSequence",
    "EncoderDecoder",
    "VectorToSequence",
    "RecursiveNN",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
    "TreeGRU",
    "GatedGraphConv",
    "MPNNConv",
    "GatedGraphReadout",
    "GlobalPoolReadout",
    "NodeSelectionReadout",
    "PointerReadout",
    "GraphPointerNet",
    "GraphClassifier",
    "NodeSelectionGGNN",
    "__version__",
]
