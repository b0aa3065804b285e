"""Tests of memnets.nn.trees.nary: the N-ary Tree-LSTM on chains and its arity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import memnets
from memnets.data.trees import balanced_binary_tree, tree_from_string
from memnets.nn.trees import NaryTreeLSTM
from tests.nn.trees._trees import F_IN, HIDDEN, chain_equals_lstm, reference


@pytest.mark.parametrize("lstm_class", [nn.LSTM, memnets.LSTM], ids=["torch.nn.LSTM", "memnets.LSTM"])
def test_chain_nary1_equals_lstm(lstm_class):
    """N = 1 on a chain: the LSTM over the sequence, with the same weights."""
    torch.manual_seed(0)
    chain_equals_lstm(lstm_class(F_IN, HIDDEN).double(), NaryTreeLSTM(F_IN, HIDDEN, arity=1).double())


def test_child_order_matters_and_slots_are_read():
    """Swapping the slots of two children changes the result (a - b is not b - a)."""
    torch.manual_seed(0)
    model = NaryTreeLSTM(F_IN, HIDDEN, arity=2).double()
    tree = balanced_binary_tree(2)
    x = torch.randn(3, F_IN, dtype=torch.float64)
    _, (h_root, _) = model(x, tree)
    swapped = tree.clone()
    swapped.child_slot = 1 - tree.child_slot
    _, (h_swapped, _) = model(x, swapped)
    assert not torch.allclose(h_root, h_swapped)
    h_ref, _, roots = reference(model, x, swapped)
    torch.testing.assert_close(h_swapped, h_ref[roots])


def test_too_many_children_for_the_arity():
    with pytest.raises(ValueError, match="arity=2"):
        NaryTreeLSTM(F_IN, HIDDEN, arity=2)(torch.zeros(4, F_IN), tree_from_string("(1 2 3)"))
