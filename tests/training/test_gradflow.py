"""Tests of memnets.training.gradflow: Pascanu et al.'s Ω and the gradient-norm diagnostic."""

import pytest
import torch
from torch import nn

from memnets.training.gradflow import (
    gradient_flow_penalty,
    gradient_flow_regularizer,
    plot_gradient_norms,
    state_gradient_norms,
    unroll_states,
)


class _LinearCell(nn.Module):
    """h_t = W h_{t-1} + U x_t: the one-step Jacobian is W."""

    def __init__(self, W, input_size=2):
        super().__init__()
        self.hidden_size = W.shape[0]
        self.W = nn.Parameter(W.clone())
        self.U = nn.Linear(input_size, W.shape[0])

    def forward(self, x, h):
        return h @ self.W.T + self.U(x)


def _loss(hs):
    return (hs ** 2).sum() + hs[-1].sum()


def test_omega_is_zero_for_an_identity_jacobian():
    cell = _LinearCell(torch.eye(4, dtype=torch.float64)).double()
    x = torch.randn(7, 3, 2, dtype=torch.float64)
    loss, omega = gradient_flow_regularizer(cell, x, _loss)
    assert omega.item() == pytest.approx(0.0, abs=1e-12)
    # an orthogonal recurrence preserves norms too
    Q, _ = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64))
    _, omega = gradient_flow_regularizer(_LinearCell(Q).double(), x, _loss)
    assert omega.item() == pytest.approx(0.0, abs=1e-10)


def test_omega_of_a_scaled_identity_is_known():
    cell = _LinearCell(0.5 * torch.eye(3, dtype=torch.float64)).double()
    x = torch.randn(6, 2, 2, dtype=torch.float64)
    _, omega = gradient_flow_regularizer(cell, x, _loss)
    # every step shrinks the gradient by 1/2: (0.5 - 1)^2 per step, summed over T = 6
    assert omega.item() == pytest.approx(6 * 0.25)


def test_omega_matches_a_slow_loop_with_explicit_jacobians():
    torch.manual_seed(0)
    cell = nn.RNNCell(2, 4).double()
    x = torch.randn(5, 3, 2, dtype=torch.float64)
    loss, omega = gradient_flow_regularizer(cell, x, _loss)
    states = unroll_states(cell, x, torch.zeros(3, 4, dtype=torch.float64))
    grads = torch.autograd.grad(_loss(torch.stack(states[1:])), states[1:])
    expected = 0.0
    for b in range(3):
        for t in range(1, 6):
            J = torch.autograd.functional.jacobian(lambda h: cell(x[t - 1, b:b + 1], h[None])[0],
                                                   states[t - 1][b].detach())
            g = grads[t - 1][b]
            expected += ((g @ J).norm() / g.norm() - 1) ** 2
    assert omega.item() == pytest.approx(float(expected) / 3)


def test_omega_is_differentiable_in_the_weights():
    torch.manual_seed(0)
    cell = nn.RNNCell(2, 3).double()
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    states = torch.stack(unroll_states(cell, x, torch.zeros(2, 3, dtype=torch.float64))).detach()
    grads = torch.randn(4, 2, 3, dtype=torch.float64)
    w = cell.weight_hh.detach().clone().requires_grad_(True)

    def omega(weight):
        step = lambda xt, h: torch.tanh(xt @ cell.weight_ih.T + cell.bias_ih + h @ weight.T + cell.bias_hh)  # noqa: E731
        return gradient_flow_penalty(step, x, states, grads)

    assert torch.autograd.gradcheck(omega, (w,))


def test_omega_skips_steps_without_gradient():
    cell = _LinearCell(0.5 * torch.eye(3, dtype=torch.float64)).double()
    x = torch.randn(4, 1, 2, dtype=torch.float64)
    states = torch.zeros(5, 1, 3, dtype=torch.float64)
    grads = torch.zeros(4, 1, 3, dtype=torch.float64)
    grads[-1] = 1.0
    assert gradient_flow_penalty(cell, x, states, grads).item() == pytest.approx(0.25)


def test_gradient_norms_of_a_linear_recurrence_decay_geometrically():
    cell = _LinearCell(0.5 * torch.eye(3)).float()
    x = torch.randn(8, 2, 2)
    norms = state_gradient_norms(cell, x, lambda h: h.sum())
    assert norms.shape == (9,)
    ratios = norms[:-1] / norms[1:]
    torch.testing.assert_close(ratios, torch.full((8,), 0.5))
    assert norms[-1].item() == pytest.approx(3 ** 0.5)


@pytest.mark.parametrize("cell", [nn.RNNCell(1, 6), nn.GRUCell(1, 6), nn.LSTMCell(1, 6)])
def test_gradient_norms_for_each_cell_kind(cell):
    norms = state_gradient_norms(cell, torch.randn(10, 4, 1), lambda h: h.pow(2).sum())
    assert norms.shape == (11,) and torch.isfinite(norms).all() and norms[-1] > 0


def test_plot_gradient_norms_writes_a_png(tmp_path):
    path = plot_gradient_norms({"rnn": torch.logspace(-5, 0, 11), "lstm": [1.0] * 11}, tmp_path / "g.png")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"


def test_bad_shapes_raise_value_error():
    cell = nn.RNNCell(2, 3)
    with pytest.raises(ValueError):
        gradient_flow_regularizer(cell, torch.zeros(4, 2), _loss)
    with pytest.raises(ValueError):
        gradient_flow_penalty(cell, torch.zeros(4, 1, 2), torch.zeros(4, 1, 3), torch.zeros(4, 1, 3))
    with pytest.raises(ValueError):
        state_gradient_norms(cell, torch.zeros(0, 1, 2), lambda h: h.sum())
    with pytest.raises(ValueError, match="tensor state"):
        gradient_flow_regularizer(nn.LSTMCell(2, 3), torch.zeros(4, 1, 2), _loss,
                                  state=(torch.zeros(1, 3), torch.zeros(1, 3)))
