"""Tests of memnets.nn.trees.recursive: on a chain, torch.nn.RNNCell."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from memnets.nn.trees import RecursiveNN
from tests.nn.trees._trees import F_IN, HIDDEN, chain_equals_cell


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_chain_recursive_equals_torch_rnn_cell(nonlinearity):
    torch.manual_seed(0)
    chain_equals_cell(nn.RNNCell(F_IN, HIDDEN, nonlinearity=nonlinearity),
                       RecursiveNN(F_IN, HIDDEN, nonlinearity=nonlinearity))
