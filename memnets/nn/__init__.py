"""Modules that own parameters and call `memnets.functional`, one folder per family.

- `memnets.nn.recurrent`: cells, RNN/LSTM/GRU, sequence wrappers, the classic toolkit;
- `memnets.nn.memory`: NTM and DNC;
- `memnets.nn.trees`: recursive and Tree-LSTM networks, batched level by level;
- `memnets.nn.graphs`: message-passing layers and readouts (needs torch_geometric);
- `memnets.nn.models`: task models built from the families.

This package imports nothing by itself, so that ``import memnets.nn.recurrent`` does not
pull in torch_geometric.
"""
