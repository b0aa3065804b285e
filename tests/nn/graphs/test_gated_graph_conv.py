"""Tests of memnets.nn.graphs.gated_graph_conv: GatedGraphConv against torch_geometric and a slow
loop from Li et al. (2016), symmetry, edge cases, input validation, dtypes and gradients."""

from __future__ import annotations

import math

import pytest
import torch
import torch_geometric
from torch_geometric.data import Batch, Data

from memnets.nn.graphs import GatedGraphConv, GatedGraphReadout
from memnets.nn.recurrent import GRUCell
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


@pytest.mark.parametrize("aggr", AGGRS)
@pytest.mark.parametrize("weighted", [False, True])
def test_gated_graph_conv_matches_torch_geometric(aggr, weighted):
    x, edge_index, g = random_graph()
    edge_weight = torch.rand(edge_index.size(1), generator=g, dtype=torch.float64) if weighted else None
    ref = torch_geometric.nn.GatedGraphConv(8, num_layers=3, aggr=aggr).double()
    ours = GatedGraphConv(8, num_layers=3, aggr=aggr, share_weights=False).double()
    ours.load_state_dict(ref.state_dict())  # torch_geometric's (T, C, C) weight is read as (T, 1, C, C)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref, out_ours = ref(x_ref, edge_index, edge_weight), ours(x_ours, edge_index, edge_weight)  # same positions
    torch.testing.assert_close(out_ours, out_ref)
    out_ref.square().sum().backward()
    out_ours.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad)
    torch.testing.assert_close(ours.weight.grad.squeeze(1), ref.weight.grad)
    torch.testing.assert_close(ours.rnn.weight_hh.grad, ref.rnn.weight_hh.grad)


def test_edge_weight_is_the_third_positional_argument_and_edge_type_the_fourth():
    x, edge_index, g = random_graph(num_nodes=6, num_edges=12)
    weight = torch.rand(12, generator=g, dtype=torch.float64)
    edge_type = torch.randint(2, (12,), generator=g)
    conv = GatedGraphConv(4, 2, num_edge_types=2).double()
    by_position = conv(x, edge_index, weight, edge_type)
    torch.testing.assert_close(by_position, conv(x, edge_index, edge_weight=weight, edge_type=edge_type))
    assert not torch.allclose(by_position, conv(x, edge_index, edge_type=edge_type))  # the weight is used
    with pytest.raises(ValueError, match="edge_weight"):  # an edge type where the weight goes is refused
        conv(x, edge_index, edge_type)


def test_gated_graph_conv_uses_library_gru_and_torch_state_dict_names():
    conv = GatedGraphConv(6, 2)
    assert isinstance(conv.rnn, GRUCell)
    ref = torch_geometric.nn.GatedGraphConv(6, 2)
    assert set(conv.state_dict()) == set(ref.state_dict())
    assert conv.weight.shape == (1, 1, 6, 6)  # shared across steps, one edge type
    assert GatedGraphConv(6, 2, share_weights=False, num_edge_types=3, add_reverse_edges=True).weight.shape == (
        2, 6, 6, 6)
    assert "GatedGraphConv(6, num_layers=2" in repr(conv)


def test_reset_parameters_draws_torch_geometrics_uniform_bound():
    conv = GatedGraphConv(16, 2, num_edge_types=3)
    with torch.no_grad():
        conv.weight.fill_(5.0)
        conv.rnn.weight_ih.fill_(5.0)
    conv.reset_parameters()
    bound = 1 / math.sqrt(16)
    assert conv.weight.abs().max() <= bound and conv.weight.std() > bound / 4  # redrawn, spread over the range
    assert conv.rnn.weight_ih.abs().max() <= bound


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
    x, edge_index, g = random_graph(num_nodes=6, num_edges=12)
    edge_type = torch.randint(3, (12,), generator=g)
    edge_weight = torch.rand(12, generator=g, dtype=torch.float64)
    conv = GatedGraphConv(5, 3, aggr=aggr, num_edge_types=3, add_reverse_edges=True,
                          share_weights=share_weights).double()
    out = conv(x, edge_index, edge_weight, edge_type)
    torch.testing.assert_close(out, _ggnn_loop(conv, x, edge_index, edge_type, edge_weight, 3))


