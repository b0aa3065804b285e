"""Tests of memnets.nn.graphs.readout_gated: GGNN's gated sum against eq. (7) of Li et al. (2016)
and against the earlier formulation through the LSTM update, invariance, batching, validation."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import scatter

from memnets.functional.gates import lstm_update
from memnets.nn.graphs import GatedGraphReadout
from tests.nn.graphs._graphs import readout_batch


def test_gated_readout_matches_the_papers_formula():
    h, x, batch, _ = readout_batch()
    readout = GatedGraphReadout(5, 2, 4).double()
    z = torch.cat([h, x], 1)
    per_node = torch.sigmoid(readout.gate(z)) * torch.tanh(readout.value(z))
    expected = torch.tanh(torch.stack([per_node[batch == b].sum(0) for b in range(3)]))
    torch.testing.assert_close(readout(h, x, batch), expected)


def test_gated_readout_equals_its_earlier_formulation_through_the_lstm_update():
    """The readout once computed σ(i)·tanh(j) as the new cell of a no-forget LSTM step from a
    zero cell; the direct formula gives the same numbers (bit for bit in float64)."""
    h, x, batch, _ = readout_batch(seed=3)
    readout = GatedGraphReadout(5, 2, 4).double()
    z = torch.cat([h, x], 1)
    gates = torch.cat([readout.gate(z), readout.value(z), z.new_zeros(9, 4)], dim=-1)
    _, gated = lstm_update(gates, z.new_zeros(9, 4), variant="no_forget")
    earlier = torch.tanh(scatter(gated, batch, 0, dim_size=3, reduce="sum"))
    torch.testing.assert_close(readout(h, x, batch), earlier, rtol=0, atol=1e-15)


def test_gated_readout_is_permutation_invariant_and_batches_graphs():
    h, x, batch, g = readout_batch()
    readout = GatedGraphReadout(5, 2, 4).double()
    out = readout(h, x, batch)
    assert out.shape == (3, 4)
    perm = torch.randperm(9, generator=g)  # shuffles nodes across the batch order too
    torch.testing.assert_close(readout(h[perm], x[perm], batch[perm]), out)
    for graph in range(3):  # batching = running each graph alone
        mask = batch == graph
        torch.testing.assert_close(readout(h[mask], x[mask]), out[graph:graph + 1])


def test_gated_readout_states_only_single_node_and_empty_graphs():
    readout = GatedGraphReadout(5, 0, 3)
    assert readout(torch.randn(1, 5)).shape == (1, 3)
    empty = readout(torch.randn(0, 5), batch=torch.empty(0, dtype=torch.long), num_graphs=2)
    torch.testing.assert_close(empty, torch.zeros(2, 3))  # graphs without nodes: tanh(0)
    assert readout(torch.randn(0, 5), batch=torch.empty(0, dtype=torch.long)).shape == (0, 3)


def test_gated_readout_validation():
    readout = GatedGraphReadout(4, 2, 3)
    with pytest.raises(ValueError, match="x"):
        readout(torch.randn(3, 4))
    with pytest.raises(ValueError, match="in_channels=0"):
        GatedGraphReadout(4, 0, 3)(torch.randn(3, 4), torch.randn(3, 2))
    with pytest.raises(ValueError, match="batch"):
        readout(torch.randn(3, 4), torch.randn(3, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="non-negative batch"):
        readout(torch.randn(3, 4), torch.randn(3, 2), torch.tensor([0, -1, 1]))
    with pytest.raises(ValueError, match="batch entries in"):
        readout(torch.randn(3, 4), torch.randn(3, 2), torch.tensor([0, -1, 1]), num_graphs=2)
    with pytest.raises(ValueError, match="h of dtype torch.float32.*got torch.float64"):
        readout(torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 2))
    with pytest.raises(ValueError, match="x of dtype torch.float32.*got torch.int64"):
        readout(torch.randn(3, 4), torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="out_channels"):
        GatedGraphReadout(4, 2, 0)
    with pytest.raises(TypeError, match="in_channels"):
        GatedGraphReadout(4, 2.0, 3)


def test_gradcheck_gated_readout():
    h, x, batch, _ = readout_batch()
    h = h[:5].clone().requires_grad_()
    gated = GatedGraphReadout(5, 2, 3).double()
    assert torch.autograd.gradcheck(lambda h: gated(h, x[:5], batch[:5]), (h,))
