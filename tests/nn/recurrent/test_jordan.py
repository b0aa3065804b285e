"""Tests of the classic recurrent models: JordanRNN."""

import pytest
import torch

from memnets.nn.recurrent import JordanRNN
from memnets.nn.recurrent.feedback import unroll


class _StepOnly:
    """Hide a model's teacher-forced fast path so unroll loops step by step."""

    def __init__(self, model):
        self.model, self.input_size, self.output_size = model, model.input_size, model.output_size

    def step(self, x_t, y_prev, state):
        return self.model.step(x_t, y_prev, state)


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
