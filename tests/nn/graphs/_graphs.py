"""Shared helpers of the graph-layer tests: random graphs, relabelling, and the checks every
message-passing layer must pass (equivariance, no edges, empty and one-node graphs)."""

from __future__ import annotations

import pytest
import torch

AGGRS = ["add", "mean", "max"]
#: edge_index values every layer refuses: a node out of range, a negative id, one row, floats.
BAD_EDGE_INDICES = [torch.tensor([[0, 5], [1, 2]]), torch.tensor([[0, -1], [1, 2]]),
                    torch.tensor([0, 1]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])]


def assert_bad_edge_index_raises(layer, bad) -> None:
    """``layer`` on 5 nodes of 4 features refuses the edge_index ``bad``, naming it."""
    with pytest.raises(ValueError, match="edge_index"):
        layer(torch.randn(5, 4), bad)


def random_graph(num_nodes=7, num_edges=15, features=3, seed=0, dtype=torch.float64):
    """Node features, a random edge_index (self-loops and repeats included) and the generator."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, features, generator=g, dtype=dtype)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=g)
    return x, edge_index, g


def permute(x, edge_index, perm):
    """Relabel node i as inv[i]: x'[inv[i]] = x[i]; edges follow."""
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())
    return x[perm], inv[edge_index]


def readout_batch(seed=0):
    """Nine node states and annotations in three graphs (3, 4 and 2 nodes)."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(9, 5, generator=g, dtype=torch.float64)
    x = torch.randn(9, 2, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2])
    return h, x, batch, g


def assert_permutation_equivariant(run, num_edge_features=2):
    """``run(x, edge_index, edge_type, edge_attr)`` relabels with the nodes, whatever the edge order."""
    x, edge_index, g = random_graph(num_nodes=8, num_edges=20)
    edge_type = torch.randint(2, (20,), generator=g)
    edge_attr = torch.randn(20, num_edge_features, generator=g, dtype=torch.float64)
    perm = torch.randperm(8, generator=g)
    edge_perm = torch.randperm(20, generator=g)  # edge order must not matter either
    out = run(x, edge_index, edge_type, edge_attr)
    x_p, edge_index_p = permute(x, edge_index, perm)
    out_p = run(x_p, edge_index_p[:, edge_perm], edge_type[edge_perm], edge_attr[edge_perm])
    torch.testing.assert_close(out_p, out[perm])


def cell_with_zero_messages(layer, x, steps):
    """What a layer with a GRU or LSTM update returns when no node receives a message."""
    h = torch.cat([x, x.new_zeros(x.size(0), layer.rnn.hidden_size - x.size(1))], 1)
    lstm = getattr(layer, "update_kind", "gru") == "lstm"
    state = (h, torch.zeros_like(h)) if lstm else h
    for _ in range(steps):
        state = layer.rnn(torch.zeros_like(h), state)
    return state[0] if lstm else state


def assert_isolated_nodes_self_loops_and_a_single_node(layer):
    edge_index = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 0]])  # node 2 has a self-loop, nodes 3, 4 isolated
    out = layer(torch.randn(5, 2), edge_index)
    assert out.shape == (5, 4) and torch.isfinite(out).all()
    isolated = layer(torch.randn(5, 2), torch.tensor([[0], [1]]))
    assert torch.isfinite(isolated).all()
    single = layer(torch.randn(1, 2), torch.tensor([[0], [0]]))
    assert single.shape == (1, 4) and torch.isfinite(single).all()
    empty = layer(torch.randn(1, 2), torch.empty(2, 0, dtype=torch.long))
    assert empty.shape == (1, 4)


def assert_empty_graph_works(layer):
    """V = 0, E = 0: an empty output of the right width, and a backward pass that runs."""
    x = torch.randn(0, 2, requires_grad=True)
    out = layer(x, torch.empty(2, 0, dtype=torch.long))
    assert out.shape == (0, 4)
    out.sum().backward()
    assert x.grad.shape == (0, 2)
