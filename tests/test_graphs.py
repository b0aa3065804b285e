"""Tests of memnets.nn.graphs: layers against torch_geometric and slow loops from the papers,
symmetry, edge cases, input validation and gradients."""

from __future__ import annotations

import pytest
import torch
import torch_geometric
from torch_geometric.data import Batch, Data

from memnets.nn.recurrent.cells import GRUCell, LSTMCell
from memnets.nn.graphs import (
    GatedGraphConv,
    GatedGraphReadout,
    GlobalPoolReadout,
    MPNNConv,
    NodeSelectionReadout,
    PointerReadout,
)

AGGRS = ["add", "mean", "max"]


def _graph(num_nodes=7, num_edges=15, features=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(num_nodes, features, generator=g, dtype=dtype)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=g)
    return x, edge_index, g


def _permute(x, edge_index, perm):
    """Relabel node i as inv[i]: x'[inv[i]] = x[i]; edges follow."""
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(perm.numel())
    return x[perm], inv[edge_index]


# ---------------------------------------------------------------------------- GatedGraphConv


@pytest.mark.parametrize("aggr", AGGRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gated_graph_conv_matches_torch_geometric(aggr, weighted):
    x, edge_index, g = _graph()
    edge_weight = torch.rand(edge_index.size(1), generator=g, dtype=torch.float64) if weighted else None
    ref = torch_geometric.nn.GatedGraphConv(8, num_layers=3, aggr=aggr).double()
    ours = GatedGraphConv(8, num_layers=3, aggr=aggr, share_weights=False).double()
    ours.load_state_dict(ref.state_dict())  # torch_geometric's (T, C, C) weight is read as (T, 1, C, C)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref, out_ours = ref(x_ref, edge_index, edge_weight), ours(x_ours, edge_index, edge_weight=edge_weight)
    torch.testing.assert_close(out_ours, out_ref)
    out_ref.square().sum().backward()
    out_ours.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad)
    torch.testing.assert_close(ours.weight.grad.squeeze(1), ref.weight.grad)
    torch.testing.assert_close(ours.rnn.weight_hh.grad, ref.rnn.weight_hh.grad)


def test_gated_graph_conv_uses_library_gru_and_torch_state_dict_names():
    conv = GatedGraphConv(6, 2)
    assert isinstance(conv.rnn, GRUCell)
    ref = torch_geometric.nn.GatedGraphConv(6, 2)
    assert set(conv.state_dict()) == set(ref.state_dict())
    assert conv.weight.shape == (1, 1, 6, 6)  # shared across steps, one edge type
    assert GatedGraphConv(6, 2, share_weights=False, num_edge_types=3, add_reverse_edges=True).weight.shape == (
        2, 6, 6, 6)
    assert "GatedGraphConv(6, num_layers=2" in repr(conv)


def _ggnn_loop(conv: GatedGraphConv, x, edge_index, edge_type, edge_weight, steps):
    """GGNN written edge by edge from Li et al. (2016), with torch.nn.GRUCell."""
    cell = torch.nn.GRUCell(conv.out_channels, conv.out_channels).to(x.dtype)
    cell.load_state_dict(conv.rnn.state_dict())
    num_nodes, channels = x.size(0), conv.out_channels
    h = torch.cat([x, x.new_zeros(num_nodes, channels - x.size(1))], dim=1)
    edges = [(int(u), int(v), int(k), float(w)) for (u, v), k, w in zip(edge_index.t(), edge_type, edge_weight)]
    if conv.add_reverse_edges:
        edges += [(v, u, k + conv.num_edge_types, w) for u, v, k, w in edges]
    for t in range(steps):
        weight = conv.weight[0 if conv.share_weights else t]
        messages = []
        for v in range(num_nodes):
            incoming = [w * (h[u] @ weight[k]) for u, target, k, w in edges if target == v]
            if conv.aggr == "add":
                messages.append(sum(incoming, h.new_zeros(channels)))
            elif conv.aggr == "mean":
                messages.append(sum(incoming, h.new_zeros(channels)) / max(len(incoming), 1))
            else:
                messages.append(torch.stack(incoming).amax(0) if incoming else h.new_zeros(channels))
        h = cell(torch.stack(messages), h)
    return h