@pytest.mark.parametrize("aggr", ["add", "mean"])
def test_fused_sparse_path_equals_gather_scatter_path(aggr):
    x, edge_index, g = random_graph(num_nodes=9, num_edges=30)
    edge_type = torch.randint(2, (30,), generator=g)
    edge_weight = torch.rand(30, generator=g, dtype=torch.float64, requires_grad=True)
    conv = GatedGraphConv(6, 2, aggr=aggr, num_edge_types=2, add_reverse_edges=True).double()
    outs, grads = [], []
    for fuse in (True, False):
        conv.fuse = fuse
        edge_weight.grad = None
        out = conv(x, edge_index, edge_weight, edge_type)
        out.sum().backward()
        outs.append(out)
        grads.append(edge_weight.grad.clone())
    torch.testing.assert_close(outs[0], outs[1])
    torch.testing.assert_close(grads[0], grads[1])


def test_checkpointed_update_gives_the_same_gradients():
    x, edge_index, _ = random_graph()
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
    x, edge_index, _ = random_graph()
    conv = GatedGraphConv(6, 2).double()
    torch.testing.assert_close(conv(x, edge_index, num_steps=4), conv(conv(x, edge_index), edge_index))
    torch.testing.assert_close(conv(x, edge_index, num_steps=0), torch.cat([x, x.new_zeros(7, 3)], 1))
    with pytest.raises(ValueError, match="per-step weights"):
        GatedGraphConv(6, 2, share_weights=False)(x.float(), edge_index, num_steps=3)
    with pytest.raises(ValueError, match="num_steps"):
        conv(x, edge_index, num_steps=-1)
    with pytest.raises(TypeError, match="num_steps"):
        conv(x, edge_index, num_steps=2.0)


# ---------------------------------------------------------------------------- symmetry and edge cases


@pytest.mark.parametrize("kind", ["typed", "max", "mean"])
def test_gated_graph_conv_is_permutation_equivariant(kind):
    if kind == "typed":
        conv = GatedGraphConv(6, 3, num_edge_types=2, add_reverse_edges=True).double()
        assert_permutation_equivariant(lambda x, e, t, a: conv(x, e, edge_type=t))
    else:
        conv = GatedGraphConv(6, 2, aggr=kind).double()
        assert_permutation_equivariant(lambda x, e, t, a: conv(x, e, a[:, 0].abs()))  # weighted


@pytest.mark.parametrize("aggr", AGGRS)
def test_no_edges_is_the_gru_with_zero_messages(aggr):
    layer = GatedGraphConv(4, 2, aggr=aggr)
    x = torch.randn(5, 3)
    torch.testing.assert_close(layer(x, torch.empty(2, 0, dtype=torch.long)), cell_with_zero_messages(layer, x, 2))


@pytest.mark.parametrize("aggr", AGGRS)
def test_isolated_nodes_self_loops_and_a_single_node(aggr):
    assert_isolated_nodes_self_loops_and_a_single_node(GatedGraphConv(4, 2, aggr=aggr))


@pytest.mark.parametrize("aggr", AGGRS)
def test_empty_graph(aggr):
    assert_empty_graph_works(GatedGraphConv(4, 2, aggr=aggr, num_edge_types=2, add_reverse_edges=True)
                             if aggr == "add" else GatedGraphConv(4, 2, aggr=aggr))


# ---------------------------------------------------------------------------- validation and dtypes


@pytest.mark.parametrize("bad", BAD_EDGE_INDICES)
def test_bad_edge_index_raises(bad):
    assert_bad_edge_index_raises(GatedGraphConv(4, 1), bad)


def test_wrong_feature_sizes_raise():
    layer, edge_index = GatedGraphConv(4, 1), torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match=r"F <= 4"):
        layer(torch.randn(3, 5), edge_index)
    with pytest.raises(ValueError, match="rank 2"):
        layer(torch.randn(3), edge_index)


