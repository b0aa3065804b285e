"""Tests of memnets.nn.classic: ESN, TDNN, NARX, Jordan, skip and multi-timescale RNNs."""

import pytest
import torch
from torch.nn import functional as F

from memnets.nn.classic import (
    NARX,
    TDNN,
    EchoStateNetwork,
    JordanRNN,
    MultiTimescaleRNN,
    SkipRNN,
    TimeDelayLayer,
    ridge_regression,
    spectral_radius,
)
from memnets.nn.modes import unroll
from memnets.training import build_model, model_spec


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- ridge / ESN


def test_ridge_regression_equals_least_squares_without_penalty():
    g = _seeded()
    X = torch.randn(80, 5, generator=g, dtype=torch.float64)
    Y = torch.randn(80, 2, generator=g, dtype=torch.float64)
    W, b = ridge_regression(X, Y, 0.0)
    A = torch.cat([X, torch.ones(80, 1, dtype=X.dtype)], dim=1)
    sol = torch.linalg.lstsq(A, Y).solution
    torch.testing.assert_close(W, sol[:5].T)
    torch.testing.assert_close(b, sol[5])


def test_ridge_regression_equals_augmented_least_squares():
    # min |XW + b - Y|^2 + beta |W|^2 is least squares on [X 1; sqrt(beta) I 0]
    g = _seeded(1)
    X = torch.randn(60, 4, generator=g, dtype=torch.float64)
    Y = torch.randn(60, 3, generator=g, dtype=torch.float64)
    beta = 2.5
    W, b = ridge_regression(X, Y, beta)
    A = torch.cat([torch.cat([X, torch.ones(60, 1, dtype=X.dtype)], 1),
                   torch.cat([beta**0.5 * torch.eye(4, dtype=X.dtype), torch.zeros(4, 1, dtype=X.dtype)], 1)])
    target = torch.cat([Y, torch.zeros(4, 3, dtype=X.dtype)])
    sol = torch.linalg.lstsq(A, target).solution
    torch.testing.assert_close(W, sol[:4].T)
    torch.testing.assert_close(b, sol[4])


@pytest.mark.parametrize("radius", [0.5, 0.9, 1.3])
def test_esn_reservoir_has_requested_spectral_radius(radius):
    esn = EchoStateNetwork(2, 60, 1, spectral_radius=radius, density=0.2, seed=3)
    eig = torch.linalg.eigvals(esn.weight_res.double()).abs().max().item()
    assert eig == pytest.approx(radius, rel=1e-5)
    assert spectral_radius(esn.weight_res) == pytest.approx(radius, rel=1e-5)
    # sparse as asked, and the draw depends on the seed only
    density = (esn.weight_res != 0).double().mean().item()
    assert 0.1 < density < 0.3
    torch.testing.assert_close(EchoStateNetwork(2, 60, 1, spectral_radius=radius, density=0.2, seed=3).weight_res,
                               esn.weight_res)


def test_esn_states_follow_the_leaky_update_loop():
    esn = EchoStateNetwork(2, 20, 1, leak_rate=0.3, input_scaling=0.7, bias_scaling=0.2, seed=1)
    x = torch.randn(7, 3, 2, generator=_seeded())
    states = esn.reservoir(x)
    h = torch.zeros(3, 20)
    for t in range(7):
        tilde = torch.tanh(x[t] @ esn.weight_in.T + esn.bias_in + h @ esn.weight_res.T)
        h = 0.7 * h + 0.3 * tilde
        torch.testing.assert_close(states[t], h)


def test_esn_readout_equals_least_squares_on_the_states():
    esn = EchoStateNetwork(1, 30, 2, ridge=0.0, seed=2).double()
    x = torch.randn(40, 3, 1, generator=_seeded(), dtype=torch.float64)
    y = torch.randn(40, 3, 2, generator=_seeded(1), dtype=torch.float64)
    esn.fit(x, y, washout=5)
    feats = torch.cat([esn.reservoir(x), x], dim=-1)[5:].reshape(-1, 31)
    A = torch.cat([feats, torch.ones(len(feats), 1, dtype=feats.dtype)], 1)
    sol = torch.linalg.lstsq(A, y[5:].reshape(-1, 2), driver="gelsd").solution
    torch.testing.assert_close(esn.readout_weight, sol[:31].T)
    torch.testing.assert_close(esn.readout_bias, sol[31])
    out, h = esn(x)
    torch.testing.assert_close(out[5:].reshape(-1, 2), A @ sol)
    assert h.shape == (3, 30)


