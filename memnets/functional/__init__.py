"""Pure functions: the gate arithmetic, NTM addressing and memory access.

Nothing here owns parameters or state; modules in `memnets.nn` own the weights and
call these functions. Every function is importable as ``memnets.functional.<name>``.
"""

from memnets.functional.addressing import circular_shift, content_weights, interpolate, sharpen
from memnets.functional.gates import (
    ACTIVATIONS,
    LSTM_VARIANTS,
    gru_update,
    leaky_update,
    lstm_num_gates,
    lstm_update,
    rnn_update,
    tree_lstm_update,
)
from memnets.functional.memory import memory_read, memory_write

__all__ = [
    "ACTIVATIONS",
    "LSTM_VARIANTS",
    "gru_update",
    "leaky_update",
    "lstm_num_gates",
    "lstm_update",
    "rnn_update",
    "tree_lstm_update",
    "content_weights",
    "interpolate",
    "circular_shift",
    "sharpen",
    "memory_read",
    "memory_write",
]
