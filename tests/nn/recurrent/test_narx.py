"""Tests of the classic recurrent models: NARX."""

import pytest
import torch

from memnets.nn.recurrent import NARX
from memnets.nn.recurrent.feedback import unroll


class _StepOnly:
    """Hide a model's teacher-forced fast path so unroll loops step by step."""

    def __init__(self, model):
        self.model, self.input_size, self.output_size = model, model.input_size, model.output_size

    def step(self, x_t, y_prev, state):
        return self.model.step(x_t, y_prev, state)


def test_narx_is_the_formula_from_delay_lines():
    torch.manual_seed(0)
    model = NARX(2, 6, 1, input_delays=3, output_delays=2)
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
    model = NARX(input_size, 8, 2, input_delays=kx, output_delays=ky)
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
    model = NARX(2, 4, 1)
    with pytest.raises(ValueError):
        model(torch.zeros(5, 3, 3), targets=torch.zeros(5, 3, 1))
    with pytest.raises(ValueError):
        model(None, targets=torch.zeros(5, 3, 1))
    with pytest.raises(ValueError):
        NARX(0, 4, 1, output_delays=0)