@pytest.mark.parametrize("aggr", AGGRS)
@pytest.mark.parametrize("share_weights", [True, False])
def test_gated_graph_conv_typed_edges_match_slow_loop(aggr, share_weights):
    x, edge_index, g = _graph(num_nodes=6, num_edges=12)
    edge_type = torch.randint(3, (12,), generator=g)
    edge_weight = torch.rand(12, generator=g, dtype=torch.float64)
    conv = GatedGraphConv(5, 3, aggr=aggr, num_edge_types=3, add_reverse_edges=True,
                          share_weights=share_weights).double()
    out = conv(x, edge_index, edge_type, edge_weight)
    torch.testing.assert_close(out, _ggnn_loop(conv, x, edge_index, edge_type, edge_weight, 3))


@pytest.mark.parametrize("aggr", ["add", "mean"])
def test_fused_sparse_path_equals_gather_scatter_path(aggr):
    x, edge_index, g = _graph(num_nodes=9, num_edges=30)
    edge_type = torch.randint(2, (30,), generator=g)
    edge_weight = torch.rand(30, generator=g, dtype=torch.float64, requires_grad=True)
    conv = GatedGraphConv(6, 2, aggr=aggr, num_edge_types=2, add_reverse_edges=True).double()
    outs, grads = [], []
    for fuse in (True, False):
        conv.fuse = fuse
        edge_weight.grad = None
        out = conv(x, edge_index, edge_type, edge_weight)
        out.sum().backward()
        outs.append(out)
        grads.append(edge_weight.grad.clone())
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_checkpointed_update_gives_the_same_gradients():
    x, edge_index, _ = _graph()
    conv = GatedGraphConv(6, 3).double()
    grads = []
    for flag in (True, False):
        conv.checkpoint_update = flag
        conv.zero_grad()
        conv(x, edge_index).square().sum().backward()
        grads.append([p.grad.clone() for p in conv.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_num_steps_override_and_zero_steps():
    x, edge_index, _ = _graph()
    conv = GatedGraphConv(6, 2).double()
    torch.testing.assert_close(conv(x, edge_index, num_steps=4), conv(conv(x, edge_index), edge_index))
    torch.testing.assert_close(conv(x, edge_index, num_steps=0), torch.cat([x, x.new_zeros(7, 3)], 1))
    with pytest.raises(ValueError, match="per-step weights"):
        GatedGraphConv(6, 2, share_weights=False)(x.float(), edge_index, num_steps=3)


# ---------------------------------------------------------------------------- MPNNConv


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
    x, edge_index, g = _graph(num_nodes=6, num_edges=14)
    edge_attr = torch.randn(14, 2, generator=g, dtype=torch.float64)
    conv = MPNNConv(5, edge_dim=2, num_layers=3, aggr=aggr, update=update, hidden_channels=7).double()
    assert isinstance(conv.rnn, GRUCell if update == "gru" else LSTMCell)
    torch.testing.assert_close(conv(x, edge_index, edge_attr), _mpnn_loop(conv, x, edge_index, edge_attr, 3))


def test_mpnn_static_node_features_join_every_message():
    x, edge_index, g = _graph(num_nodes=5, num_edges=9)
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
    x, edge_index, _ = _graph(num_nodes=5, num_edges=8)
    conv = MPNNConv(4, num_layers=2, message_layers=1).double()
    torch.testing.assert_close(conv(x, edge_index), _mpnn_loop(conv, x, edge_index, None, 2))


# ---------------------------------------------------------------------------- symmetry


def _layers():
    return {
        "ggnn-typed": (GatedGraphConv(6, 3, num_edge_types=2, add_reverse_edges=True).double(), True, False),
        "ggnn-max": (GatedGraphConv(6, 2, aggr="max").double(), False, False),
        "ggnn-mean": (GatedGraphConv(6, 2, aggr="mean").double(), False, False),
        "mpnn-gru-add": (MPNNConv(6, edge_dim=2, num_layers=2).double(), False, True),
        "mpnn-lstm-max": (MPNNConv(6, edge_dim=2, num_layers=2, aggr="max", update="lstm").double(), False, True),
        "mpnn-gru-mean": (MPNNConv(6, edge_dim=2, num_layers=2, aggr="mean").double(), False, True),
    }


@pytest.mark.parametrize("name", list(_layers()))
def test_layers_are_permutation_equivariant(name):
    layer, typed, with_attr = _layers()[name]
    x, edge_index, g = _graph(num_nodes=8, num_edges=20)
    edge_type = torch.randint(2, (20,), generator=g)
    edge_attr = torch.randn(20, 2, generator=g, dtype=torch.float64)
    perm = torch.randperm(8, generator=g)
    edge_perm = torch.randperm(20, generator=g)  # edge order must not matter either

    def run(x, edge_index, edge_type, edge_attr):
        if typed:
            return layer(x, edge_index, edge_type)
        return layer(x, edge_index, edge_attr) if with_attr else layer(x, edge_index)

    out = run(x, edge_index, edge_type, edge_attr)
    x_p, edge_index_p = _permute(x, edge_index, perm)
    out_p = run(x_p, edge_index_p[:, edge_perm], edge_type[edge_perm], edge_attr[edge_perm])
    torch.testing.assert_close(out_p, out[perm])


def _readout_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(9, 5, generator=g, dtype=torch.float64)
    x = torch.randn(9, 2, generator=g, dtype=torch.float64)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2])
    return h, x, batch, g