def test_unknown_edge_types_raise():
    conv = GatedGraphConv(4, 1, num_edge_types=2)
    x, edge_index = torch.randn(3, 2), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match=r"edge_type entries in \[0, 2\)"):
        conv(x, edge_index, edge_type=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"edge_type entries in \[0, 2\)"):
        conv(x, edge_index, edge_type=torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="edge_type"):
        conv(x, edge_index)  # K = 2 needs the types
    with pytest.raises(ValueError, match="edge_type"):
        conv(x, edge_index, edge_type=torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="integer edge_type"):
        conv(x, edge_index, edge_type=torch.tensor([0.0, 1.0]))


def test_wrong_edge_weights_and_arguments_raise():
    x, edge_index = torch.randn(3, 2), torch.tensor([[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="edge_weight"):
        GatedGraphConv(4, 1)(x, edge_index, torch.ones(3))
    with pytest.raises(ValueError, match="aggr"):
        GatedGraphConv(4, 1, aggr="min")
    for bad in ({"out_channels": 0}, {"num_layers": -1}, {"num_edge_types": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            GatedGraphConv(**{"out_channels": 4, "num_layers": 1, **bad})
    for bad in ({"out_channels": 4.0}, {"num_layers": True}, {"num_edge_types": "2"}):
        with pytest.raises(TypeError, match=next(iter(bad))):
            GatedGraphConv(**{"out_channels": 4, "num_layers": 1, **bad})


@pytest.mark.parametrize("name, make", [
    ("x", lambda: (torch.randn(3, 2, dtype=torch.float64), None)),
    ("x", lambda: (torch.ones(3, 2, dtype=torch.int64), None)),
    ("edge_weight", lambda: (torch.randn(3, 2), torch.ones(2, dtype=torch.int64))),
    ("edge_weight", lambda: (torch.randn(3, 2), torch.ones(2, dtype=torch.float64))),
])
def test_inputs_of_another_dtype_than_the_parameters_are_refused_naming_both(name, make):
    x, weight = make()
    wrong = x.dtype if name == "x" else weight.dtype
    with pytest.raises(ValueError, match=rf"{name} of dtype torch.float32.*got {wrong}"):
        GatedGraphConv(4, 1)(x, torch.tensor([[0, 1], [1, 2]]), weight)
    if wrong.is_floating_point:  # the same inputs, with a layer of their dtype, are fine
        x = x.to(wrong)
        assert GatedGraphConv(4, 1).to(wrong)(x, torch.tensor([[0, 1], [1, 2]]), weight).dtype == wrong


# ---------------------------------------------------------------------------- gradients, batching, devices


def test_gradcheck_gated_graph_conv_with_edge_weights():
    x, edge_index, g = random_graph(num_nodes=4, num_edges=7, features=2)
    edge_type = torch.randint(2, (7,), generator=g)
    weight = torch.rand(7, generator=g, dtype=torch.float64)
    for aggr in AGGRS:
        conv = GatedGraphConv(3, 2, aggr=aggr, num_edge_types=2, add_reverse_edges=True).double()
        inputs = (x.clone().requires_grad_(), weight.clone().requires_grad_())
        assert torch.autograd.gradcheck(lambda x, w, conv=conv: conv(x, edge_index, w, edge_type), inputs)
        assert torch.autograd.gradcheck(lambda w, conv=conv: conv(x, edge_index, w, edge_type).sum(0), (inputs[1],))


def test_layer_on_a_torch_geometric_batch_equals_each_graph_alone():
    graphs = []
    for seed in range(3):
        x, edge_index, _ = random_graph(num_nodes=4 + seed, num_edges=6 + 2 * seed, seed=seed, features=2)
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
    x, edge_index, g = random_graph(num_nodes=50, num_edges=300, dtype=torch.float32)
    edge_type = torch.randint(2, (300,), generator=g)
    for aggr in AGGRS:
        conv = GatedGraphConv(8, 3, aggr=aggr, num_edge_types=2, add_reverse_edges=True)
        cpu = conv(x, edge_index, edge_type=edge_type)
        gpu = conv.cuda()(x.cuda(), edge_index.cuda(), edge_type=edge_type.cuda())
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-4, atol=1e-5)
