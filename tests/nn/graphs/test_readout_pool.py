"""Tests of memnets.nn.graphs.readout_pool: GlobalPoolReadout against torch_geometric's pools,
invariance, batching, empty graphs and validation."""

from __future__ import annotations

import pytest
import torch
import torch_geometric.nn as pyg_nn

from memnets.nn.graphs import GlobalPoolReadout
from tests.nn.graphs._graphs import readout_batch

_REFERENCE = {"sum": pyg_nn.global_add_pool, "mean": pyg_nn.global_mean_pool, "max": pyg_nn.global_max_pool}


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
def test_pooling_matches_torch_geometric_is_permutation_invariant_and_batches_graphs(kind):
    h, _, batch, g = readout_batch()
    readout = GlobalPoolReadout(kind)
    out = readout(h, batch)
    torch.testing.assert_close(out, _REFERENCE[kind](h, batch))
    perm = torch.randperm(9, generator=g)
    torch.testing.assert_close(readout(h[perm], batch[perm]), out)
    for graph in range(3):
        mask = batch == graph
        torch.testing.assert_close(readout(h[mask]), out[graph:graph + 1])


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
def test_single_node_and_graphs_without_nodes_get_zeros(kind):
    h = torch.randn(1, 5)
    pooled = GlobalPoolReadout(kind)(h, torch.tensor([0]), num_graphs=2)  # graph 1 has no nodes
    torch.testing.assert_close(pooled[0], h[0])
    torch.testing.assert_close(pooled[1], torch.zeros(5))
    empty = GlobalPoolReadout(kind)(torch.randn(0, 5), torch.empty(0, dtype=torch.long), num_graphs=1)
    torch.testing.assert_close(empty, torch.zeros(1, 5))


def test_pool_validation():
    with pytest.raises(ValueError, match="batch"):
        GlobalPoolReadout()(torch.randn(3, 4), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="non-negative batch"):
        GlobalPoolReadout()(torch.randn(3, 4), torch.tensor([0, -1, 0]))
    with pytest.raises(ValueError, match=r"batch entries in \[0, 2\)"):
        GlobalPoolReadout()(torch.randn(3, 4), torch.tensor([0, 2, 0]), num_graphs=2)
    with pytest.raises(ValueError, match="integer batch"):
        GlobalPoolReadout()(torch.randn(3, 4), torch.tensor([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="floating-point"):
        GlobalPoolReadout()(torch.ones(3, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="aggr"):
        GlobalPoolReadout("min")
