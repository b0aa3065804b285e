"""Tests of the classic recurrent models: SkipRNN."""

import pytest
import torch

from memnets.nn.recurrent import SkipRNN


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_skip_rnn_without_skip_weights_is_torch_rnn():
    torch.manual_seed(0)
    model = SkipRNN(3, 4, skip=3)
    ref = torch.nn.RNN(3, 4)
    with torch.no_grad():
        model.weight_skip.zero_()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(model, name))
    x = torch.randn(8, 2, 3)
    out, state = model(x)
    expected, _ = ref(x)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(state, out[-3:])


def test_skip_rnn_with_skip_one_adds_the_weights():
    torch.manual_seed(1)
    model = SkipRNN(2, 4, skip=1)
    ref = torch.nn.RNN(2, 4)
    with torch.no_grad():
        ref.weight_hh_l0.copy_(model.weight_hh + model.weight_skip)
        ref.weight_ih_l0.copy_(model.weight_ih)
        ref.bias_ih_l0.copy_(model.bias_ih)
        ref.bias_hh_l0.copy_(model.bias_hh)
    x = torch.randn(6, 3, 2)
    torch.testing.assert_close(model(x)[0], ref(x)[0])


def test_skip_rnn_removed_short_connection_decouples_phases():
    # with only h_{t-d}, the steps t = 0 mod d never see the other phases
    model = SkipRNN(1, 3, skip=2, short_connection=False)
    x = torch.randn(10, 1, 1, generator=_seeded())
    x2 = x.clone()
    x2[1] += 1.0
    out, out2 = model(x)[0], model(x2)[0]
    torch.testing.assert_close(out[0::2], out2[0::2])
    assert not torch.allclose(out[1::2], out2[1::2])


# ----------------------------------------------------------------------------- the fused sequence
DT = torch.float64


def _run(model, x, state):
    x, state = x.clone().requires_grad_(True), state.clone().requires_grad_(True)
    output, final = model(x, state)
    g = torch.Generator().manual_seed(7)
    loss = (output * torch.randn(output.shape, generator=g, dtype=DT)).sum() + \
        (final * torch.randn(final.shape, generator=g, dtype=DT)).sum()
    return output, final, torch.autograd.grad(loss, [x, state, *model.parameters()])


@pytest.mark.parametrize("steps", [1, 2, 7])
@pytest.mark.parametrize("skip", [1, 3])
@pytest.mark.parametrize("short_connection", [True, False])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_fused_sequence_equals_the_autograd_loop(nonlinearity, short_connection, skip, steps):
    """The default path against the step-by-step loop on `rnn_update` (fused=False), with
    sequences shorter than, as long as and longer than the skip: outputs, final states
    and the gradients of the input, the initial states and every parameter."""
    torch.manual_seed(0)
    kwargs = {"skip": skip, "nonlinearity": nonlinearity, "short_connection": short_connection, "dtype": DT}
    fused, loop = SkipRNN(3, 5, **kwargs), SkipRNN(3, 5, fused=False, **kwargs)
    loop.load_state_dict(fused.state_dict())
    g = torch.Generator().manual_seed(1)
    x, state = torch.randn(steps, 4, 3, generator=g, dtype=DT), torch.randn(skip, 4, 5, generator=g, dtype=DT)
    (out, final, grads), (out_ref, final_ref, grads_ref) = _run(fused, x, state), _run(loop, x, state)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(final, final_ref, rtol=1e-12, atol=1e-12)
    assert len(grads) == len(grads_ref)
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_skip_sequence_gradcheck(nonlinearity):
    from memnets.nn.recurrent._skip import skip_rnn_sequence

    g = torch.Generator().manual_seed(0)
    xw, state, w_hh, w_skip = (torch.randn(*shape, generator=g, dtype=DT).requires_grad_(True)
                               for shape in ((5, 2, 3), (2, 2, 3), (3, 3), (3, 3)))
    def fn(*args):
        return skip_rnn_sequence(*args, nonlinearity)
    assert torch.autograd.gradcheck(fn, (xw, state, w_hh, w_skip))
    assert torch.autograd.gradcheck(fn, (xw[:1].detach().requires_grad_(True), state, w_hh, w_skip))  # T = 1
    assert torch.autograd.gradcheck(lambda *a: skip_rnn_sequence(a[0], a[1], None, a[2], nonlinearity),
                                    (xw, state, w_skip))  # no short connection
