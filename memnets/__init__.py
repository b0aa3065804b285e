"""memnets: memory-augmented and structured recurrent networks on one gated-update core.

The public names of the library are importable from here; the pure functions live in
`memnets.functional`.

``import memnets`` imports torch and einops only: each family is imported the first time
one of its names is used (PEP 562), so an LSTM user never loads torch_geometric,
networkx or the training loop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from memnets import functional

__version__ = "0.2.0"

_RECURRENT = "memnets.nn.recurrent"
_MEMORY = "memnets.nn.memory"
_TREES = "memnets.nn.trees"
_GRAPHS = "memnets.nn.graphs"
_MODELS = "memnets.nn.models"

# public name -> the module that defines it (imported on first use)
_LAZY: dict[str, str] = {
    "load": "memnets.training.checkpoint",
    **dict.fromkeys(["NTM", "NTMCell", "NTMState", "DNC", "DNCCell", "DNCState"], _MEMORY),
    **dict.fromkeys(
        [
            "RNNCell", "LSTMCell", "GRUCell", "LeakyRNNCell", "RNN", "LSTM", "GRU",
            "EchoStateNetwork", "TDNN", "NARX", "JordanRNN", "SkipRNN", "MultiTimescaleRNN",
            "SequenceToVector", "SequenceToSequence", "EncoderDecoder", "VectorToSequence",
        ],
        _RECURRENT,
    ),
    **dict.fromkeys(["RecursiveNN", "ChildSumTreeLSTM", "NaryTreeLSTM", "TreeGRU"], _TREES),
    **dict.fromkeys(
        [
            "GatedGraphConv", "MPNNConv", "TripletMPNNConv", "GatedGraphReadout", "GlobalPoolReadout",
            "NodeSelectionReadout", "PointerReadout",
        ],
        _GRAPHS,
    ),
    **dict.fromkeys(["GraphPointerNet", "GraphClassifier", "NodeSelectionGGNN"], _MODELS),
}

__all__ = ["functional", "__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memnets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # static tools (type checkers, the docs' API pages) see the real names
    from memnets.nn.graphs import (
        GatedGraphConv,
        GatedGraphReadout,
        GlobalPoolReadout,
        MPNNConv,
        NodeSelectionReadout,
        PointerReadout,
        TripletMPNNConv,
    )
    from memnets.nn.memory import DNC, NTM, DNCCell, DNCState, NTMCell, NTMState
    from memnets.nn.models.graphs import GraphClassifier, GraphPointerNet, NodeSelectionGGNN
    from memnets.nn.recurrent import (
        GRU,
        LSTM,
        NARX,
        RNN,
        TDNN,
        EchoStateNetwork,
        EncoderDecoder,
        GRUCell,
        JordanRNN,
        LeakyRNNCell,
        LSTMCell,
        MultiTimescaleRNN,
        RNNCell,
        SequenceToSequence,
        SequenceToVector,
        SkipRNN,
        VectorToSequence,
    )
    from memnets.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNN, TreeGRU
    from memnets.training.checkpoint import load
