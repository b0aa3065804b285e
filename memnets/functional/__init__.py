"""Pure functions: the gate arithmetic, NTM addressing, memory access and DNC memory management.

Nothing here owns parameters or state; modules in `memnets.nn` own the weights and
call these functions. Every function is importable as ``memnets.functional.<name>``.
"""

from memnets.functional.addressing import circular_shift, content_weights, interpolate, sharpen
from memnets.functional.dnc import (
    allocation_weights,
    directional_weights,
    link_update,
    precedence_update,
    read_weighting,
    retention_vector,
    sparse_directional_weights,
    sparse_link_update,
    usage_update,
    write_weighting,
)
from memnets.functional.gates import (
    ACTIVATIONS,
    LSTM_VARIANTS,
    gru_update,
    leaky_update,
    lstm_num_gates,
    lstm_update,
    rnn_update,
    tree_lstm_leaf_update,
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
    "tree_lstm_leaf_update",
    "content_weights",
    "interpolate",
    "circular_shift",
    "sharpen",
    "memory_read",
    "memory_write",
    "retention_vector",
    "usage_update",
    "allocation_weights",
    "write_weighting",
    "precedence_update",
    "link_update",
    "directional_weights",
    "read_weighting",
    "sparse_link_update",
    "sparse_directional_weights",
]
