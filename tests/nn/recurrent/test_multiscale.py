"""Tests of the classic recurrent models: MultiTimescaleRNN."""

import pytest
import torch

from memnets.nn.recurrent import MultiTimescaleRNN


def test_multitimescale_rnn_with_unit_rates_is_torch_rnn():
    torch.manual_seed(0)
    model = MultiTimescaleRNN(3, 4, alpha_min=1.0, alpha_max=1.0)
    ref = torch.nn.RNN(3, 4)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(model.cell, name))
    x = torch.randn(7, 2, 3)
    torch.testing.assert_close(model(x)[0], ref(x)[0])


def test_multitimescale_rnn_slow_units_integrate():
    model = MultiTimescaleRNN(1, 6, alpha_min=0.01, alpha_max=1.0, learn_alpha=True)
    alpha = model.alpha.detach()
    assert alpha[0] == pytest.approx(0.01, rel=1e-3) and alpha[-1] == pytest.approx(1.0, abs=1e-3)
    x = torch.randn(5, 2, 1)
    out, h = model(x)
    h_ref = torch.zeros(2, 6)
    c = model.cell
    for t in range(5):
        pre = x[t] @ c.weight_ih.T + c.bias_ih + h_ref @ c.weight_hh.T + c.bias_hh
        h_ref = (1 - model.alpha) * h_ref + model.alpha * torch.tanh(pre)
    torch.testing.assert_close(h, h_ref)
    out.sum().backward()
    assert model.cell.alpha_logit.grad is not None
