"""Tests of memnets.nn.trees.gru: on a chain, torch.nn.GRUCell."""

from __future__ import annotations

import torch
from torch import nn

from memnets.nn.trees import TreeGRU
from tests.nn.trees._trees import F_IN, HIDDEN, chain_equals_cell


def test_chain_tree_gru_equals_torch_gru_cell():
    torch.manual_seed(0)
    chain_equals_cell(nn.GRUCell(F_IN, HIDDEN), TreeGRU(F_IN, HIDDEN))


def test_tree_gru_without_bias():
    torch.manual_seed(0)
    chain_equals_cell(nn.GRUCell(F_IN, HIDDEN, bias=False), TreeGRU(F_IN, HIDDEN, bias=False))
