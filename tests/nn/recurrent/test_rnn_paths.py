"""The two paths of memnets.RNN/LSTM/GRU: torch's fused kernel equals the gate core.

The gate core (`memnets.functional.gates`) is the definition; the fused kernel is what
`forward` takes where torch has one (and for the coupled and no-forget LSTMs, whose
updates the vanilla kernel computes with rewritten weights). Every configuration the fused path serves is run
both ways, in float64, and the outputs, final states and gradients (input, initial
state, every parameter) must agree.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from memnets.functional.gates import SATURATED
from memnets.nn.recurrent import rnn as rnn_module
from memnets.nn.recurrent.rnn import GRU, LSTM, RNN

DT = torch.float64
I, H = 3, 4
MODELS = {
    "rnn-tanh": lambda **kw: RNN(I, H, nonlinearity="tanh", **kw),
    "rnn-relu": lambda **kw: RNN(I, H, nonlinearity="relu", **kw),
    "lstm": lambda **kw: LSTM(I, H, **kw),
    "lstm-coupled": lambda **kw: LSTM(I, H, variant="coupled", **kw),
    "lstm-no_forget": lambda **kw: LSTM(I, H, variant="no_forget", **kw),
    "gru": lambda **kw: GRU(I, H, **kw),
}


def _pair(name, **kwargs):
    torch.manual_seed(0)
    fused = MODELS[name](dtype=DT, **kwargs)
    gate = MODELS[name](dtype=DT, fused=False, **kwargs)
    gate.load_state_dict(fused.state_dict())
    assert fused.uses_fused_kernel and not gate.uses_fused_kernel
    return fused, gate


def _hx(name, layers, batch):
    g = torch.Generator().manual_seed(5)
    shape = (layers, batch, H) if batch is not None else (layers, H)
    make = lambda: torch.randn(*shape, generator=g, dtype=DT).requires_grad_(True)  # noqa: E731
    return (make(), make()) if name.startswith("lstm") else make()


def _leaves(state):
    return list(state) if isinstance(state, tuple) else [state]


def _run(model, x, hx):
    output, state = model(x, hx)
    data = output.data if isinstance(output, torch.nn.utils.rnn.PackedSequence) else output
    g = torch.Generator().manual_seed(7)
    loss = (data * torch.randn(data.shape, generator=g, dtype=DT)).sum()
    for s in _leaves(state):
        loss = loss + (s * torch.randn(s.shape, generator=g, dtype=DT)).sum()
    return data, _leaves(state), loss


def _check_equal(fused, gate, make_input, hx_of):
    results = []
    for model in (fused, gate):
        x = make_input()
        hx = hx_of()
        data, states, loss = _run(model, x, hx)
        leaves = [x.data if isinstance(x, torch.nn.utils.rnn.PackedSequence) else x, *_leaves(hx),
                  *model.parameters()]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        results.append((data, states, grads))
    (d1, s1, g1), (d2, s2, g2) = results
    torch.testing.assert_close(d1, d2, rtol=1e-10, atol=1e-10)
    for a, b in zip(s1, s2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("batch_first", [False, True], ids=["tbf", "btf"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_equals_gate_core(name, num_layers, bidirectional, bias, batch_first):
    fused, gate = _pair(name, num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                        batch_first=batch_first)
    D = 2 if bidirectional else 1
    shape = (3, 5, I) if batch_first else (5, 3, I)
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(*shape, generator=g, dtype=DT)
    _check_equal(fused, gate, lambda: x0.clone().requires_grad_(True), lambda: _hx(name, num_layers * D, 3))


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_equals_gate_core_on_packed_sequences(name, num_layers, bidirectional, enforce_sorted):
    fused, gate = _pair(name, num_layers=num_layers, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    lengths = torch.tensor([6, 4, 1]) if enforce_sorted else torch.tensor([4, 6, 1])
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(6, 3, I, generator=g, dtype=DT)

    def make_input():
        return pack_padded_sequence(x0.clone().requires_grad_(True), lengths, enforce_sorted=enforce_sorted)

    _check_equal(fused, gate, make_input, lambda: _hx(name, num_layers * D, 3))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_equals_gate_core_unbatched_and_with_dropout(name):
    fused, gate = _pair(name, num_layers=3, dropout=0.5, bidirectional=True)
    x0 = torch.randn(5, I, dtype=DT, generator=torch.Generator().manual_seed(3))
    fused.eval(), gate.eval()  # dropout acts in training only
    _check_equal(fused, gate, lambda: x0.clone().requires_grad_(True), lambda: _hx(name, 6, None))
    fused.train(), gate.train()
    fused.dropout = gate.dropout = 1.0  # every mask drops everything: the same on both paths
    _check_equal(fused, gate, lambda: x0.clone().requires_grad_(True), lambda: _hx(name, 6, None))


def test_fused_path_calls_torchs_kernel_and_gate_core_does_not(monkeypatch):
    calls = []
    for mode, kernel in list(rnn_module._FUSED_KERNELS.items()):
        def counting(*args, _kernel=kernel, _mode=mode):
            calls.append(_mode)
            return _kernel(*args)
        monkeypatch.setitem(rnn_module._FUSED_KERNELS, mode, counting)
    x = torch.randn(4, 2, I)
    for name, make in MODELS.items():
        make()(x)
        make(fused=False)(x)
    assert calls == ["RNN_TANH", "RNN_RELU", "LSTM", "LSTM", "LSTM", "GRU"]
    model = LSTM(I, H)
    model.fused = False  # the attribute switches the path too
    model(x)
    assert len(calls) == 6


def test_only_the_peephole_lstm_leaves_torchs_kernel():
    assert not LSTM(I, H, variant="peephole").uses_fused_kernel
    assert not LSTM(I, H, variant="peephole", skip_connections=True, num_layers=2).uses_fused_kernel
    for kwargs in ({"skip_connections": True, "num_layers": 2},
                   {"variant": "coupled", "skip_connections": True, "num_layers": 2}):
        assert LSTM(I, H, **kwargs).uses_fused_kernel
    assert GRU(I, H, skip_connections=True).uses_fused_kernel and RNN(I, H, skip_connections=True).uses_fused_kernel


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_skip_connections_equal_gate_core(name, bidirectional, packed):
    """Graves' skips in the fused kernel, one layer per call, against the gate-core layers."""
    fused, gate = _pair(name, num_layers=3, bidirectional=bidirectional, skip_connections=True)
    D = 2 if bidirectional else 1
    x0 = torch.randn(5, 3, I, generator=torch.Generator().manual_seed(6), dtype=DT)
    if packed:
        def make_input():
            return pack_padded_sequence(x0.clone().requires_grad_(True), torch.tensor([3, 5, 1]), enforce_sorted=False)
    else:
        def make_input():
            return x0.clone().requires_grad_(True)
    _check_equal(fused, gate, make_input, lambda: _hx(name, 3 * D, 3))
    fused.train(), gate.train()
    fused.dropout = gate.dropout = 1.0  # every mask drops everything: the same on both paths
    _check_equal(fused, gate, make_input, lambda: _hx(name, 3 * D, 3))


