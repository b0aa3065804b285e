"""Modules that own parameters and call `memnets.functional`."""

from memnets.nn.cells import GRUCell, LeakyRNNCell, LSTMCell, RNNCell
from memnets.nn.classic import (
    NARX,
    TDNN,
    EchoStateNetwork,
    JordanRNN,
    MultiTimescaleRNN,
    SkipRNN,
    TimeDelayLayer,
    ridge_regression,
    spectral_radius,
)
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
from memnets.nn.modes import (
    EncoderDecoder,
    InputFeedback,
    SequenceToSequence,
    SequenceToVector,
    VectorToSequence,
    generate,
    teacher_forcing_probability,
    unroll,
)
from memnets.nn.ntm import NTM, NTMCell, NTMState
from memnets.nn.rnn import GRU, LSTM, RNN
from memnets.nn.trees import (
    ChildSumTreeLSTM,
    NaryTreeLSTM,
    RecursiveNN,
    SequenceClassifier,
    TreeClassifier,
    TreeGRU,
)
