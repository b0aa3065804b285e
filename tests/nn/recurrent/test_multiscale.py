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


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("alpha_min", "alpha_max", "learn_alpha"),
                         [(0.01, 1.0, False), (0.01, 1.0, True), (0.3, 0.3, False), (1.0, 1.0, False)])
def test_fused_gru_path_equals_the_leaky_cell_loop(alpha_min, alpha_max, learn_alpha, bias, batch_first):
    # the leaky update as a GRU with an open reset gate and a constant update gate 1 - alpha
    torch.manual_seed(0)
    kwargs = dict(alpha_min=alpha_min, alpha_max=alpha_max, learn_alpha=learn_alpha, batch_first=batch_first,
                  dtype=torch.float64)
    fused = MultiTimescaleRNN(3, 5, **kwargs)
    gate = MultiTimescaleRNN(3, 5, fused=False, **kwargs)
    if not bias:
        for model in (fused, gate):
            model.cell.bias_ih = model.cell.bias_hh = None
    gate.load_state_dict(fused.state_dict())
    assert fused.uses_fused_kernel and not gate.uses_fused_kernel
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(*((2, 6, 3) if batch_first else (6, 2, 3)), generator=g, dtype=torch.float64)
    h0 = torch.randn(2, 5, generator=g, dtype=torch.float64)
    results = []
    for model in (fused, gate):
        x, h = x0.clone().requires_grad_(True), h0.clone().requires_grad_(True)
        out, h_n = model(x, h)
        loss = (out * torch.arange(out.numel(), dtype=out.dtype).reshape(out.shape).sin()).sum() + h_n.square().sum()
        grads = torch.autograd.grad(loss, [x, h, *model.parameters()])
        results.append((out, h_n, grads))
    (o1, h1, g1), (o2, h2, g2) = results
    torch.testing.assert_close(o1, o2, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h1, h2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_relu_units_take_the_cell_loop():
    assert not MultiTimescaleRNN(3, 5, nonlinearity="relu").uses_fused_kernel
    model = MultiTimescaleRNN(3, 5)
    model.fused = False
    assert not model.uses_fused_kernel
