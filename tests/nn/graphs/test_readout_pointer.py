"""Tests of memnets.nn.graphs.readout_pointer: a softmax over each node's incoming edges (CLRS pointers)."""

from __future__ import annotations

import pytest
import torch

from memnets.nn.graphs import PointerReadout
from tests.nn.graphs._graphs import (
    BAD_EDGE_INDICES,
    assert_bad_edge_index_raises,
    permute,
    random_graph,
)


def test_pointer_readout_normalises_over_incoming_edges_and_is_equivariant():
    _, edge_index, g = random_graph(num_nodes=6, num_edges=14)
    loops = torch.arange(6).repeat(2, 1)
    edge_index = torch.cat([edge_index, loops], 1)
    edge_attr = torch.randn(edge_index.size(1), 1, generator=g, dtype=torch.float64)
    h = torch.randn(6, 4, generator=g, dtype=torch.float64)
    head = PointerReadout(4, edge_dim=1).double()
    log_p = head(h, edge_index, edge_attr)
    sums = torch.zeros(6, dtype=torch.float64).index_add_(0, edge_index[1], log_p.exp())
    torch.testing.assert_close(sums, torch.ones(6, dtype=torch.float64))
    perm = torch.randperm(6, generator=g)
    h_p, edge_index_p = permute(h, edge_index, perm)
    torch.testing.assert_close(head(h_p, edge_index_p, edge_attr), log_p)  # edge e keeps its place
    chosen = PointerReadout.argmax(log_p, edge_index, 6)
    chosen_p = PointerReadout.argmax(log_p, edge_index_p, 6)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(6)
    torch.testing.assert_close(chosen_p[inv], inv[chosen])


def test_pointer_scores_are_the_mlp_of_receiver_sender_and_edge():
    _, edge_index, g = random_graph(num_nodes=4, num_edges=9)
    edge_attr = torch.randn(9, 2, generator=g, dtype=torch.float64)
    h = torch.randn(4, 3, generator=g, dtype=torch.float64)
    head = PointerReadout(3, edge_dim=2, hidden=5).double()
    log_p = head(h, edge_index, edge_attr)
    scores = torch.stack([head.out(head.lin_receiver(h[v]) + head.lin_sender(h[u]) + head.lin_edge(edge_attr[e]))[0]
                          for e, (u, v) in enumerate(edge_index.t().tolist())])
    for v in range(4):
        incoming = edge_index[1] == v
        if incoming.any():
            torch.testing.assert_close(log_p[incoming], torch.log_softmax(scores[incoming], 0))


def test_pointer_argmax_breaks_ties_by_lowest_index():
    edge_index = torch.tensor([[2, 0, 1, 1], [1, 1, 1, 0]])
    log_p = torch.tensor([0.0, 0.0, -1.0, 0.0])
    assert PointerReadout.argmax(log_p, edge_index, 3).tolist() == [1, 0, -1]


def test_empty_and_single_node_graphs():
    head = PointerReadout(4)
    assert head(torch.randn(0, 4), torch.empty(2, 0, dtype=torch.long)).shape == (0,)
    log_p = head(torch.randn(1, 4), torch.tensor([[0], [0]]))  # the node points to itself
    assert log_p.tolist() == [0.0]


@pytest.mark.parametrize("bad", BAD_EDGE_INDICES)
def test_bad_edge_index_raises(bad):
    assert_bad_edge_index_raises(PointerReadout(4), bad)


def test_pointer_validation_and_dtypes():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="edge_attr"):
        PointerReadout(4, edge_dim=1)(torch.randn(2, 4), edge_index)
    with pytest.raises(ValueError, match="edge_dim=0"):
        PointerReadout(4)(torch.randn(2, 4), edge_index, torch.ones(2, 1))
    with pytest.raises(ValueError, match="h of dtype torch.float32.*got torch.float64"):
        PointerReadout(4)(torch.randn(2, 4, dtype=torch.float64), edge_index)
    with pytest.raises(ValueError, match="edge_attr of dtype torch.float32.*got torch.int64"):
        PointerReadout(4, edge_dim=1)(torch.randn(2, 4), edge_index, torch.ones(2, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="edge_dim"):
        PointerReadout(4, edge_dim=-1)


def test_gradcheck_pointer():
    h = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 0], [1, 0, 1, 4, 3, 0]])
    head = PointerReadout(5).double()
    assert torch.autograd.gradcheck(lambda h: head(h, edge_index), (h,))