@pytest.mark.parametrize("kind", ["gated", "sum", "mean", "max"])
def test_graph_readouts_are_permutation_invariant_and_batch_graphs(kind):
    h, x, batch, g = _readout_batch()
    if kind == "gated":
        readout = GatedGraphReadout(5, 2, 4).double()
        run = lambda h, x, b, n=None: readout(h, x, b, n)  # noqa: E731
    else:
        readout = GlobalPoolReadout(kind)
        run = lambda h, x, b, n=None: readout(h, b, n)  # noqa: E731
    out = run(h, x, batch)
    assert out.shape[0] == 3
    perm = torch.randperm(9, generator=g)  # shuffles nodes across the batch order too
    torch.testing.assert_close(run(h[perm], x[perm], batch[perm]), out)
    for graph in range(3):  # batching = running each graph alone
        mask = batch == graph
        torch.testing.assert_close(run(h[mask], x[mask], None), out[graph:graph + 1])


def test_gated_readout_matches_the_papers_formula():
    h, x, batch, _ = _readout_batch()
    readout = GatedGraphReadout(5, 2, 4).double()
    z = torch.cat([h, x], 1)
    per_node = torch.sigmoid(readout.gate(z)) * torch.tanh(readout.value(z))
    expected = torch.tanh(torch.stack([per_node[batch == b].sum(0) for b in range(3)]))
    torch.testing.assert_close(readout(h, x, batch), expected)


def test_node_selection_is_a_softmax_per_graph_and_equivariant():
    h, x, batch, g = _readout_batch()
    select = NodeSelectionReadout(5, 2).double()
    log_p = select(h, x, batch)
    sums = torch.zeros(3, dtype=torch.float64).index_add_(0, batch, log_p.exp())
    torch.testing.assert_close(sums, torch.ones(3, dtype=torch.float64))
    perm = torch.randperm(9, generator=g)
    torch.testing.assert_close(select(h[perm], x[perm], batch[perm]), log_p[perm])
    chosen = NodeSelectionReadout.argmax(log_p, batch)
    for b in range(3):
        nodes = (batch == b).nonzero().squeeze(1)
        assert int(chosen[b]) == int(nodes[log_p[nodes].argmax()])


def test_pointer_readout_normalises_over_incoming_edges_and_is_equivariant():
    x, edge_index, g = _graph(num_nodes=6, num_edges=14)
    loops = torch.arange(6).repeat(2, 1)
    edge_index = torch.cat([edge_index, loops], 1)
    edge_attr = torch.randn(edge_index.size(1), 1, generator=g, dtype=torch.float64)
    h = torch.randn(6, 4, generator=g, dtype=torch.float64)
    head = PointerReadout(4, edge_dim=1).double()
    log_p = head(h, edge_index, edge_attr)
    sums = torch.zeros(6, dtype=torch.float64).index_add_(0, edge_index[1], log_p.exp())
    torch.testing.assert_close(sums, torch.ones(6, dtype=torch.float64))
    perm = torch.randperm(6, generator=g)
    h_p, edge_index_p = _permute(h, edge_index, perm)
    torch.testing.assert_close(head(h_p, edge_index_p, edge_attr), log_p)  # edge e keeps its place
    chosen = PointerReadout.argmax(log_p, edge_index, 6)
    chosen_p = PointerReadout.argmax(log_p, edge_index_p, 6)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(6)
    torch.testing.assert_close(chosen_p[inv], inv[chosen])


