"""Tests of the gated-update core, memnets.functional.gates.

Every function is checked against a slow reference written element by element from the
paper's equations, against torch.nn where torch has the same update, with gradcheck in
float64, and for the ValueErrors of malformed input.
"""

from __future__ import annotations

import math

import pytest
import torch

from memnets.functional import gates as G
from memnets.functional.gates import (
    gru_update,
    leaky_update,
    lstm_num_gates,
    lstm_update,
    rnn_update,
    tree_lstm_update,
)

B, HD = 3, 4
DT = torch.float64
ATOL = 1e-12


def _sig(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


_PHI = {"tanh": math.tanh, "relu": lambda v: max(v, 0.0)}


def _randn(*shape, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=DT).requires_grad_(requires_grad)


# --------------------------------------------------------------- references
def _ref_lstm(gates, c, variant, peep=None):
    """Element-by-element LSTM update from the equations of each variant."""
    gates, c = gates.tolist(), c.tolist()
    p = peep.tolist() if peep is not None else None
    hs, cs = [], []
    for b in range(len(c)):
        hrow, crow = [], []
        for j in range(len(c[b])):
            a = [gates[b][k * len(c[b]) + j] for k in range(lstm_num_gates(variant))]
            cp = c[b][j]
            if variant == "vanilla":
                i, f, g, o = _sig(a[0]), _sig(a[1]), math.tanh(a[2]), _sig(a[3])
                cn = f * cp + i * g
            elif variant == "peephole":
                i, f, g = _sig(a[0] + p[0][j] * cp), _sig(a[1] + p[1][j] * cp), math.tanh(a[2])
                cn = f * cp + i * g
                o = _sig(a[3] + p[2][j] * cn)
            elif variant == "coupled":
                f, g, o = _sig(a[0]), math.tanh(a[1]), _sig(a[2])
                cn = f * cp + (1 - f) * g
            else:  # no_forget
                i, g, o = _sig(a[0]), math.tanh(a[1]), _sig(a[2])
                cn = cp + i * g
            hrow.append(o * math.tanh(cn))
            crow.append(cn)
        hs.append(hrow)
        cs.append(crow)
    return torch.tensor(hs, dtype=DT), torch.tensor(cs, dtype=DT)


def _ref_gru(gi, gh, h):
    gi, gh, h = gi.tolist(), gh.tolist(), h.tolist()
    out = []
    for b in range(len(h)):
        n_units = len(h[b])
        row = []
        for j in range(n_units):
            r = _sig(gi[b][j] + gh[b][j])
            z = _sig(gi[b][n_units + j] + gh[b][n_units + j])
            n = math.tanh(gi[b][2 * n_units + j] + r * gh[b][2 * n_units + j])
            row.append((1 - z) * n + z * h[b][j])
        out.append(row)
    return torch.tensor(out, dtype=DT)


def _ref_tree(gates, forget, child_c, parent):
    n_units = child_c.shape[1] if child_c.numel() else gates.shape[1] // 3
    gates, forget, child_c, parent = gates.tolist(), forget.tolist(), child_c.tolist(), parent.tolist()
    hs, cs = [], []
    for v in range(len(gates)):
        hrow, crow = [], []
        for j in range(n_units):
            i, u, o = _sig(gates[v][j]), math.tanh(gates[v][n_units + j]), _sig(gates[v][2 * n_units + j])
            c = i * u + sum(_sig(forget[e][j]) * child_c[e][j] for e in range(len(parent)) if parent[e] == v)
            hrow.append(o * math.tanh(c))
            crow.append(c)
        hs.append(hrow)
        cs.append(crow)
    return torch.tensor(hs, dtype=DT), torch.tensor(cs, dtype=DT)


# ------------------------------------------------------------------ rnn_update
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_update_matches_reference_and_gradcheck(nonlinearity):
    pre = _randn(B, HD, requires_grad=True)
    expected = torch.tensor([[_PHI[nonlinearity](v) for v in row] for row in pre.tolist()], dtype=DT)
    torch.testing.assert_close(rnn_update(pre, nonlinearity), expected, atol=ATOL, rtol=0)
    assert torch.autograd.gradcheck(lambda p: rnn_update(p, nonlinearity), (pre,))


def test_rnn_update_unknown_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn_update(torch.zeros(2, 3), "sigmoid")


# ----------------------------------------------------------------- lstm_update
@pytest.mark.parametrize("variant", ["vanilla", "peephole", "coupled", "no_forget"])
def test_lstm_update_matches_reference_and_gradcheck(variant):
    num = lstm_num_gates(variant)
    gates = _randn(B, num * HD, seed=1, requires_grad=True)
    c = _randn(B, HD, seed=2, requires_grad=True)
    peep = _randn(3, HD, seed=3, requires_grad=True) if variant == "peephole" else None
    h, c_new = lstm_update(gates, c, variant=variant, peephole=peep)
    h_ref, c_ref = _ref_lstm(gates, c, variant, peep)
    torch.testing.assert_close(h, h_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(c_new, c_ref, atol=ATOL, rtol=0)
    if variant == "peephole":
        fn = lambda a, b, p: lstm_update(a, b, variant=variant, peephole=p)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (gates, c, peep))
    else:
        assert torch.autograd.gradcheck(lambda a, b: lstm_update(a, b, variant=variant), (gates, c))


def test_lstm_update_equals_torch_lstm_cell():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(5, HD).double()
    x, h, c = _randn(B, 5, seed=1), _randn(B, HD, seed=2), _randn(B, HD, seed=3)
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    got = lstm_update(gates, c)
    want = cell(x, (h, c))
    torch.testing.assert_close(got[0], want[0], atol=ATOL, rtol=0)
    torch.testing.assert_close(got[1], want[1], atol=ATOL, rtol=0)


def test_lstm_update_unchecked_is_the_same_arithmetic():
    for variant in G.LSTM_VARIANTS:
        gates, c = _randn(B, lstm_num_gates(variant) * HD, seed=4), _randn(B, HD, seed=5)
        peep = _randn(3, HD, seed=6) if variant == "peephole" else None
        a = lstm_update(gates, c, variant=variant, peephole=peep)
        b = G._lstm_update_unchecked(gates, c, variant, peep)
        assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(gates=torch.zeros(B, 3 * HD), c=torch.zeros(B, HD)), r"expected gates of shape .*got \(3, 12\)"),
        (dict(gates=torch.zeros(B + 1, 4 * HD), c=torch.zeros(B, HD)), r"expected gates .*got \(4, 16\)"),
        (dict(gates=torch.zeros(4 * HD), c=torch.zeros(HD)), r"expected c of rank 2.*got rank 1"),
        (dict(gates=torch.zeros(B, 4 * HD), c=torch.zeros(B, HD), variant="peephole"), r"needs peephole"),
        (dict(gates=torch.zeros(B, 4 * HD), c=torch.zeros(B, HD), variant="peephole",
              peephole=torch.zeros(4, HD)), r"expected peephole of shape \(3, Hd=4\), got \(4, 4\)"),
        (dict(gates=torch.zeros(B, 4 * HD), c=torch.zeros(B, HD), peephole=torch.zeros(3, HD)), r"only used"),
        (dict(gates=torch.zeros(B, 4 * HD), c=torch.zeros(B, HD), variant="gru"), r"LSTM variant"),
    ],
)
def test_lstm_update_value_errors(kwargs, match):
    gates, c = kwargs.pop("gates"), kwargs.pop("c")
    with pytest.raises(ValueError, match=match):
        lstm_update(gates, c, **kwargs)


