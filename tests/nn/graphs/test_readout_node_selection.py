"""Tests of memnets.nn.graphs.readout_node_selection: a softmax over each graph's nodes (GGNN §3.4)."""

from __future__ import annotations

import pytest
import torch

from memnets.nn.graphs import NodeSelectionReadout
from tests.nn.graphs._graphs import readout_batch


def test_node_selection_is_a_softmax_per_graph_and_equivariant():
    h, x, batch, g = readout_batch()
    select = NodeSelectionReadout(5, 2).double()
    log_p = select(h, x, batch)
    sums = torch.zeros(3, dtype=torch.float64).index_add_(0, batch, log_p.exp())
    torch.testing.assert_close(sums, torch.ones(3, dtype=torch.float64))
    scores = select.score(torch.cat([h, x], 1)).squeeze(-1)  # the paper's s_v, normalised per graph
    for b in range(3):
        torch.testing.assert_close(log_p[batch == b], torch.log_softmax(scores[batch == b], 0))
    perm = torch.randperm(9, generator=g)
    torch.testing.assert_close(select(h[perm], x[perm], batch[perm]), log_p[perm])
    chosen = NodeSelectionReadout.argmax(log_p, batch)
    for b in range(3):
        nodes = (batch == b).nonzero().squeeze(1)
        assert int(chosen[b]) == int(nodes[log_p[nodes].argmax()])


def test_single_node_empty_graph_and_argmax_of_a_graph_without_nodes():
    select = NodeSelectionReadout(5)
    assert select(torch.randn(1, 5)).exp().item() == pytest.approx(1.0)
    assert select(torch.randn(0, 5), batch=torch.empty(0, dtype=torch.long)).shape == (0,)
    chosen = NodeSelectionReadout.argmax(torch.tensor([-0.5, -1.0]), torch.tensor([0, 0]), num_graphs=2)
    assert chosen.tolist() == [0, -1]


def test_node_selection_validation():
    select = NodeSelectionReadout(4, 2)
    with pytest.raises(ValueError, match="non-negative batch"):
        select(torch.randn(3, 4), torch.randn(3, 2), torch.tensor([0, -1, 0]))
    with pytest.raises(ValueError, match="non-negative batch"):
        NodeSelectionReadout.argmax(torch.randn(3), torch.tensor([-1, 0, 0]))
    with pytest.raises(ValueError, match="h of dtype torch.float32.*got torch.float64"):
        select(torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 2))
    with pytest.raises(ValueError, match="hidden_channels"):
        NodeSelectionReadout(0)
    with pytest.raises(ValueError, match="hidden"):
        NodeSelectionReadout(4, hidden=0)


def test_gradcheck_node_selection():
    h, x, batch, _ = readout_batch()
    h = h[:5].clone().requires_grad_()
    select = NodeSelectionReadout(5, 2).double()
    assert torch.autograd.gradcheck(lambda h: select(h, x[:5], batch[:5]), (h,))