def test_pointer_argmax_breaks_ties_by_lowest_index():
    edge_index = torch.tensor([[2, 0, 1, 1], [1, 1, 1, 0]])
    log_p = torch.tensor([0.0, 0.0, -1.0, 0.0])
    assert PointerReadout.argmax(log_p, edge_index, 3).tolist() == [1, 0, -1]


# ---------------------------------------------------------------------------- edge cases


def _all_layers():
    return [GatedGraphConv(4, 2), GatedGraphConv(4, 2, aggr="max"), GatedGraphConv(4, 2, aggr="mean"),
            MPNNConv(4, num_layers=2), MPNNConv(4, num_layers=2, aggr="max", update="lstm")]


@pytest.mark.parametrize("layer", _all_layers(), ids=repr)
def test_no_edges_is_the_cell_with_zero_messages(layer):
    x = torch.randn(5, 3)
    out = layer(x, torch.empty(2, 0, dtype=torch.long))
    h = torch.cat([x, torch.zeros(5, 1)], 1)
    if isinstance(layer, MPNNConv) and layer.update_kind == "lstm":
        state = (h, torch.zeros_like(h))
        for _ in range(2):
            state = layer.rnn(torch.zeros_like(h), state)
        expected = state[0]
    else:
        expected = h
        for _ in range(2):
            expected = layer.rnn(torch.zeros_like(h), expected)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("layer", _all_layers(), ids=repr)
def test_isolated_nodes_self_loops_and_a_single_node(layer):
    edge_index = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 0]])  # node 2 has a self-loop, nodes 3, 4 isolated
    out = layer(torch.randn(5, 2), edge_index)
    assert out.shape == (5, 4) and torch.isfinite(out).all()
    isolated = layer(torch.randn(5, 2), torch.tensor([[0], [1]]))
    assert torch.isfinite(isolated).all()
    single = layer(torch.randn(1, 2), torch.tensor([[0], [0]]))
    assert single.shape == (1, 4) and torch.isfinite(single).all()
    empty = layer(torch.randn(1, 2), torch.empty(2, 0, dtype=torch.long))
    assert empty.shape == (1, 4)


def test_readouts_on_a_single_node_and_an_empty_graph_slot():
    h, x = torch.randn(1, 5), torch.randn(1, 2)
    assert GatedGraphReadout(5, 2, 3)(h, x).shape == (1, 3)
    batch = torch.tensor([0])
    for kind in ("sum", "mean", "max"):
        pooled = GlobalPoolReadout(kind)(h, batch, num_graphs=2)  # graph 1 has no nodes
        torch.testing.assert_close(pooled[1], torch.zeros(5))
    assert NodeSelectionReadout(5)(h).exp().item() == pytest.approx(1.0)


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", [torch.tensor([[0, 5], [1, 2]]), torch.tensor([[0, -1], [1, 2]]),
                                 torch.tensor([0, 1]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])])
@pytest.mark.parametrize("layer", [GatedGraphConv(4, 1), MPNNConv(4), PointerReadout(4)], ids=repr)
def test_bad_edge_index_raises(layer, bad):
    with pytest.raises(ValueError, match="edge_index"):
        layer(torch.randn(5, 4), bad)


@pytest.mark.parametrize("layer", [GatedGraphConv(4, 1), MPNNConv(4)], ids=repr)
def test_wrong_feature_sizes_raise(layer):
    edge_index = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match=r"F <= 4"):
        layer(torch.randn(3, 5), edge_index)
    with pytest.raises(ValueError, match="rank 2"):
        layer(torch.randn(3), edge_index)


def test_unknown_edge_types_raise():
    conv = GatedGraphConv(4, 1, num_edge_types=2)
    x, edge_index = torch.randn(3, 2), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match=r"edge types in \[0, 2\)"):
        conv(x, edge_index, torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"edge types in \[0, 2\)"):
        conv(x, edge_index, torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="edge_type"):
        conv(x, edge_index)  # K = 2 needs the types
    with pytest.raises(ValueError, match="edge_type"):
        conv(x, edge_index, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="integer edge_type"):
        conv(x, edge_index, torch.tensor([0.0, 1.0]))


