"""Tests of memnets.nn.graphs.mpnn: MPNNConv against a slow loop from Gilmer et al. (2017),
symmetry, edge cases, input validation, dtypes and gradients."""

from __future__ import annotations

import pytest
import torch

from memnets.nn.graphs import MPNNConv
from memnets.nn.recurrent import GRUCell, LSTMCell
from tests.nn.graphs._graphs import (
    AGGRS,
    BAD_EDGE_INDICES,
    assert_bad_edge_index_raises,
    assert_empty_graph_works,
    assert_isolated_nodes_self_loops_and_a_single_node,
    assert_permutation_equivariant,
    cell_with_zero_messages,
    random_graph,
)


def _mpnn_loop(conv: MPNNConv, x, edge_index, edge_attr, steps, node_attr=None):
    """MPNN written node by node: f(h_v, h_u, e_uv) on the concatenation, then the cell."""
    channels = conv.channels
    first = torch.cat([conv.lin_receiver.weight, conv.lin_sender.weight]
                      + ([conv.lin_edge.weight] if conv.lin_edge is not None else []), dim=1)
    h = torch.cat([x, x.new_zeros(x.size(0), channels - x.size(1))], dim=1)
    c = torch.zeros_like(h)
    for _ in range(steps):
        messages = []
        for v in range(x.size(0)):
            incoming = []
            for e in range(edge_index.size(1)):
                u, target = int(edge_index[0, e]), int(edge_index[1, e])
                if target != v:
                    continue
                hv, hu = (h[v], h[u]) if node_attr is None else (torch.cat([h[v], node_attr[v]]),
                                                                   torch.cat([h[u], node_attr[u]]))
                z = torch.cat([hv, hu] + ([edge_attr[e]] if edge_attr is not None else []))
                incoming.append(conv.mlp(first @ z + conv.lin_receiver.bias))
            if not incoming:
                messages.append(h.new_zeros(channels))
            elif conv.aggr == "add":
                messages.append(torch.stack(incoming).sum(0))
            elif conv.aggr == "mean":
                messages.append(torch.stack(incoming).mean(0))
            else:
                messages.append(torch.stack(incoming).amax(0))
        m = torch.stack(messages)
        if conv.update_kind == "lstm":
            h, c = conv.rnn(m, (h, c))
        else:
            h = conv.rnn(m, h)
    return h


@pytest.mark.parametrize("aggr", AGGRS)
@pytest.mark.parametrize("update", ["gru", "lstm"])
def test_mpnn_matches_slow_loop(aggr, update):
    x, edge_index, g = random_graph(num_nodes=6, num_edges=14)
    edge_attr = torch.randn(14, 2, generator=g, dtype=torch.float64)
    conv = MPNNConv(5, edge_dim=2, num_layers=3, aggr=aggr, update=update, message_channels=7).double()
    assert isinstance(conv.rnn, GRUCell if update == "gru" else LSTMCell)
    assert conv.mlp[1].in_features == 7 and conv.rnn.hidden_size == 5  # message width 7, state size 5
    torch.testing.assert_close(conv(x, edge_index, edge_attr), _mpnn_loop(conv, x, edge_index, edge_attr, 3))


def test_mpnn_static_node_features_join_every_message():
    x, edge_index, g = random_graph(num_nodes=5, num_edges=9)
    node_attr = torch.randn(5, 2, generator=g, dtype=torch.float64)
    conv = MPNNConv(4, num_layers=3, aggr="max", node_attr_dim=2).double()
    torch.testing.assert_close(conv(x, edge_index, node_attr=node_attr),
                               _mpnn_loop(conv, x, edge_index, None, 3, node_attr))
    with pytest.raises(ValueError, match="node_attr"):
        conv(x, edge_index)
    with pytest.raises(ValueError, match="node_attr"):
        conv(x, edge_index, node_attr=node_attr[:4])
    with pytest.raises(ValueError, match="node_attr_dim=0"):
        MPNNConv(4)(x.float(), edge_index, node_attr=node_attr.float())


def test_mpnn_single_linear_message_and_no_edge_features():
    x, edge_index, _ = random_graph(num_nodes=5, num_edges=8)
    conv = MPNNConv(4, num_layers=2, message_layers=1).double()
    torch.testing.assert_close(conv(x, edge_index), _mpnn_loop(conv, x, edge_index, None, 2))


def test_reset_parameters_redraws_every_layer():
    conv = MPNNConv(4, edge_dim=2, num_layers=2, update="lstm")
    with torch.no_grad():
        for p in conv.parameters():
            p.fill_(3.0)
    conv.reset_parameters()
    assert all(p.abs().max() < 3.0 for p in conv.parameters())


# ---------------------------------------------------------------------------- symmetry and edge cases


