r"""The recurrent family: cells, sequence models, sequence wrappers and the classic toolkit.

* `cells` — one step of an Elman RNN, an LSTM (and its variants), a GRU and a
  leaky-integrator RNN, drop-in replacements for the ``torch.nn`` cells;
* `rnn` — stacked, bidirectional `RNN`, `LSTM`, `GRU`, drop-in replacements for
  ``torch.nn.RNN/LSTM/GRU``;
* `modes` — wrappers that give a recurrent layer each shape of Goodfellow et al. (2016),
  §10.2: `SequenceToVector`, `SequenceToSequence`, `EncoderDecoder`, `VectorToSequence`;
* `feedback` — the `OutputFeedback` protocol and `unroll`, which runs any such model with
  teacher forcing, free running or scheduled sampling;
* the classic architectures of the textbook chapters on recurrent networks (Goodfellow,
  Bengio & Courville 2016, ch. 10; Haykin 2009, ch. 15), one per module: `JordanRNN`
  (`jordan`, Jordan 1986), `EchoStateNetwork` (`esn`, Jaeger 2001), `TimeDelayLayer`
  and `TDNN` (`tdnn`, Waibel et al. 1989), `NARX` (`narx`, Lin, Horne, Tiňo & Giles
  1996), `SkipRNN` (`skip`) and `MultiTimescaleRNN` (`multiscale`).

Every model computes its pre-activations with its own weights and calls the gated-update
core (`memnets.functional.gates`) for the state update.
"""

from memnets.nn.recurrent.cells import GRUCell, LeakyRNNCell, LSTMCell, RNNCell
from memnets.nn.recurrent.esn import EchoStateNetwork, ridge_regression, spectral_radius
from memnets.nn.recurrent.feedback import InputFeedback, OutputFeedback, generate, teacher_forcing_probability, unroll
from memnets.nn.recurrent.jordan import JordanRNN
from memnets.nn.recurrent.modes import (
    EncoderDecoder,
    SequenceToSequence,
    SequenceToVector,
    VectorToSequence,
    pool_sequence,
    recurrent_layer,
)
from memnets.nn.recurrent.multiscale import MultiTimescaleRNN
from memnets.nn.recurrent.narx import NARX, NARXState
from memnets.nn.recurrent.rnn import GRU, LSTM, RNN
from memnets.nn.recurrent.skip import SkipRNN
from memnets.nn.recurrent.tdnn import TDNN, TimeDelayLayer

__all__ = [
    "RNNCell", "LSTMCell", "GRUCell", "LeakyRNNCell", "RNN", "LSTM", "GRU",
    "EchoStateNetwork", "TDNN", "NARX", "JordanRNN", "SkipRNN", "MultiTimescaleRNN",
    "SequenceToVector", "SequenceToSequence", "EncoderDecoder", "VectorToSequence",
    "TimeDelayLayer", "NARXState", "ridge_regression", "spectral_radius",
    "OutputFeedback", "InputFeedback", "unroll", "generate", "teacher_forcing_probability",
    "recurrent_layer", "pool_sequence",
]