def test_wrong_edge_weights_and_attributes_raise():
    x, edge_index = torch.randn(3, 2), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="edge_weight"):
        GatedGraphConv(4, 1)(x, edge_index, edge_weight=torch.ones(3))
    with pytest.raises(ValueError, match="edge_attr"):
        MPNNConv(4, edge_dim=2)(x, edge_index)
    with pytest.raises(ValueError, match="edge_attr"):
        MPNNConv(4, edge_dim=2)(x, edge_index, torch.ones(2, 3))
    with pytest.raises(ValueError, match="edge_dim=0"):
        MPNNConv(4)(x, edge_index, torch.ones(2, 3))
    with pytest.raises(ValueError, match="aggr"):
        GatedGraphConv(4, 1, aggr="min")
    with pytest.raises(ValueError, match="update"):
        MPNNConv(4, update="rnn")
    with pytest.raises(ValueError, match="x"):
        GatedGraphReadout(4, 2, 3)(torch.randn(3, 4))
    with pytest.raises(ValueError, match="batch"):
        GlobalPoolReadout()(torch.randn(3, 4), torch.tensor([0, 1]))


# ---------------------------------------------------------------------------- gradients


def test_gradcheck_gated_graph_conv_with_edge_weights():
    x, edge_index, g = _graph(num_nodes=4, num_edges=7, features=2)
    edge_type = torch.randint(2, (7,), generator=g)
    weight = torch.rand(7, generator=g, dtype=torch.float64)
    for aggr in AGGRS:
        conv = GatedGraphConv(3, 2, aggr=aggr, num_edge_types=2, add_reverse_edges=True).double()
        inputs = (x.clone().requires_grad_(), weight.clone().requires_grad_())
        assert torch.autograd.gradcheck(lambda x, w: conv(x, edge_index, edge_type, w), inputs)
        assert torch.autograd.gradcheck(lambda w: conv(x, edge_index, edge_type, edge_weight=w).sum(0),
                                        (inputs[1],))


@pytest.mark.parametrize("update", ["gru", "lstm"])
def test_gradcheck_mpnn(update):
    x, edge_index, g = _graph(num_nodes=4, num_edges=7, features=2)
    edge_attr = torch.randn(7, 2, generator=g, dtype=torch.float64)
    conv = MPNNConv(3, edge_dim=2, num_layers=2, update=update, aggr="mean", checkpoint_update=True).double()
    inputs = (x.clone().requires_grad_(), edge_attr.clone().requires_grad_())
    assert torch.autograd.gradcheck(lambda x, e: conv(x, edge_index, e), inputs)


def test_gradcheck_readouts():
    h, x, batch, _ = _readout_batch()
    h = h[:5].clone().requires_grad_()
    x, batch = x[:5], batch[:5]
    gated = GatedGraphReadout(5, 2, 3).double()
    assert torch.autograd.gradcheck(lambda h: gated(h, x, batch), (h,))
    select = NodeSelectionReadout(5, 2).double()
    assert torch.autograd.gradcheck(lambda h: select(h, x, batch), (h,))
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 0], [1, 0, 1, 4, 3, 0]])
    head = PointerReadout(5).double()
    assert torch.autograd.gradcheck(lambda h: head(h, edge_index), (h,))


# ---------------------------------------------------------------------------- batching and devices


def test_layers_on_a_torch_geometric_batch_equal_each_graph_alone():
    graphs = []
    for seed in range(3):
        x, edge_index, _ = _graph(num_nodes=4 + seed, num_edges=6 + 2 * seed, seed=seed, features=2)
        graphs.append(Data(x=x, edge_index=edge_index))
    batch = Batch.from_data_list(graphs)
    torch.manual_seed(0)
    conv = GatedGraphConv(5, 3).double()
    readout = GatedGraphReadout(5, 2, 4).double()
    out = readout(conv(batch.x, batch.edge_index), batch.x, batch.batch)
    for i, data in enumerate(graphs):
        alone = readout(conv(data.x, data.edge_index), data.x)
        torch.testing.assert_close(out[i:i + 1], alone)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x, edge_index, g = _graph(num_nodes=50, num_edges=300, dtype=torch.float32)
    edge_type = torch.randint(2, (300,), generator=g)
    for aggr in AGGRS:
        conv = GatedGraphConv(8, 3, aggr=aggr, num_edge_types=2, add_reverse_edges=True)
        cpu = conv(x, edge_index, edge_type)
        gpu = conv.cuda()(x.cuda(), edge_index.cuda(), edge_type.cuda())
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
