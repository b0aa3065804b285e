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


# ----------------------------------------------------------------------------- the fused sequence
DT = torch.float64


def _loss(output, state):
    g = torch.Generator().manual_seed(7)
    return (output * torch.randn(output.shape, generator=g, dtype=DT)).sum() + \
        (state * torch.randn(state.shape, generator=g, dtype=DT)).sum()


def _run(model, x, h0):
    x, h0 = x.clone().requires_grad_(True), h0.clone().requires_grad_(True)
    output, state = model(x, h0)
    grads = torch.autograd.grad(_loss(output, state), [x, h0, *model.parameters()])
    return output, state, grads


@pytest.mark.parametrize("steps", [1, 6])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("learn_alpha", [False, True])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_fused_sequence_equals_the_cell_loop(nonlinearity, learn_alpha, batch_first, steps):
    """The default path against `leaky_update` step by step (fused=False): outputs, final
    state and the gradients of the input, the initial state and every parameter."""
    torch.manual_seed(0)
    kwargs = {"alpha_min": 0.05, "learn_alpha": learn_alpha, "nonlinearity": nonlinearity,
              "batch_first": batch_first, "dtype": DT}
    fused, loop = MultiTimescaleRNN(3, 5, **kwargs), MultiTimescaleRNN(3, 5, fused=False, **kwargs)
    loop.load_state_dict(fused.state_dict())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(*((4, steps, 3) if batch_first else (steps, 4, 3)), generator=g, dtype=DT)
    h0 = torch.randn(4, 5, generator=g, dtype=DT)
    (out, state, grads), (out_ref, state_ref, grads_ref) = _run(fused, x, h0), _run(loop, x, h0)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state, state_ref, rtol=1e-12, atol=1e-12)
    assert len(grads) == len(grads_ref)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    if learn_alpha:
        assert grads[-1].abs().sum() > 0  # the rates' gradient is not left out


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_leaky_sequence_gradcheck(nonlinearity):
    from memnets.nn.recurrent._leaky import leaky_rnn_sequence

    g = torch.Generator().manual_seed(0)
    xw, h0, w_hh = (torch.randn(*shape, generator=g, dtype=DT).requires_grad_(True)
                    for shape in ((4, 2, 3), (2, 3), (3, 3)))
    alpha = torch.rand(3, generator=g, dtype=DT).requires_grad_(True)
    def fn(*args):
        return leaky_rnn_sequence(*args, nonlinearity)
    assert torch.autograd.gradcheck(fn, (xw, h0, w_hh, alpha))
    assert torch.autograd.gradcheck(fn, (xw[:1].detach().requires_grad_(True), h0, w_hh, alpha))  # T = 1
