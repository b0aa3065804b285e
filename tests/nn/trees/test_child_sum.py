"""Tests of memnets.nn.trees.child_sum: the Child-Sum Tree-LSTM on chains, and its leaves."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import memnets
from memnets.data.trees import tree_from_string
from memnets.functional.gates import tree_lstm_leaf_update, tree_lstm_update
from memnets.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, collate_trees
from tests.nn.trees._trees import F_IN, HIDDEN, chain_equals_lstm, reference


@pytest.mark.parametrize("lstm_class", [nn.LSTM, memnets.LSTM], ids=["torch.nn.LSTM", "memnets.LSTM"])
def test_chain_tree_lstm_equals_lstm(lstm_class):
    """One child per node: the Tree-LSTM is the LSTM over the sequence, with the same weights."""
    torch.manual_seed(0)
    chain_equals_lstm(lstm_class(F_IN, HIDDEN).double(), ChildSumTreeLSTM(F_IN, HIDDEN).double())


# ---------------------------------------------------------------- leaves: the empty child set


def test_leaf_update_is_the_tree_lstm_update_with_no_children():
    torch.manual_seed(0)
    gates = torch.randn(7, 3 * HIDDEN, dtype=torch.float64, requires_grad=True)
    none = torch.zeros(0, HIDDEN, dtype=torch.float64)
    h, c = tree_lstm_leaf_update(gates)
    h_ref, c_ref = tree_lstm_update(gates, none, none, torch.zeros(0, dtype=torch.long))
    torch.testing.assert_close(h, h_ref, rtol=0, atol=0)
    torch.testing.assert_close(c, c_ref, rtol=0, atol=0)
    i, u, o = gates.detach().chunk(3, dim=1)  # the equations: c = i * u, h = o * tanh(c)
    c_eq = torch.sigmoid(i) * torch.tanh(u)
    torch.testing.assert_close(c, c_eq)
    torch.testing.assert_close(h, torch.sigmoid(o) * torch.tanh(c_eq))
    assert torch.autograd.gradcheck(tree_lstm_leaf_update, (gates,), fast_mode=True)
    with pytest.raises(ValueError, match="width 3"):
        tree_lstm_leaf_update(torch.zeros(2, 7))


#: Every node's h (node order) of the forest ((1 (2 3) 4), 5) under the implementation
#: before the leaves' update was split out (leaves through tree_lstm_update with an
#: empty child set in the forget slot), weights drawn by reset_parameters after
#: torch.manual_seed(1), x = linspace(-1, 1) in float64; H = 4, F = 3.
PREVIOUS_H = {
    "childsum": [0.246786331485, -0.325901436242, 0.309659363588, -0.298810499802, 0.147737614407, -0.148030344861,
                 0.09545407297, -0.192070552396, 0.215986617249, -0.06369248387, 0.223363031618, -0.243985050917,
                 0.109523021731, -0.008250980511, 0.104337321754, -0.143560280158, 0.086848852784, 0.032755234138,
                 0.107884023973, -0.113844589195, 0.064105986, 0.053126795062, 0.110783057591, -0.080904199919,
                 0.043070838104, 0.057842873113, 0.113011227538, -0.045936971813],
    "nary": [-0.468098960095, 0.108304968742, 0.169534130184, -0.00226477377, -0.151506196594, -0.097198202538,
             0.082129219246, 0.016123710172, -0.358169589885, 0.12098475025, 0.156875679004, 0.104959733847,
             -0.165855354012, 0.043971938606, 0.094098242909, 0.098605673795, -0.162529906874, 0.076117776936,
             0.098694481272, 0.128196674526, -0.153336711378, 0.086193489928, 0.102348110712, 0.149775198284,
             -0.139723367676, 0.08192114014, 0.105069351534, 0.164288715278],
}


@pytest.mark.parametrize("name", sorted(PREVIOUS_H))
def test_outputs_equal_the_previous_implementation(name):
    model = ChildSumTreeLSTM(3, 4) if name == "childsum" else NaryTreeLSTM(3, 4, arity=3)
    model = model.double()
    torch.manual_seed(1)
    model.reset_parameters()
    batch = collate_trees([tree_from_string("(1 (2 3) 4)"), tree_from_string("5")])
    x = torch.linspace(-1, 1, batch.num_nodes * 3, dtype=torch.float64).reshape(batch.num_nodes, 3)
    h, _ = model(x, batch)
    expected = torch.tensor(PREVIOUS_H[name], dtype=torch.float64).reshape(batch.num_nodes, 4)
    torch.testing.assert_close(h, expected, rtol=0, atol=1e-11)


@pytest.mark.parametrize("model_class", [ChildSumTreeLSTM, lambda f, h: NaryTreeLSTM(f, h, arity=3)],
                         ids=["childsum", "nary"])
def test_leaves_equal_the_per_node_reference(model_class):
    """Leaves alone (a forest of single nodes) and leaves under parents: the per-node
    equations of the paper, where a leaf's cell is c = i * u."""
    torch.manual_seed(1)
    model = model_class(F_IN, HIDDEN).double()
    for forest in ([tree_from_string(str(d)) for d in range(4)], [tree_from_string("(1 (2 3) 4)")]):
        batch = collate_trees(forest)
        x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64)
        h, (h_root, c_root) = model(x, batch)
        h_ref, c_ref, roots = reference(model, x, batch)
        torch.testing.assert_close(h, h_ref)
        torch.testing.assert_close(c_root, c_ref[roots])


@pytest.mark.parametrize("parent", [[0, 3], [-1, 0]], ids=["past-the-end", "negative"])
def test_tree_lstm_update_refuses_a_parent_outside_the_level(parent):
    gates, child = torch.zeros(3, 3 * HIDDEN), torch.zeros(2, HIDDEN)
    with pytest.raises(ValueError, match=r"expected every parent in \[0, V=3\)"):
        tree_lstm_update(gates, child, child, torch.tensor(parent))
    with pytest.raises(ValueError, match="integer parent"):
        tree_lstm_update(gates, child, child, torch.tensor(parent, dtype=torch.float32))
