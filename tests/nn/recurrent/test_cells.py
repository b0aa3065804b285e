"""Tests of memnets.nn.recurrent.cells: equality with torch.nn cells, the LSTM variants and the
leaky cell against slow references from their equations, and the shape errors."""

from __future__ import annotations

import pytest
import torch

import memnets
from memnets.nn.recurrent.cells import GRUCell, LeakyRNNCell, LSTMCell, RNNCell

I, H, B = 5, 4, 3
DT = torch.float64
ATOL = 1e-10

# (memnets class, torch class, constructor kwargs)
VANILLA = [
    pytest.param(RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}, id="rnn-tanh"),
    pytest.param(RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}, id="rnn-relu"),
    pytest.param(LSTMCell, torch.nn.LSTMCell, {}, id="lstm"),
    pytest.param(GRUCell, torch.nn.GRUCell, {}, id="gru"),
]


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


def _state(cls, batch_shape, seed):
    """A random hidden state for a cell: a tensor, or the tuple (h, c) for an LSTM cell."""
    if cls in (LSTMCell, torch.nn.LSTMCell):
        return (_randn(*batch_shape, H, seed=seed), _randn(*batch_shape, H, seed=seed + 1))
    return _randn(*batch_shape, H, seed=seed)


def _leaves(state):
    return list(state) if isinstance(state, tuple) else [state]


def _loss(out, seed=7):
    """A random weighting of every output, so every output's gradient is checked."""
    return sum((o * _randn(*o.shape, seed=seed + k)).sum() for k, o in enumerate(_leaves(out)))


def _forward_backward(cell, x, hx):
    x = x.clone().requires_grad_()
    hx = None if hx is None else tuple(s.clone().requires_grad_() for s in _leaves(hx))
    arg = hx if hx is None or len(hx) == 2 else hx[0]
    out = cell(x, arg)
    inputs = [x, *(hx or ()), *cell.parameters()]
    grads = torch.autograd.grad(_loss(out), inputs)
    return out, grads


def _assert_same(a, b):
    for u, v in zip(_leaves(a), _leaves(b)):
        torch.testing.assert_close(u, v, atol=ATOL, rtol=0)


# ------------------------------------------------------------ torch equality
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("cls", "torch_cls", "kwargs"), VANILLA)
def test_vanilla_cells_match_torch(cls, torch_cls, kwargs, bias):
    torch.manual_seed(0)
    ref = torch_cls(I, H, bias=bias, dtype=DT, **kwargs)
    ours = cls(I, H, bias=bias, dtype=DT, **kwargs)
    ours.load_state_dict(ref.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert repr(ours) == repr(ref)
    x, hx = _randn(B, I, seed=1), _state(cls, (B,), seed=2)
    for state in (hx, None):
        out, grads = _forward_backward(ours, x, state)
        out_ref, grads_ref = _forward_backward(ref, x, state)
        _assert_same(out, out_ref)
        assert len(grads) == len(grads_ref)
        for g, g_ref in zip(grads, grads_ref):
            torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)


@pytest.mark.parametrize(("cls", "torch_cls", "kwargs"), VANILLA)
def test_vanilla_cells_load_into_torch_and_share_init(cls, torch_cls, kwargs):
    torch.manual_seed(3)
    ours = cls(I, H, dtype=DT, **kwargs)
    torch.manual_seed(3)
    ref = torch_cls(I, H, dtype=DT, **kwargs)
    for name, value in ref.state_dict().items():  # same initialisation, draw for draw
        torch.testing.assert_close(ours.state_dict()[name], value, atol=0, rtol=0)
    torch.nn.init.normal_(ours.weight_hh)
    ref.load_state_dict(ours.state_dict())
    x, hx = _randn(B, I, seed=1), _state(cls, (B,), seed=2)
    _assert_same(ours(x, hx), ref(x, hx))


@pytest.mark.parametrize(("cls", "torch_cls", "kwargs"), VANILLA)
def test_unbatched_input(cls, torch_cls, kwargs):
    torch.manual_seed(0)
    ref = torch_cls(I, H, dtype=DT, **kwargs)
    ours = cls(I, H, dtype=DT, **kwargs)
    ours.load_state_dict(ref.state_dict())
    x, hx = _randn(I, seed=1), _state(cls, (), seed=2)
    for state in (hx, None):
        out = ours(x, state)
        assert all(o.shape == (H,) for o in _leaves(out))
        _assert_same(out, ref(x, state))


