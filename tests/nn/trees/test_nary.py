"""Tests of memnets.nn.trees.nary: the N-ary Tree-LSTM on chains and its arity."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import memnets
from memnets.data.trees import balanced_binary_tree, chain_tree, tree_from_string
from memnets.nn.trees import NaryTreeLSTM, collate_trees
from tests.nn.trees._trees import F_IN, HIDDEN, reference


@pytest.mark.parametrize("lstm_class", [nn.LSTM, memnets.LSTM], ids=["torch.nn.LSTM", "memnets.LSTM"])
def test_chain_nary1_equals_lstm(lstm_class):
    """N = 1 on a chain: the LSTM over the sequence, with the same weights."""
    torch.manual_seed(0)
    lengths = [1, 6, 11]
    lstm = lstm_class(F_IN, HIDDEN).double()
    tree_model = NaryTreeLSTM(F_IN, HIDDEN, arity=1).double()
    tree_model.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    batch = collate_trees([chain_tree(n) for n in lengths])
    x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64)
    h, (h_root, c_root) = tree_model(x, batch)
    start = 0
    for b, n in enumerate(lengths):
        out, (h_n, c_n) = lstm(x[start:start + n].unsqueeze(1))
        torch.testing.assert_close(h[start:start + n], out[:, 0])
        torch.testing.assert_close(h_root[b], h_n[0, 0])
        torch.testing.assert_close(c_root[b], c_n[0, 0])
        start += n


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
