"""Tests of memnets.nn.graphs.triplet: TripletMPNNConv against a slow loop over nodes and node
triples written from Ibarz et al. (2022) and CLRS, permutation equivariance, batching, gradcheck
in float64, empty and one-node graphs, validation."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from memnets.nn.graphs import TripletMPNNConv
from tests.nn.graphs._graphs import (
    BAD_EDGE_INDICES,
    assert_bad_edge_index_raises,
    assert_empty_graph_works,
    permute,
    random_graph,
)


def _edge_feature(edge_index, edge_attr, u, v, dim, like):
    """e_uv: the summed features of the edges u -> v, zero when there is none (CLRS's dense features)."""
    total = like.new_zeros(dim)
    for e in range(edge_index.size(1)):
        if int(edge_index[0, e]) == u and int(edge_index[1, e]) == v:
            total = total + edge_attr[e]
    return total


def _slow(conv: TripletMPNNConv, x, edge_index, edge_attr, steps, node_attr=None, batch=None):
    """The layer written node by node and triple by triple from the paper's equations."""
    n, c = x.size(0), conv.channels
    batch = torch.zeros(n, dtype=torch.long) if batch is None else batch
    h = torch.cat([x, x.new_zeros(n, c - x.size(1))], 1)

    def z_of(h):
        return h if node_attr is None else torch.cat([h, node_attr], 1)

    z = z_of(h)
    for _ in range(steps):
        z = z_of(h)
        new = []
        for v in range(n):
            incoming = []
            for e in range(edge_index.size(1)):
                u, target = int(edge_index[0, e]), int(edge_index[1, e])
                if target != v:
                    continue
                pre = conv.lin_receiver(z[v]) + conv.lin_sender(z[u])
                if conv.lin_edge is not None:
                    pre = pre + conv.lin_edge(edge_attr[e])
                incoming.append(conv.message_mlp(pre))
            m = torch.stack(incoming).amax(0) if incoming else z.new_zeros(conv.message_channels)
            candidate = torch.relu(conv.out_z(z[v]) + conv.out_m(m))
            if conv.gated:
                g = torch.sigmoid(conv.gate_out(torch.relu(conv.gate_z(z[v]) + conv.gate_m(m))))
                new.append(g * candidate + (1 - g) * h[v])
            else:
                new.append(candidate)
        h = torch.stack(new)
    latents = []
    for e in range(edge_index.size(1)):
        u, v = int(edge_index[0, e]), int(edge_index[1, e])
        triples = []
        for k in range(n):
            if batch[k] != batch[u]:
                continue
            t = conv.tri_u(z[u]) + conv.tri_v(z[v]) + conv.tri_k(z[k])
            if conv.edge_dim:
                t = t + conv.tri_uv(edge_attr[e])
                t = t + conv.tri_uk(_edge_feature(edge_index, edge_attr, u, k, conv.edge_dim, x))
                t = t + conv.tri_kv(_edge_feature(edge_index, edge_attr, k, v, conv.edge_dim, x))
            triples.append(t)
        latents.append(torch.relu(conv.tri_out(torch.stack(triples).amax(0))))
    return h, torch.stack(latents) if latents else x.new_zeros(0, c)


@pytest.mark.parametrize("gated", [True, False])
@pytest.mark.parametrize("edge_dim", [0, 2])
def test_triplet_conv_matches_the_slow_loop(gated, edge_dim):
    x, edge_index, g = random_graph(num_nodes=6, num_edges=14)
    edge_attr = torch.randn(14, 2, generator=g, dtype=torch.float64) if edge_dim else None
    conv = TripletMPNNConv(5, edge_dim=edge_dim, num_layers=3, triplet_channels=4, message_channels=6,
                           gated=gated).double()
    h, latents = conv(x, edge_index, edge_attr, return_edge_latents=True)
    h_ref, latents_ref = _slow(conv, x, edge_index, edge_attr, 3)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(latents, latents_ref)


def test_static_node_features_and_batches_bound_the_third_node():
    graphs = []
    for seed in range(3):
        x, edge_index, g = random_graph(num_nodes=3 + seed, num_edges=5 + 2 * seed, seed=seed)
        graphs.append(Data(x=x, edge_index=edge_index, edge_attr=torch.rand(edge_index.size(1), 1, generator=g,
                                                                             dtype=torch.float64)))
    batch = Batch.from_data_list(graphs)
    node_attr = torch.randn(batch.num_nodes, 2, dtype=torch.float64)
    conv = TripletMPNNConv(4, edge_dim=1, num_layers=2, node_attr_dim=2).double()
    h, latents = conv(batch.x, batch.edge_index, batch.edge_attr, node_attr, batch.batch, return_edge_latents=True)
    h_ref, latents_ref = _slow(conv, batch.x, batch.edge_index, batch.edge_attr, 2, node_attr, batch.batch)
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(latents, latents_ref)
    offset = 0
    for i, data in enumerate(graphs):  # each graph alone gives the same
        nodes = slice(offset, offset + data.num_nodes)
        alone_h, alone_latents = conv(data.x, data.edge_index, data.edge_attr, node_attr[nodes],
                                      return_edge_latents=True)
        torch.testing.assert_close(h[nodes], alone_h)
        torch.testing.assert_close(latents[batch.batch[batch.edge_index[0]] == i], alone_latents)
        offset += data.num_nodes


def test_gate_starts_nearly_closed():
    conv = TripletMPNNConv(4)
    assert torch.all(conv.gate_out.bias == -3.0)
    conv.gate_out.bias.data.zero_()
    conv.reset_parameters()
    assert torch.all(conv.gate_out.bias == -3.0)


def test_triplet_conv_is_permutation_equivariant():
    x, edge_index, g = random_graph(num_nodes=7, num_edges=18)
    edge_attr = torch.randn(18, 2, generator=g, dtype=torch.float64)
    conv = TripletMPNNConv(5, edge_dim=2, num_layers=2).double()
    h, latents = conv(x, edge_index, edge_attr, return_edge_latents=True)
    perm = torch.randperm(7, generator=g)
    edge_perm = torch.randperm(18, generator=g)
    x_p, edge_index_p = permute(x, edge_index, perm)
    h_p, latents_p = conv(x_p, edge_index_p[:, edge_perm], edge_attr[edge_perm], return_edge_latents=True)
    torch.testing.assert_close(h_p, h[perm])
    torch.testing.assert_close(latents_p, latents[edge_perm])


def test_gradcheck_triplet_conv():
    x, edge_index, g = random_graph(num_nodes=4, num_edges=7, features=2)
    edge_attr = torch.randn(7, 1, generator=g, dtype=torch.float64, requires_grad=True)
    conv = TripletMPNNConv(3, edge_dim=1, num_layers=2, triplet_channels=2).double()
    x.requires_grad_()

    def run(x, e):
        h, latents = conv(x, edge_index, e, return_edge_latents=True)
        return h, latents

    assert torch.autograd.gradcheck(run, (x, edge_attr))


def test_empty_graph_and_one_node_graph():
    assert_empty_graph_works(TripletMPNNConv(4, num_layers=2))
    conv = TripletMPNNConv(4, num_layers=2)
    h, latents = conv(torch.randn(0, 2), torch.empty(2, 0, dtype=torch.long), return_edge_latents=True)
    assert h.shape == (0, 4) and latents.shape == (0, 4)
    h, latents = conv(torch.randn(1, 2), torch.tensor([[0], [0]]), return_edge_latents=True)
    assert h.shape == (1, 4) and latents.shape == (1, 4) and torch.isfinite(latents).all()
    h, latents = conv(torch.randn(1, 2), torch.empty(2, 0, dtype=torch.long), return_edge_latents=True)
    assert h.shape == (1, 4) and latents.shape == (0, 4)
    x = torch.randn(3, 2)
    torch.testing.assert_close(conv(x, torch.tensor([[0], [1]]), num_steps=0), torch.cat([x, x.new_zeros(3, 2)], 1))


@pytest.mark.parametrize("bad", BAD_EDGE_INDICES)
def test_bad_edge_index_raises(bad):
    assert_bad_edge_index_raises(TripletMPNNConv(4), bad)


def test_validation_and_dtypes():
    x, edge_index = torch.randn(3, 2), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="between graphs"):
        TripletMPNNConv(4)(x, edge_index, batch=torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match="edge_attr"):
        TripletMPNNConv(4, edge_dim=2)(x, edge_index)
    with pytest.raises(ValueError, match="edge_dim=0"):
        TripletMPNNConv(4)(x, edge_index, torch.ones(2, 2))
    with pytest.raises(ValueError, match="node_attr"):
        TripletMPNNConv(4, node_attr_dim=1)(x, edge_index)
    with pytest.raises(ValueError, match="x of dtype torch.float32.*got torch.float64"):
        TripletMPNNConv(4)(x.double(), edge_index)
    with pytest.raises(ValueError, match="edge_attr of dtype torch.float32.*got torch.int64"):
        TripletMPNNConv(4, edge_dim=1)(x, edge_index, torch.ones(2, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="triplet_channels"):
        TripletMPNNConv(4, triplet_channels=0)
    with pytest.raises(TypeError, match="channels"):
        TripletMPNNConv(4.0)