def test_fused_skip_connections_call_the_kernel_once_per_layer(monkeypatch):
    calls = []
    kernel = rnn_module._FUSED_KERNELS["LSTM"]

    def counting(*args):
        calls.append(args[4] if len(args) == 9 else args[3])  # num_layers
        return kernel(*args)

    monkeypatch.setitem(rnn_module._FUSED_KERNELS, "LSTM", counting)
    LSTM(I, H, num_layers=3, skip_connections=True)(torch.randn(4, 2, I))
    assert calls == [1, 1, 1]
    LSTM(I, H, num_layers=3)(torch.randn(4, 2, I))
    assert calls == [1, 1, 1, 3]


def test_fused_is_validated():
    with pytest.raises(TypeError, match="fused should be of type bool"):
        LSTM(I, H, fused=1)


@pytest.mark.parametrize("fused", [True, False])
def test_the_path_does_not_change_the_state_dict(fused):
    for name, make in MODELS.items():
        model = make(fused=fused)
        assert model.fused is fused
        if "-" not in name or name.startswith("rnn"):
            assert set(model.state_dict()) == set(getattr(torch.nn, type(model).__name__)(I, H).state_dict())


def test_the_saturated_forget_gate_is_exactly_one_in_every_dtype():
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64):
        value = torch.tensor(SATURATED, dtype=dtype)
        assert torch.sigmoid(value).item() == 1.0
        assert (torch.sigmoid(value) * (1 - torch.sigmoid(value))).item() == 0.0


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
def test_peephole_sequence_equals_the_autograd_loop(num_layers, bidirectional, bias, batch_first):
    torch.manual_seed(0)
    kwargs = dict(variant="peephole", num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                  batch_first=batch_first, dtype=DT)
    hand, loop = LSTM(I, H, **kwargs), LSTM(I, H, fused=False, **kwargs)
    loop.load_state_dict(hand.state_dict())
    assert hand.uses_peephole_sequence and not loop.uses_peephole_sequence
    with torch.no_grad():
        hand.weight_peephole_l0.mul_(3.0)  # peepholes that matter
        loop.weight_peephole_l0.copy_(hand.weight_peephole_l0)
    D = 2 if bidirectional else 1
    x0 = torch.randn(*((3, 6, I) if batch_first else (6, 3, I)), dtype=DT, generator=torch.Generator().manual_seed(4))
    _check_equal(hand, loop, lambda: x0.clone().requires_grad_(True), lambda: _hx("lstm", num_layers * D, 3))


