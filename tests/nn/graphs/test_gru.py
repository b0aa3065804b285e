"""Tests of memnets.nn.graphs._gru: the fused GRU node update equals memnets.GRUCell (so the gate
core's gru_update) and torch.nn.GRUCell, outputs and every gradient; gradcheck in float64; empty
inputs; and the graph layers use it (same results as the composed cell)."""

from __future__ import annotations

import pytest
import torch

from memnets.nn.graphs import GatedGraphConv, MPNNConv
from memnets.nn.graphs._gru import _FusedGRUUpdate, fused_gru_update
from memnets.nn.recurrent import GRUCell
from tests.nn.graphs._graphs import random_graph


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sizes", [(5, 4), (4, 4)])
def test_fused_update_equals_the_cells_outputs_and_gradients(bias, sizes):
    torch.manual_seed(0)
    cell = GRUCell(*sizes, bias=bias).double()
    reference = torch.nn.GRUCell(*sizes, bias=bias).double()
    reference.load_state_dict(cell.state_dict())
    m = torch.randn(9, sizes[0], dtype=torch.float64, requires_grad=True)
    h = torch.randn(9, sizes[1], dtype=torch.float64, requires_grad=True)
    out = fused_gru_update(cell, m, h)
    torch.testing.assert_close(out, cell(m, h), rtol=0, atol=1e-14)
    torch.testing.assert_close(out, reference(m, h))
    grad = torch.randn_like(out)
    ours = torch.autograd.grad(out, [m, h, *cell.parameters()], grad)
    theirs = torch.autograd.grad(cell(m, h), [m, h, *cell.parameters()], grad)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)
    with torch.no_grad():  # the in-place forward without gradients
        torch.testing.assert_close(fused_gru_update(cell, m, h), cell(m, h), rtol=0, atol=1e-14)


def test_gradcheck_fused_update_in_every_input_and_parameter():
    torch.manual_seed(1)
    cell = GRUCell(3, 2).double()
    m = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]  # w_ih, w_hh, b_ih, b_hh
    assert torch.autograd.gradcheck(_FusedGRUUpdate.apply, (m, h, *params))
    assert torch.autograd.gradcheck(_FusedGRUUpdate.apply, (m, h, params[0], params[1], None, None))


def test_empty_input():
    cell = GRUCell(3, 2)
    m, h = torch.randn(0, 3, requires_grad=True), torch.randn(0, 2, requires_grad=True)
    out = fused_gru_update(cell, m, h)
    assert out.shape == (0, 2)
    out.sum().backward()
    assert cell.weight_ih.grad.abs().sum() == 0 and m.grad.shape == (0, 3)


@pytest.mark.parametrize("make", [lambda: GatedGraphConv(6, 3).double(),
                                  lambda: MPNNConv(6, num_layers=3, aggr="max").double()], ids=["ggnn", "mpnn"])
def test_layers_with_the_fused_update_equal_the_composed_cell(make):
    layer = make()
    x, edge_index, _ = random_graph()
    x.requires_grad_()
    results = []
    for checkpoint in (True, False):  # fused (keeps m, h) / the cell through autograd
        layer.checkpoint_update = checkpoint
        layer.zero_grad()
        x.grad = None
        out = layer(x, edge_index)
        out.square().sum().backward()
        results.append([out.detach(), x.grad.clone(), *[p.grad.clone() for p in layer.parameters()]])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)
