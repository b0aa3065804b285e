"""Tests of memnets.training.bptt: TBPTT(k1, k2) against full BPTT and a slow reference."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from memnets.training.bptt import detach_state, truncated_bptt


class _Model(nn.Module):
    def __init__(self, cell="gru"):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(2, 5) if cell == "lstm" else nn.GRU(2, 5)
        self.head = nn.Linear(5, 1)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def _sum_loss(y, target):
    return F.mse_loss(y, target, reduction="sum")


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


def _data(T=12, B=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(T, B, 2, generator=g, dtype=torch.float64), torch.randn(T, B, 1, generator=g,
                                                                                 dtype=torch.float64)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_k_equal_T_is_full_bptt(cell):
    model = _Model(cell).double()
    x, y = _data()
    out, _ = model(x)
    F.mse_loss(out, y).backward()
    full = _grads(model)
    model.zero_grad()
    result = truncated_bptt(model, x, y, F.mse_loss, k1=12, k2=12)
    assert result.updates == 1
    for a, b in zip(_grads(model), full):
        torch.testing.assert_close(a, b)


def test_windows_reaching_the_start_sum_to_full_bptt_with_a_summed_loss():
    model = _Model().double()
    x, y = _data(T=11)
    out, _ = model(x)
    _sum_loss(out, y).backward()
    full = _grads(model)
    model.zero_grad()
    result = truncated_bptt(model, x, y, _sum_loss, k1=3, k2=13)  # k2 - k1 >= T - 1
    assert result.updates == 4  # 3, 6, 9, 11
    for a, b in zip(_grads(model), full):
        torch.testing.assert_close(a, b)


def test_chunked_tbptt_equals_a_hand_written_detached_loop():
    model = _Model("lstm").double()
    x, y = _data(T=10)
    state = None
    for a in range(0, 10, 4):
        out, state = model(x[a:a + 4], state)
        _sum_loss(out, y[a:a + 4]).backward()
        state = detach_state(state)
    expected = _grads(model)
    model.zero_grad()
    result = truncated_bptt(model, x, y, _sum_loss, k1=4)
    for a, b in zip(_grads(model), expected):
        torch.testing.assert_close(a, b)
    full_out, full_state = model(x)
    torch.testing.assert_close(result.state[0], full_state[0].detach())


@pytest.mark.parametrize("k1,k2", [(2, 5), (3, 4), (1, 3), (4, 7)])
def test_overlapping_windows_match_the_definition(k1, k2):
    model = _Model().double()
    x, y = _data(T=13)
    T = 13
    times = list(range(k1, T, k1)) + [T]
    previous = 0
    for t in times:  # slow reference: for each update, forward from 0, detach k2 - k1 steps before the losses
        start = max(0, previous - (k2 - k1))
        with torch.no_grad():
            _, h = model(x[:start]) if start > 0 else (None, None)
        out, _ = model(x[start:t], h)
        _sum_loss(out[previous - start:], y[previous:t]).backward()
        previous = t
    expected = _grads(model)
    model.zero_grad()
    result = truncated_bptt(model, x, y, _sum_loss, k1=k1, k2=k2)
    assert result.updates == len(times)
    for a, b in zip(_grads(model), expected):
        torch.testing.assert_close(a, b)


def test_update_is_called_after_every_window_and_state_carries_over():
    model = _Model()
    x, y = _data(T=10)
    x, y = x.float(), y.float()
    calls = []
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def update():
        calls.append(1)
        opt.step()
        opt.zero_grad()

    before = [p.clone() for p in model.parameters()]
    result = truncated_bptt(model, x, y, F.mse_loss, k1=3, update=update)
    assert len(calls) == 4 == result.updates and len(result.window_losses) == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert not result.state.requires_grad
    again = truncated_bptt(model, x, y, F.mse_loss, k1=5, state=result.state)
    assert again.updates == 2


def test_bad_arguments_raise_value_error():
    model = _Model()
    x, y = torch.zeros(5, 2, 2), torch.zeros(5, 2, 1)
    for kwargs in ({"k1": 0}, {"k1": 3, "k2": 2}, {"k1": 2.5}):
        with pytest.raises(ValueError):
            truncated_bptt(model, x, y, F.mse_loss, **kwargs)
    with pytest.raises(ValueError):
        truncated_bptt(model, x, torch.zeros(4, 2, 1), F.mse_loss, k1=2)
    with pytest.raises(ValueError):
        truncated_bptt(model, torch.zeros(5), y, F.mse_loss, k1=2)
    with pytest.raises(ValueError):
        detach_state(object())