def test_reset_parameters_bounds():
    cell = LSTMCell(I, 16)
    cell.reset_parameters()
    for p in cell.parameters():
        assert p.abs().max() <= 0.25 and p.std() > 0.05


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(("cls", "torch_cls", "kwargs"), VANILLA)
def test_shape_errors(cls, torch_cls, kwargs):
    cell = cls(I, H, **kwargs)
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape .*got rank 3 with shape \(2, 3, 5\)"):
        cell(torch.zeros(2, 3, I))
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(B=3, I=5\), got \(3, 6\)"):
        cell(torch.zeros(B, I + 1))
    with pytest.raises(ValueError, match=r"expected input of shape \(I=5\), got \(6,\)"):
        cell(torch.zeros(I + 1))
    bad = {"wrong batch": ((B + 1, H), r"shape \(B=3, H=4\), got \(4, 4\)"),
           "wrong size": ((B, H + 1), r"shape \(B=3, H=4\), got \(3, 5\)"),
           "wrong rank": ((H,), r"of rank 2 with shape \(B=3, H=4\), got rank 1")}
    for shape, match in bad.values():
        state = torch.zeros(shape)
        hx = (state, torch.zeros(B, H)) if cls is LSTMCell else state
        with pytest.raises(ValueError, match="expected .*" + match):
            cell(torch.zeros(B, I), hx)
    with pytest.raises(ValueError, match=r"expected .* of rank 1 with shape \(H=4\), got rank 2"):
        hx = torch.zeros(1, H)
        cell(torch.zeros(I), (hx, torch.zeros(H)) if cls is LSTMCell else hx)