def test_esn_learns_a_delay_and_the_last_state_readout():
    esn = EchoStateNetwork(1, 100, 1, spectral_radius=0.8, ridge=1e-8, seed=0)
    x = torch.rand(300, 4, 1, generator=_seeded()) - 0.5
    target = torch.cat([torch.zeros(2, 4, 1), x[:-2]])  # remember 2 steps
    esn.fit(x, target, washout=20)
    y, _ = esn(x)
    assert F.mse_loss(y[20:], target[20:]).item() < 1e-3
    # sequence -> vector readout from the last state: recall the input 3 steps before the end
    xs = torch.rand(30, 400, 1, generator=_seeded(1)) - 0.5
    esn2 = EchoStateNetwork(1, 100, 1, spectral_radius=0.8, ridge=1e-8, seed=0).fit(xs, xs[-3])
    prediction = esn2(xs)[0][-1]
    assert prediction.shape == (400, 1)
    assert F.mse_loss(prediction, xs[-3]).item() < 1e-3


def test_esn_checkpoint_round_trip():
    esn = EchoStateNetwork(1, 10, 1, seed=5)
    esn.fit(torch.randn(20, 2, 1), torch.randn(20, 2, 1))
    rebuilt = build_model(model_spec(esn))
    rebuilt.load_state_dict(esn.state_dict())
    x = torch.randn(5, 2, 1)
    torch.testing.assert_close(rebuilt(x)[0], esn(x)[0])


def test_esn_bad_shapes_and_arguments():
    esn = EchoStateNetwork(2, 10, 1)
    with pytest.raises(ValueError, match="expected x"):
        esn(torch.zeros(5, 3, 4))
    with pytest.raises(ValueError):
        esn.fit(torch.zeros(5, 3, 2), torch.zeros(5, 2, 1))
    with pytest.raises(ValueError):
        esn.fit(torch.zeros(5, 3, 2), torch.zeros(5, 3, 1), washout=5)
    with pytest.raises(ValueError):
        EchoStateNetwork(2, 10, 1, leak_rate=0.0)
    with pytest.raises(ValueError):
        ridge_regression(torch.zeros(3, 2), torch.zeros(4, 1))


# ----------------------------------------------------------------------------- TDNN


@pytest.mark.parametrize("delays", [1, 3, 6])
def test_time_delay_layer_equals_causal_conv1d(delays):
    layer = TimeDelayLayer(3, 5, delays, nonlinearity="linear")
    x = torch.randn(11, 2, 3, generator=_seeded())
    conv_in = x.permute(1, 2, 0)  # (B, C, T)
    # conv1d is a cross-correlation: tap j of the kernel meets x_{t-(D-1-j)}, so flip the delays
    expected = F.conv1d(F.pad(conv_in, (delays - 1, 0)), layer.weight.flip(-1), layer.bias)
    torch.testing.assert_close(layer(x), expected.permute(2, 0, 1))


def test_time_delay_layer_is_a_slow_tapped_delay_loop():
    layer = TimeDelayLayer(2, 4, 3, nonlinearity="tanh")
    x = torch.randn(6, 2, 2, generator=_seeded(2))
    out = layer(x)
    for t in range(6):
        pre = layer.bias.clone()
        for d in range(3):
            if t - d >= 0:
                pre = pre + x[t - d] @ layer.weight[:, :, d].T
        torch.testing.assert_close(out[t], torch.tanh(pre))


def test_tdnn_receptive_field_and_causality():
    model = TDNN(1, 8, 2, delays=4, num_layers=2)
    assert model.receptive_field == 7
    x = torch.randn(20, 1, 1, generator=_seeded())
    x2 = x.clone()
    x2[10] += 1.0
    y, y2 = model(x), model(x2)
    changed = ((y - y2).abs().sum(-1) > 0).flatten().nonzero().flatten().tolist()
    assert changed == list(range(10, 17))
    with pytest.raises(ValueError):
        model(torch.zeros(5, 2))


# ----------------------------------------------------------------------------- NARX


class _StepOnly:
    """Hide a model's teacher-forced fast path so unroll loops step by step."""

    def __init__(self, model):
        self.model, self.input_size, self.output_size = model, model.input_size, model.output_size

    def step(self, x_t, y_prev, state):
        return self.model.step(x_t, y_prev, state)