@pytest.mark.parametrize("aggr, update", [("add", "gru"), ("max", "lstm"), ("mean", "gru")])
def test_mpnn_is_permutation_equivariant(aggr, update):
    conv = MPNNConv(6, edge_dim=2, num_layers=2, aggr=aggr, update=update).double()
    assert_permutation_equivariant(lambda x, e, t, a: conv(x, e, a))


@pytest.mark.parametrize("aggr, update", [("add", "gru"), ("max", "lstm")])
def test_no_edges_is_the_cell_with_zero_messages(aggr, update):
    layer = MPNNConv(4, num_layers=2, aggr=aggr, update=update)
    x = torch.randn(5, 3)
    torch.testing.assert_close(layer(x, torch.empty(2, 0, dtype=torch.long)), cell_with_zero_messages(layer, x, 2))


@pytest.mark.parametrize("aggr, update", [("add", "gru"), ("max", "lstm")])
def test_isolated_nodes_self_loops_and_a_single_node(aggr, update):
    assert_isolated_nodes_self_loops_and_a_single_node(MPNNConv(4, num_layers=2, aggr=aggr, update=update))


@pytest.mark.parametrize("aggr, update", [("add", "gru"), ("max", "lstm"), ("mean", "gru")])
def test_empty_graph(aggr, update):
    assert_empty_graph_works(MPNNConv(4, num_layers=2, aggr=aggr, update=update))


# ---------------------------------------------------------------------------- validation and dtypes


@pytest.mark.parametrize("bad", BAD_EDGE_INDICES)
def test_bad_edge_index_raises(bad):
    assert_bad_edge_index_raises(MPNNConv(4), bad)


def test_wrong_feature_sizes_raise():
    layer, edge_index = MPNNConv(4), torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match=r"F <= 4"):
        layer(torch.randn(3, 5), edge_index)
    with pytest.raises(ValueError, match="rank 2"):
        layer(torch.randn(3), edge_index)


def test_wrong_edge_attributes_and_arguments_raise():
    x, edge_index = torch.randn(3, 2), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="edge_attr"):
        MPNNConv(4, edge_dim=2)(x, edge_index)
    with pytest.raises(ValueError, match="edge_attr"):
        MPNNConv(4, edge_dim=2)(x, edge_index, torch.ones(2, 3))
    with pytest.raises(ValueError, match="edge_dim=0"):
        MPNNConv(4)(x, edge_index, torch.ones(2, 3))
    with pytest.raises(ValueError, match="update"):
        MPNNConv(4, update="rnn")
    with pytest.raises(ValueError, match="aggr"):
        MPNNConv(4, aggr="min")
    for bad in ({"channels": 0}, {"num_layers": 0}, {"message_layers": 0}, {"edge_dim": -1},
                {"node_attr_dim": -2}, {"message_channels": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            MPNNConv(**{"channels": 4, **bad})
    for bad in ({"channels": 4.0}, {"edge_dim": "2"}, {"message_channels": 2.5}):
        with pytest.raises(TypeError, match=next(iter(bad))):
            MPNNConv(**{"channels": 4, **bad})


@pytest.mark.parametrize("name", ["x", "edge_attr", "node_attr"])
@pytest.mark.parametrize("wrong", [torch.int64, torch.float64])
def test_inputs_of_another_dtype_than_the_parameters_are_refused_naming_both(name, wrong):
    """An int edge_attr is refused like an int edge_weight of GatedGraphConv (no silent cast)."""
    conv = MPNNConv(4, edge_dim=2, node_attr_dim=1)
    inputs = {"x": torch.randn(3, 2), "edge_attr": torch.rand(2, 2), "node_attr": torch.rand(3, 1)}
    inputs[name] = inputs[name].to(wrong)
    with pytest.raises(ValueError, match=rf"{name} of dtype torch.float32.*got {wrong}"):
        conv(inputs["x"], torch.tensor([[0, 1], [1, 2]]), inputs["edge_attr"], inputs["node_attr"])


def test_float64_layer_computes_in_float64():
    x, edge_index, g = random_graph(num_nodes=4, num_edges=6)
    out = MPNNConv(4, edge_dim=1).double()(x, edge_index, torch.rand(6, 1, generator=g, dtype=torch.float64))
    assert out.dtype == torch.float64


# ---------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("update", ["gru", "lstm"])
def test_gradcheck_mpnn(update):
    x, edge_index, g = random_graph(num_nodes=4, num_edges=7, features=2)
    edge_attr = torch.randn(7, 2, generator=g, dtype=torch.float64)
    conv = MPNNConv(3, edge_dim=2, num_layers=2, update=update, aggr="mean", checkpoint_update=True).double()
    inputs = (x.clone().requires_grad_(), edge_attr.clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda x, e: conv(x, edge_index, e), inputs)