# ------------------------------------------------------------------ gru_update
def test_gru_update_matches_reference_torch_and_gradcheck():
    gi = _randn(B, 3 * HD, seed=1, requires_grad=True)
    gh = _randn(B, 3 * HD, seed=2, requires_grad=True)
    h = _randn(B, HD, seed=3, requires_grad=True)
    torch.testing.assert_close(gru_update(gi, gh, h), _ref_gru(gi, gh, h), atol=ATOL, rtol=0)
    assert torch.autograd.gradcheck(gru_update, (gi, gh, h))

    torch.manual_seed(0)
    cell = torch.nn.GRUCell(5, HD).double()
    x = _randn(B, 5, seed=4)
    got = gru_update(x @ cell.weight_ih.T + cell.bias_ih, h @ cell.weight_hh.T + cell.bias_hh, h)
    torch.testing.assert_close(got, cell(x, h), atol=ATOL, rtol=0)


def test_gru_update_value_errors():
    with pytest.raises(ValueError, match=r"expected gi of shape \(B=3, G=12\), got \(3, 8\)"):
        gru_update(torch.zeros(B, 8), torch.zeros(B, 12), torch.zeros(B, HD))
    with pytest.raises(ValueError, match=r"expected gh .*got \(2, 12\)"):
        gru_update(torch.zeros(B, 12), torch.zeros(2, 12), torch.zeros(B, HD))
    with pytest.raises(ValueError, match=r"expected h of rank 2"):
        gru_update(torch.zeros(B, 12), torch.zeros(B, 12), torch.zeros(HD))