def test_narx_is_the_formula_from_delay_lines():
    torch.manual_seed(0)
    model = NARX(2, 1, 6, input_delays=3, output_delays=2)
    x = torch.randn(5, 1, 2)
    targets = torch.randn(5, 1, 1)
    y, _ = model(x, targets=targets)
    xs = torch.cat([torch.zeros(2, 1, 2), x])
    ys = torch.cat([torch.zeros(2, 1, 1), targets])  # ys[t + 2] = target_t; fed y_{t-1} = targets[t-1]
    for t in range(5):
        z = torch.cat([xs[t + 2], xs[t + 1], xs[t], ys[t + 1], ys[t]], dim=-1)
        expected = model.readout(torch.tanh(model.hidden(z)))
        torch.testing.assert_close(y[t], expected)


@pytest.mark.parametrize("input_size,kx,ky", [(0, 1, 1), (0, 1, 4), (2, 1, 2), (2, 3, 5)])
def test_narx_teacher_forced_fast_path_equals_step_loop(input_size, kx, ky):
    torch.manual_seed(1)
    model = NARX(input_size, 2, 8, input_delays=kx, output_delays=ky)
    x = torch.randn(9, 3, input_size) if input_size else None
    targets = torch.randn(9, 3, 2)
    fast, s_fast = unroll(model, x=x, targets=targets, mode="teacher_forcing")
    slow, s_slow = unroll(_StepOnly(model), x=x, targets=targets, mode="teacher_forcing")
    torch.testing.assert_close(fast, slow)
    torch.testing.assert_close(s_fast.outputs, s_slow.outputs)
    torch.testing.assert_close(s_fast.inputs, s_slow.inputs)
    # continuing from the carried state is the same as running the whole sequence
    first, state = unroll(model, x=None if x is None else x[:4], targets=targets[:4], mode="teacher_forcing")
    rest, _ = unroll(model, x=None if x is None else x[4:], y0=targets[3], targets=targets[4:],
                     mode="teacher_forcing", state=state)
    torch.testing.assert_close(torch.cat([first, rest]), fast)


def test_narx_bad_shapes():
    model = NARX(2, 1, 4)
    with pytest.raises(ValueError):
        model(torch.zeros(5, 3, 3), targets=torch.zeros(5, 3, 1))
    with pytest.raises(ValueError):
        model(None, targets=torch.zeros(5, 3, 1))
    with pytest.raises(ValueError):
        NARX(0, 1, 4, output_delays=0)


# ----------------------------------------------------------------------------- Jordan


@pytest.mark.parametrize("decay", [0.0, 0.6])
def test_jordan_is_the_formula_and_fast_path_matches(decay):
    torch.manual_seed(0)
    model = JordanRNN(2, 5, 3, decay=decay)
    x = torch.randn(6, 2, 2)
    targets = torch.randn(6, 2, 3)
    y, s_last = model(x, targets=targets)
    s = torch.zeros(2, 3)
    fed = torch.zeros(2, 3)
    for t in range(6):
        s = decay * s + fed
        h = torch.tanh(x[t] @ model.weight_ih.T + s @ model.weight_sh.T + model.bias)
        torch.testing.assert_close(y[t], model.readout(h))
        fed = targets[t]
    slow, s_slow = unroll(_StepOnly(model), x=x, targets=targets, mode="teacher_forcing")
    torch.testing.assert_close(y, slow)
    torch.testing.assert_close(s_last, s_slow)


def test_jordan_without_inputs_runs_free():
    model = JordanRNN(0, 4, 1)
    y, s = model(steps=7, y0=torch.ones(3, 1))
    assert y.shape == (7, 3, 1) and s.shape == (3, 1)
    with pytest.raises(ValueError):
        JordanRNN(0, 4, 1)(torch.zeros(7, 3, 2), targets=torch.zeros(7, 3, 1))


# ----------------------------------------------------------------------------- skip / leaky


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


@pytest.mark.parametrize("cls,args", [(SkipRNN, (3, 4)), (MultiTimescaleRNN, (3, 4))])
def test_recurrences_reject_bad_shapes_and_take_length_one(cls, args):
    model = cls(*args)
    with pytest.raises(ValueError):
        model(torch.zeros(5, 2))
    with pytest.raises(ValueError):
        model(torch.zeros(5, 2, 2))
    out, _ = model(torch.zeros(1, 2, 3))
    assert out.shape == (1, 2, 4)


def test_classic_models_gradcheck_float64():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    for model in (SkipRNN(2, 3, skip=2).double(), MultiTimescaleRNN(2, 3).double(),
                  TimeDelayLayer(2, 3, 3).double()):
        def f(inp, model=model):
            out = model(inp)
            return out[0] if isinstance(out, tuple) else out
        assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),))
