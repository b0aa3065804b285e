"""Tests of memnets.nn.trees.gru: on a chain, torch.nn.GRUCell."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from memnets.data.trees import chain_tree
from memnets.nn.trees import TreeGRU
from tests.nn.trees._trees import F_IN, HIDDEN


def _chain_equals_cell(cell: nn.Module, model: nn.Module) -> None:
    model.load_state_dict(cell.state_dict())
    x = torch.randn(9, F_IN)
    h, h_root = model(x, chain_tree(9))
    state = torch.zeros(1, HIDDEN)
    for t in range(9):
        state = cell(x[t : t + 1], state)
        torch.testing.assert_close(h[t], state[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_root[0], state[0], rtol=1e-5, atol=1e-6)


def test_chain_tree_gru_equals_torch_gru_cell():
    torch.manual_seed(0)
    _chain_equals_cell(nn.GRUCell(F_IN, HIDDEN), TreeGRU(F_IN, HIDDEN))


def test_tree_gru_without_bias():
    torch.manual_seed(0)
    _chain_equals_cell(nn.GRUCell(F_IN, HIDDEN, bias=False), TreeGRU(F_IN, HIDDEN, bias=False))
