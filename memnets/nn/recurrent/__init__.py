"""Recurrent cells, sequence models, sequence wrappers and the classic recurrent toolkit."""

from memnets.nn.cells import GRUCell, LeakyRNNCell, LSTMCell, RNNCell
from memnets.nn.classic import NARX, TDNN, EchoStateNetwork, JordanRNN, MultiTimescaleRNN, SkipRNN
from memnets.nn.modes import EncoderDecoder, SequenceToSequence, SequenceToVector, VectorToSequence
from memnets.nn.rnn import GRU, LSTM, RNN

__all__ = [
    "RNNCell", "LSTMCell", "GRUCell", "LeakyRNNCell", "RNN", "LSTM", "GRU",
    "EchoStateNetwork", "TDNN", "NARX", "JordanRNN", "SkipRNN", "MultiTimescaleRNN",
    "SequenceToVector", "SequenceToSequence", "EncoderDecoder", "VectorToSequence",
]