def test_lstm_cell_hx_must_be_a_pair():
    with pytest.raises(ValueError, match=r"tuple \(h, c\)"):
        LSTMCell(I, H)(torch.zeros(B, I), torch.zeros(B, H))
    with pytest.raises(ValueError, match=r"expected c of shape \(B=3, H=4\), got \(3, 5\)"):
        LSTMCell(I, H)(torch.zeros(B, I), (torch.zeros(B, H), torch.zeros(B, H + 1)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(I, H, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="LSTM variant"):
        LSTMCell(I, H, variant="gru")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        GRUCell(I, 0)
    with pytest.raises(TypeError, match="input_size should be of type int"):
        GRUCell(2.0, H)


# ------------------------------------------------------------ LSTM variants
def _variant_reference(cell, x, h, c):
    """One step of an LSTM variant written from the equations with the cell's weights."""
    sig, tanh = torch.sigmoid, torch.tanh
    w_ih, w_hh = cell.weight_ih, cell.weight_hh
    a = x @ w_ih.T + h @ w_hh.T
    if cell.bias:
        a = a + cell.bias_ih + cell.bias_hh
    blocks = [a[:, k * H:(k + 1) * H] for k in range(a.shape[1] // H)]
    if cell.variant == "peephole":
        p_i, p_f, p_o = cell.weight_peephole
        i, f, g = sig(blocks[0] + p_i * c), sig(blocks[1] + p_f * c), tanh(blocks[2])
        c_new = f * c + i * g
        o = sig(blocks[3] + p_o * c_new)
    elif cell.variant == "coupled":
        f, g, o = sig(blocks[0]), tanh(blocks[1]), sig(blocks[2])
        c_new = f * c + (1 - f) * g
    elif cell.variant == "no_forget":
        i, g, o = sig(blocks[0]), tanh(blocks[1]), sig(blocks[2])
        c_new = c + i * g
    else:
        i, f, g, o = (sig(blocks[0]), sig(blocks[1]), tanh(blocks[2]), sig(blocks[3]))
        c_new = f * c + i * g
    return o * tanh(c_new), c_new


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("variant", ["vanilla", "peephole", "coupled", "no_forget"])
def test_lstm_cell_variants_match_reference(variant, bias):
    torch.manual_seed(0)
    cell = LSTMCell(I, H, bias=bias, dtype=DT, variant=variant)
    gates = 3 if variant in ("coupled", "no_forget") else 4
    assert cell.weight_ih.shape == (gates * H, I) and cell.weight_hh.shape == (gates * H, H)
    if variant == "peephole":
        assert cell.weight_peephole.shape == (3, H)
        assert "weight_peephole" in cell.state_dict()
    else:
        assert cell.weight_peephole is None
    x, (h, c) = _randn(B, I, seed=1), _state(LSTMCell, (B,), seed=2)
    out, grads = _forward_backward(cell, x, (h, c))
    ref_cell = type("Ref", (), {"__call__": lambda self, x_, s: _variant_reference(cell, x_, *s),
                                "parameters": lambda self: cell.parameters()})()
    ref, grads_ref = _forward_backward(ref_cell, x, (h, c))
    _assert_same(out, ref)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)
    assert torch.autograd.gradcheck(lambda x_, h_, c_: cell(x_, (h_, c_)),
                                    (x.requires_grad_(), h.requires_grad_(), c.requires_grad_()))


# --------------------------------------------------------------- leaky cell
def test_leaky_cell_matches_reference_and_gradcheck():
    torch.manual_seed(0)
    alpha = [0.9, 0.5, 0.2, 0.05]
    cell = LeakyRNNCell(I, H, dtype=DT, alpha=alpha)
    torch.testing.assert_close(cell.alpha, torch.tensor(alpha, dtype=DT), atol=1e-12, rtol=0)
    x, h = _randn(B, I, seed=1).requires_grad_(), _randn(B, H, seed=2).requires_grad_()
    pre = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    a = torch.sigmoid(cell.alpha_logit)
    expected = (1 - a) * h + a * torch.tanh(pre)
    out = cell(x, h)
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    grads = torch.autograd.grad(_loss(out), [x, h, *cell.parameters()])
    grads_ref = torch.autograd.grad(_loss(expected), [x, h, *cell.parameters()])
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)
    assert cell.alpha_logit.requires_grad and grads[-1].abs().sum() > 0
    assert torch.autograd.gradcheck(cell, (x, h))


def test_leaky_cell_with_unit_rates_is_the_elman_cell():
    torch.manual_seed(0)
    elman = RNNCell(I, H, nonlinearity="relu", dtype=DT)
    leaky = LeakyRNNCell(I, H, nonlinearity="relu", dtype=DT, alpha=1.0, learn_alpha=False)
    leaky.load_state_dict(elman.state_dict() | {"alpha_fixed": torch.ones(H, dtype=DT)})
    x, h = _randn(B, I, seed=1), _randn(B, H, seed=2)
    torch.testing.assert_close(leaky(x, h), elman(x, h), atol=ATOL, rtol=0)
    torch.testing.assert_close(leaky(x[0]), elman(x[0]), atol=ATOL, rtol=0)
    assert [n for n, _ in leaky.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_leaky_cell_fixed_zero_rate_freezes_units():
    cell = LeakyRNNCell(I, 2, alpha=[0.0, 1.0], learn_alpha=False)
    h = torch.randn(B, 2)
    out = cell(torch.randn(B, I), h)
    torch.testing.assert_close(out[:, 0], h[:, 0])


def test_leaky_cell_rates_stay_in_range_and_reset():
    cell = LeakyRNNCell(I, H, alpha=0.3)
    with torch.no_grad():
        cell.alpha_logit.fill_(50.0)
    assert ((cell.alpha > 0) & (cell.alpha <= 1)).all()
    cell.reset_parameters()
    torch.testing.assert_close(cell.alpha, torch.full((H,), 0.3))


@pytest.mark.parametrize(("alpha", "learn"), [(0.0, True), (1.0, True), (1.5, False), (-0.1, False), ([0.5] * 3, True)])
def test_leaky_cell_bad_rates(alpha, learn):
    with pytest.raises(ValueError, match="alpha"):
        LeakyRNNCell(I, H, alpha=alpha, learn_alpha=learn)


def test_cells_exported_from_memnets():
    assert memnets.RNNCell is RNNCell and memnets.LSTMCell is LSTMCell
    assert memnets.GRUCell is GRUCell and memnets.LeakyRNNCell is LeakyRNNCell
