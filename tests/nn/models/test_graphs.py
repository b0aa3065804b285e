"""Tests of memnets.nn.models.graphs: the graph task models -- what they compute from their
layers, their argument checks, dtypes, empty batches, and the checkpoint registry."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

import memnets
from memnets.data.graphs import (
    bfs_graph,
    connectivity_graph,
    graph_batch,
    shortest_path_graph,
    shortest_path_steps,
)
from memnets.nn.graphs import GatedGraphConv, MPNNConv, PointerReadout
from memnets.nn.models import GraphClassifier, GraphPointerNet, NodeSelectionGGNN
from memnets.nn.registry import registered_models


def test_models_are_the_public_names_and_registered():
    assert memnets.GraphPointerNet is GraphPointerNet and memnets.GraphClassifier is GraphClassifier
    assert {"GraphPointerNet", "GraphClassifier", "NodeSelectionGGNN"} <= set(registered_models())


def test_hidden_channels_is_the_state_size_of_every_processor():
    assert GraphPointerNet(2, edge_dim=1, hidden_channels=12).processor.rnn.hidden_size == 12
    assert GraphPointerNet(2, hidden_channels=12, processor="ggnn").processor.out_channels == 12
    assert GraphClassifier(1, 2, hidden_channels=10).processor.out_channels == 10
    assert NodeSelectionGGNN(4, hidden_channels=9).conv.out_channels == 9


def test_pointer_net_is_its_processor_then_the_pointer_head_on_h_and_x():
    torch.manual_seed(0)
    model = GraphPointerNet(2, edge_dim=1, hidden_channels=8, num_steps=3, reinject_inputs=True)
    batch = graph_batch(bfs_graph, 3, torch.Generator().manual_seed(0), n=7)
    assert isinstance(model.processor, MPNNConv) and isinstance(model.pointer, PointerReadout)
    h = model.processor(batch.x, batch.edge_index, batch.edge_attr, batch.x, num_steps=3)
    expected = model.pointer(torch.cat([h, batch.x], 1), batch.edge_index, batch.edge_attr)
    torch.testing.assert_close(model(batch), expected)
    torch.testing.assert_close(model.predict(batch), PointerReadout.argmax(expected, batch.edge_index, 21))


def test_default_steps_are_the_largest_graphs_node_count():
    model = GraphPointerNet(2, edge_dim=1, hidden_channels=8)
    batch = Batch.from_data_list([bfs_graph(5, seed=0), bfs_graph(9, seed=1)])
    torch.testing.assert_close(model(batch), model(batch, num_steps=9))
    assert not torch.allclose(model(batch), model(batch, num_steps=2))


def test_classifier_and_node_selection_on_batches_and_a_single_graph():
    classifier = GraphClassifier(1, 2, hidden_channels=8, readout="gated")
    batch = graph_batch(connectivity_graph, 4, torch.Generator().manual_seed(0), n=6)
    logits = classifier(batch)
    assert logits.shape == (4, 2)
    torch.testing.assert_close(classifier(batch[1:2][0]), logits[1:2])
    select = NodeSelectionGGNN(4, hidden_channels=8)
    steps = Batch.from_data_list(shortest_path_steps(shortest_path_graph(seed=0)))
    log_p = select(steps)
    sums = torch.zeros(steps.num_graphs, dtype=log_p.dtype).index_add_(0, steps.batch, log_p.exp())
    torch.testing.assert_close(sums, torch.ones(steps.num_graphs))
    assert isinstance(select.conv, GatedGraphConv)


@pytest.mark.parametrize("call, error, match", [
    (lambda: GraphPointerNet(5, hidden_channels=4), ValueError, "in_channels <= hidden_channels"),
    (lambda: GraphPointerNet(0), ValueError, "in_channels"),
    (lambda: GraphPointerNet(2, hidden_channels=8.0), TypeError, "hidden_channels"),
    (lambda: GraphPointerNet(2, edge_dim=-1), ValueError, "edge_dim"),
    (lambda: GraphPointerNet(2, processor="gcn"), ValueError, "processor"),
    (lambda: GraphPointerNet(2, processor="ggnn", edge_dim=1), ValueError, "edge features"),
    (lambda: GraphPointerNet(2, num_steps=-1), ValueError, "num_steps"),
    (lambda: GraphClassifier(1, 0), ValueError, "num_classes"),
    (lambda: GraphClassifier(1, 2, readout="attention"), ValueError, "readout"),
    (lambda: NodeSelectionGGNN(4, hidden_channels=2), ValueError, "in_channels <= hidden_channels"),
])
def test_bad_constructor_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_float64_batch_needs_a_float64_model():
    data = bfs_graph(6, seed=0)
    data.x, data.edge_attr = data.x.double(), data.edge_attr.double()
    model = GraphPointerNet(2, edge_dim=1, hidden_channels=8)
    with pytest.raises(ValueError, match="dtype torch.float32.*got torch.float64"):
        model(data)
    assert model.double()(data).dtype == torch.float64


def test_pointer_net_with_the_triplet_processor_reads_its_edge_latents():
    torch.manual_seed(0)
    model = GraphPointerNet(2, edge_dim=1, hidden_channels=8, processor="triplet", num_steps=2, reinject_inputs=True)
    batch = graph_batch(bfs_graph, 3, torch.Generator().manual_seed(1), n=6)
    h, latents = model.processor(batch.x, batch.edge_index, batch.edge_attr, batch.x, batch.batch, num_steps=2,
                                 return_edge_latents=True)
    expected = model.pointer(torch.cat([h, batch.x], 1), batch.edge_index, torch.cat([batch.edge_attr, latents], 1))
    torch.testing.assert_close(model(batch), expected)
    log_p = model(batch)
    log_p.sum().backward()  # trains end to end
    assert model.processor.tri_u.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="aggregates by max"):
        GraphPointerNet(2, edge_dim=1, processor="triplet", aggr="add")
    classifier = GraphClassifier(1, 2, hidden_channels=8, processor="triplet", aggr="max")
    assert classifier(graph_batch(connectivity_graph, 2, torch.Generator().manual_seed(0), n=6)).shape == (2, 2)