def test_peephole_sequence_gradcheck():
    from memnets.nn.recurrent._peephole import peephole_lstm_sequence

    g = torch.Generator().manual_seed(0)
    args = [torch.randn(*shape, generator=g, dtype=DT).requires_grad_(True)
            for shape in ((4, 2, 4 * H), (2, H), (2, H), (4 * H, H), (3, H))]
    assert torch.autograd.gradcheck(peephole_lstm_sequence, args)
    one_step = [arg[:1].detach().requires_grad_(True) if k == 0 else arg for k, arg in enumerate(args)]
    assert torch.autograd.gradcheck(peephole_lstm_sequence, one_step)  # T = 1
    no_weights = [arg.detach() if k >= 3 else arg for k, arg in enumerate(args)]  # gradients of xw and states only
    assert torch.autograd.gradcheck(peephole_lstm_sequence, no_weights)


@pytest.mark.parametrize("steps", [1, 7])
@pytest.mark.parametrize(("num_layers", "bidirectional", "skip"), [(1, False, False), (2, True, False), (3, True, True)])
def test_peephole_sequence_equals_the_gate_core_per_layer(num_layers, bidirectional, skip, steps):
    """Every layer's peepholes scaled up so they matter; T = 1 and stacked, bidirectional, skip layers."""
    torch.manual_seed(1)
    kwargs = {"variant": "peephole", "num_layers": num_layers, "bidirectional": bidirectional,
              "skip_connections": skip, "dtype": DT}
    hand, loop = LSTM(I, H, **kwargs), LSTM(I, H, fused=False, **kwargs)
    with torch.no_grad():
        for name, weight in hand.named_parameters():
            if "peephole" in name:
                weight.mul_(4.0)
    loop.load_state_dict(hand.state_dict())
    assert hand.uses_peephole_sequence and not loop.uses_peephole_sequence
    D = 2 if bidirectional else 1
    x0 = torch.randn(steps, 2, I, dtype=DT, generator=torch.Generator().manual_seed(8))
    _check_equal(hand, loop, lambda: x0.clone().requires_grad_(True), lambda: _hx("lstm", num_layers * D, 2))


@pytest.mark.parametrize("fused", [True, False])
def test_peephole_lstm_takes_an_empty_batch(fused):
    model = LSTM(I, H, variant="peephole", num_layers=2, bidirectional=True, fused=fused)
    x = torch.zeros(5, 0, I, requires_grad=True)
    output, (h_n, c_n) = model(x)
    assert output.shape == (5, 0, 2 * H) and h_n.shape == c_n.shape == (4, 0, H)
    output.sum().backward()
    assert x.grad.shape == x.shape
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())



@pytest.mark.parametrize("name", sorted(MODELS))
def test_fused_skip_connections_draw_the_gate_cores_dropout_masks(name):
    """With dropout 0.5 between layers, the fused skip path draws its masks with the same
    random calls as the gate-core layers: the same seed gives the same outputs and gradients."""
    fused, gate = _pair(name, num_layers=3, skip_connections=True, dropout=0.5)
    fused.train(), gate.train()
    x0 = torch.randn(5, 3, I, generator=torch.Generator().manual_seed(7), dtype=DT)
    results = []
    for model in (fused, gate):
        x = x0.clone().requires_grad_(True)
        torch.manual_seed(11)
        out = model(x)[0]
        out.square().sum().backward()
        results.append((out, x.grad))
    (out_f, grad_f), (out_g, grad_g) = results
    assert torch.allclose(out_f, out_g) and torch.allclose(grad_f, grad_g)
    torch.manual_seed(12)
    assert not torch.allclose(fused(x0)[0], out_f)  # the masks do change the output
