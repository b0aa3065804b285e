"""Tests of memnets.training.rtrl: RTRL's forward-mode gradient equals autograd's BPTT."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from memnets.training.rtrl import RealTimeRecurrentLearning, rtrl_gradients


def _bptt(cell, head, loss_fn, x, y, h0=None):
    h = torch.zeros(x.shape[1], cell.hidden_size, dtype=x.dtype) if h0 is None else h0
    total = 0.0
    for t in range(x.shape[0]):
        h = cell(x[t], h)
        total = total + loss_fn(head(h), y[t])
    params = dict(cell.named_parameters())
    params.update({f"readout.{n}": p for n, p in head.named_parameters()})
    grads = torch.autograd.grad(total, list(params.values()))
    return total, dict(zip(params, grads))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_rtrl_gradient_equals_bptt(nonlinearity, bias):
    torch.manual_seed(0)
    cell = nn.RNNCell(3, 5, bias=bias, nonlinearity=nonlinearity).double()
    head = nn.Linear(5, 2).double()
    x = torch.randn(9, 4, 3, dtype=torch.float64)
    y = torch.randn(9, 4, 2, dtype=torch.float64)
    h0 = torch.randn(4, 5, dtype=torch.float64)
    result = rtrl_gradients(cell, head, F.mse_loss, x, y, h0=h0)
    loss, expected = _bptt(cell, head, F.mse_loss, x, y, h0=h0)
    torch.testing.assert_close(result.loss, loss.detach())
    assert set(result.gradients) == set(expected)
    for name, g in expected.items():
        torch.testing.assert_close(result.gradients[name], g, msg=name)
    # .grad is left untouched
    assert all(p.grad is None for p in cell.parameters())


def test_rtrl_with_classification_loss_and_length_one():
    torch.manual_seed(1)
    cell, head = nn.RNNCell(2, 4).double(), nn.Linear(4, 3).double()
    x = torch.randn(1, 5, 2, dtype=torch.float64)
    y = torch.randint(0, 3, (1, 5))
    result = rtrl_gradients(cell, head, F.cross_entropy, x, y)
    _, expected = _bptt(cell, head, F.cross_entropy, x, y)
    for name, g in expected.items():
        torch.testing.assert_close(result.gradients[name], g)


def test_online_rtrl_accumulates_into_grad_and_learns():
    torch.manual_seed(0)
    cell, head = nn.RNNCell(1, 6), nn.Linear(6, 1)
    opt = torch.optim.SGD(list(cell.parameters()) + list(head.parameters()), lr=0.1)
    learner = RealTimeRecurrentLearning(cell, head, F.mse_loss)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, 1, generator=g)
    target = torch.cat([torch.zeros(1, 8, 1), x[:-1]])  # echo the previous input
    learner.reset(8)
    losses = []
    for t in range(200):
        opt.zero_grad()
        losses.append(float(learner.step(x[t], target[t])))
        opt.step()  # on-line: an update at every step
    assert sum(losses[-40:]) / 40 < 0.5 * sum(losses[:40]) / 40


def test_rtrl_rejects_bad_inputs():
    cell, head = nn.RNNCell(2, 3), nn.Linear(3, 1)
    with pytest.raises(ValueError):
        RealTimeRecurrentLearning(nn.GRUCell(2, 3), head, F.mse_loss)
    learner = RealTimeRecurrentLearning(cell, head, F.mse_loss)
    with pytest.raises(ValueError, match="reset"):
        learner.step(torch.zeros(4, 2))
    learner.reset(4)
    with pytest.raises(ValueError):
        learner.step(torch.zeros(4, 5))
    with pytest.raises(ValueError):
        rtrl_gradients(cell, head, F.mse_loss, torch.zeros(5, 4, 2), torch.zeros(6, 4, 1))