# ---------------------------------------------------------------- leaky_update
@pytest.mark.parametrize("alpha_shape", [(HD,), (B, HD)])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_leaky_update_matches_reference_and_gradcheck(alpha_shape, nonlinearity):
    pre = _randn(B, HD, seed=1, requires_grad=True)
    h = _randn(B, HD, seed=2, requires_grad=True)
    alpha = torch.rand(*alpha_shape, generator=torch.Generator().manual_seed(3), dtype=DT).requires_grad_()
    a = alpha.expand(B, HD).tolist()
    expected = torch.tensor(
        [[(1 - a[b][j]) * h[b, j].item() + a[b][j] * _PHI[nonlinearity](pre[b, j].item()) for j in range(HD)]
         for b in range(B)],
        dtype=DT,
    )
    out = leaky_update(pre, h, alpha, nonlinearity)
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    assert torch.autograd.gradcheck(lambda p, s, r: leaky_update(p, s, r, nonlinearity), (pre, h, alpha))


def test_leaky_update_limits():
    pre, h = _randn(B, HD, seed=1), _randn(B, HD, seed=2)
    torch.testing.assert_close(leaky_update(pre, h, torch.ones(HD, dtype=DT)), rnn_update(pre), atol=ATOL, rtol=0)
    torch.testing.assert_close(leaky_update(pre, h, torch.zeros(HD, dtype=DT)), h, atol=0, rtol=0)


def test_leaky_update_value_errors():
    with pytest.raises(ValueError, match=r"expected alpha of shape \(Hd=4\), got \(3,\)"):
        leaky_update(torch.zeros(B, HD), torch.zeros(B, HD), torch.zeros(3))
    with pytest.raises(ValueError, match=r"expected pre .*got \(3, 5\)"):
        leaky_update(torch.zeros(B, 5), torch.zeros(B, HD), torch.zeros(HD))


# ------------------------------------------------------------ tree_lstm_update
def test_tree_lstm_update_matches_reference_and_gradcheck():
    gates = _randn(3, 3 * HD, seed=1, requires_grad=True)
    forget = _randn(5, HD, seed=2, requires_grad=True)
    child_c = _randn(5, HD, seed=3, requires_grad=True)
    parent = torch.tensor([0, 0, 2, 0, 2])  # node 1 has no children
    h, c = tree_lstm_update(gates, forget, child_c, parent)
    h_ref, c_ref = _ref_tree(gates, forget, child_c, parent)
    torch.testing.assert_close(h, h_ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(c, c_ref, atol=ATOL, rtol=0)
    assert torch.autograd.gradcheck(lambda a, f, k: tree_lstm_update(a, f, k, parent), (gates, forget, child_c))


def test_tree_lstm_one_child_per_node_is_lstm_update():
    lstm_gates, c = _randn(B, 4 * HD, seed=1), _randn(B, HD, seed=2)
    a_i, a_f, a_g, a_o = lstm_gates.chunk(4, dim=-1)
    h_tree, c_tree = tree_lstm_update(torch.cat([a_i, a_g, a_o], dim=-1), a_f, c, torch.arange(B))
    h_lstm, c_lstm = lstm_update(lstm_gates, c)
    torch.testing.assert_close(h_tree, h_lstm, atol=ATOL, rtol=0)
    torch.testing.assert_close(c_tree, c_lstm, atol=ATOL, rtol=0)


def test_tree_lstm_empty_child_set():
    gates = _randn(2, 3 * HD, seed=1, requires_grad=True)
    empty = torch.zeros(0, HD, dtype=DT)
    h, c = tree_lstm_update(gates, empty, empty, torch.zeros(0, dtype=torch.long))
    a_i, a_u, a_o = gates.chunk(3, dim=-1)
    torch.testing.assert_close(c, torch.sigmoid(a_i) * torch.tanh(a_u), atol=ATOL, rtol=0)
    torch.testing.assert_close(h, torch.sigmoid(a_o) * torch.tanh(c), atol=ATOL, rtol=0)
    assert torch.isfinite(h).all()
    zero_index = torch.zeros(0, dtype=torch.long)
    assert torch.autograd.gradcheck(lambda a: tree_lstm_update(a, empty, empty, zero_index), (gates,))


def test_tree_lstm_update_value_errors():
    z = torch.zeros
    with pytest.raises(ValueError, match=r"expected gates of shape \(V=2, G=12\), got \(2, 8\)"):
        tree_lstm_update(z(2, 8), z(3, HD), z(3, HD), torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match=r"expected parent of shape \(E=3\), got \(2,\)"):
        tree_lstm_update(z(2, 12), z(3, HD), z(3, HD), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"expected forget"):
        tree_lstm_update(z(2, 12), z(2, HD), z(3, HD), torch.tensor([0, 0, 1]))
    with pytest.raises(ValueError, match=r"integer parent index, got dtype torch.float32"):
        tree_lstm_update(z(2, 12), z(3, HD), z(3, HD), z(3))
