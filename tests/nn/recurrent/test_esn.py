"""Tests of the classic recurrent models: EchoStateNetwork, ridge_regression and spectral_radius."""

import pytest
import torch
from torch.nn import functional as F

from memnets.nn.recurrent import EchoStateNetwork, ridge_regression, spectral_radius
from memnets.nn.registry import build_model, model_spec


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


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
