"""Tests of memnets.nn.recurrent.rnn: RNN, LSTM and GRU against torch.nn (outputs and gradients,
state dicts both ways, PackedSequence, unbatched input, dropout), the LSTM variants
against a per-step reference, the skip connections against a composition of single
layers, and the shape errors."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import memnets
from memnets.nn.recurrent.rnn import GRU, LSTM, RNN, _RNNBase

T, B, I, H = 4, 3, 5, 4
DT = torch.float64
ATOL = 1e-10
OURS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}

# (family, extra constructor kwargs): RNN twice, for both nonlinearities.
MODES = [
    pytest.param("RNN", {"nonlinearity": "tanh"}, id="rnn-tanh"),
    pytest.param("RNN", {"nonlinearity": "relu"}, id="rnn-relu"),
    pytest.param("LSTM", {}, id="lstm"),
    pytest.param("GRU", {}, id="gru"),
]


@pytest.fixture(autouse=True, params=["fused", "gate-core"])
def path(request, monkeypatch):
    """Every test of this module runs on both paths: torch's fused kernel (where the
    configuration has one) and the gate core, forced."""
    if request.param == "gate-core":
        monkeypatch.setattr(_RNNBase, "uses_fused_kernel", property(lambda self: False))
        monkeypatch.setattr(_RNNBase, "uses_peephole_sequence", property(lambda self: False))
    return request.param


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT)


def _pair(family, seed=0, **kwargs):
    """A torch module and a memnets module with the torch module's weights loaded."""
    kwargs.setdefault("dtype", DT)
    torch.manual_seed(seed)
    ref = getattr(torch.nn, family)(I, H, **kwargs)
    ours = OURS[family](I, H, **kwargs)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def _initial_state(family, layers, batch_shape, seed=10):
    shape = (layers, *batch_shape, H)
    if family == "LSTM":
        return (_randn(*shape, seed=seed), _randn(*shape, seed=seed + 1))
    return _randn(*shape, seed=seed)


def _leaves(state):
    return list(state) if isinstance(state, tuple) else [state]


def _data(out):
    return out.data if isinstance(out, torch.nn.utils.rnn.PackedSequence) else out


def _loss(output, state, seed=20):
    """A random weighting of the output and of every final state."""
    parts = [_data(output), *_leaves(state)]
    return sum((p * _randn(*p.shape, seed=seed + k)).sum() for k, p in enumerate(parts))


def _forward_backward(model, x, hx, make_input=None):
    """Outputs, final states and the gradients wrt x, the initial state and every parameter.

    ``make_input`` turns the leaf ``x`` into the model input (e.g. packs it).
    """
    x = x.clone().requires_grad_()
    leaves = [] if hx is None else [s.clone().requires_grad_() for s in _leaves(hx)]
    state = None if hx is None else (tuple(leaves) if isinstance(hx, tuple) else leaves[0])
    output, final = model(make_input(x) if make_input else x, state)
    params = [(n.removeprefix("model."), p) for n, p in model.named_parameters() if p.requires_grad]
    names = [n for n, _ in params]
    grads = torch.autograd.grad(_loss(output, final), [x, *leaves, *(p for _, p in params)])
    named = dict(zip(["input"] + [f"hx{k}" for k in range(len(leaves))] + names, grads))
    return output, final, named


def _assert_same_run(a, b):
    (out_a, fin_a, grads_a), (out_b, fin_b, grads_b) = a, b
    torch.testing.assert_close(_data(out_a), _data(out_b), atol=ATOL, rtol=0)
    assert len(_leaves(fin_a)) == len(_leaves(fin_b))
    for u, v in zip(_leaves(fin_a), _leaves(fin_b)):
        torch.testing.assert_close(u, v, atol=ATOL, rtol=0)
    assert grads_a.keys() == grads_b.keys()
    for name in grads_a:
        torch.testing.assert_close(grads_a[name], grads_b[name], atol=ATOL, rtol=0, msg=f"gradient wrt {name}")


# ------------------------------------------------------------- torch equality
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["tbf", "btf"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize(("family", "extra"), MODES)
def test_matches_torch(family, extra, num_layers, bidirectional, batch_first, bias):
    ours, ref = _pair(family, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                      bias=bias, **extra)
    assert list(ours.state_dict()) == list(ref.state_dict())
    if extra.get("nonlinearity") != "relu":  # torch's repr does not show the nonlinearity
        assert repr(ours) == repr(ref)
    x = _randn(*((B, T) if batch_first else (T, B)), I, seed=1)
    hx = _initial_state(family, num_layers * (2 if bidirectional else 1), (B,))
    _assert_same_run(_forward_backward(ours, x, hx), _forward_backward(ref, x, hx))


@pytest.mark.parametrize(("family", "extra"), MODES)
def test_zero_initial_state_and_state_dict_into_torch(family, extra):
    torch.manual_seed(5)
    ours = OURS[family](I, H, num_layers=2, bidirectional=True, dtype=DT, **extra)
    torch.manual_seed(5)
    ref = getattr(torch.nn, family)(I, H, num_layers=2, bidirectional=True, dtype=DT, **extra)
    for name, value in ref.state_dict().items():  # same initialisation, draw for draw
        torch.testing.assert_close(ours.state_dict()[name], value, atol=0, rtol=0)
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_()
    ref.load_state_dict(ours.state_dict())
    x = _randn(T, B, I, seed=1)
    _assert_same_run(_forward_backward(ours, x, None), _forward_backward(ref, x, None))


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(("family", "extra"), MODES)
def test_unbatched_input(family, extra, bidirectional):
    ours, ref = _pair(family, num_layers=2, bidirectional=bidirectional, batch_first=True, **extra)
    x = _randn(T, I, seed=1)
    hx = _initial_state(family, 2 * (2 if bidirectional else 1), ())
    out, final, _ = run = _forward_backward(ours, x, hx)
    assert out.shape == (T, (2 if bidirectional else 1) * H)
    assert all(s.shape == (2 * (2 if bidirectional else 1), H) for s in _leaves(final))
    _assert_same_run(run, _forward_backward(ref, x, hx))
    _assert_same_run(_forward_backward(ours, x, None), _forward_backward(ref, x, None))


@pytest.mark.parametrize(("family", "extra"), MODES)
def test_dropout_in_eval_mode_equals_torch_and_acts_in_training(family, extra):
    with pytest.warns(UserWarning, match="dropout"):
        OURS[family](I, H, dropout=0.5)
    ours, ref = _pair(family, num_layers=3, dropout=0.5, bidirectional=True, **extra)
    ours.eval()
    ref.eval()
    x = _randn(T, B, I, seed=1)
    _assert_same_run(_forward_backward(ours, x, None), _forward_backward(ref, x, None))
    ours.train()
    torch.manual_seed(0)
    first, _ = ours(x)
    second, _ = ours(x)
    assert not torch.allclose(first, second)  # a fresh dropout mask each call
    single, _ = _pair(family, num_layers=1, **extra)
    single.train()
    torch.testing.assert_close(single(x)[0], single.eval()(x)[0], atol=0, rtol=0)  # no dropout without layers


# ------------------------------------------- autograd paths of the time loop
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize(("family", "extra"), MODES)
def test_second_derivatives_match_torch(family, extra, packed):
    """Double backward (create_graph=True), e.g. for a gradient penalty, equals torch's."""
    ours, ref = _pair(family, num_layers=2, bidirectional=True, **extra)
    x = _randn(T, B, I, seed=1)
    results = []
    for model in (ours, ref):
        leaf = x.clone().requires_grad_()
        inp = pack_padded_sequence(leaf, torch.tensor([2, 4, 3]), enforce_sorted=False) if packed else leaf
        output, final = model(inp)
        params = list(model.parameters())
        first = torch.autograd.grad(_loss(output, final), [leaf, *params], create_graph=True)
        penalty = sum((g * _randn(*g.shape, seed=40 + k)).sum() for k, g in enumerate(first))
        results.append(torch.autograd.grad(penalty, [leaf, *params]))
    for g, g_ref in zip(*results):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)


def test_gradgradcheck():
    torch.manual_seed(0)
    model = LSTM(2, 2, num_layers=2, bidirectional=True, dtype=DT)
    x = _randn(3, 2, 2, seed=1).requires_grad_()
    assert torch.autograd.gradgradcheck(lambda v, w: functional_call(model, {"weight_hh_l1": w}, (v,))[0],
                                        (x, model.weight_hh_l1.detach().clone().requires_grad_()))


@pytest.mark.parametrize(("family", "extra"), MODES)
def test_no_grad_and_frozen_recurrent_weights(family, extra):
    ours, ref = _pair(family, num_layers=2, bidirectional=True, **extra)
    x = _randn(T, B, I, seed=1)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], ref(x)[0], atol=ATOL, rtol=0)
    for model in (ours, ref):
        model.weight_hh_l0.requires_grad_(False)
        model.weight_hh_l1_reverse.requires_grad_(False)
    _assert_same_run(_forward_backward(ours, x, None), _forward_backward(ref, x, None))


@pytest.mark.parametrize(("family", "extra"), MODES)
def test_outputs_support_in_place_ops_and_repeated_backward(family, extra):
    ours, ref = _pair(family, num_layers=2, **extra)
    x = _randn(T, B, I, seed=1)
    grads = []
    for model in (ours, ref):
        output, final = model(x)
        output.mul_(2.0)
        _leaves(final)[0].relu_()
        loss = _loss(output, final)
        first = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
        second = torch.autograd.grad(loss, list(model.parameters()))
        grads.append(first)
        for g, g_again in zip(first, second):
            torch.testing.assert_close(g, g_again, atol=0, rtol=0)
    for g, g_ref in zip(*grads):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)


# -------------------------------------------------------------- PackedSequence
LENGTHS = [3, 4, 1, 2]  # unsorted, with a length-1 sequence


@pytest.mark.parametrize("enforce_sorted", [False, True])
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, True)])
@pytest.mark.parametrize(("family", "extra"), MODES)
def test_packed_sequence_matches_torch(family, extra, num_layers, bidirectional, enforce_sorted):
    ours, ref = _pair(family, num_layers=num_layers, bidirectional=bidirectional, batch_first=True, **extra)
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    x = _randn(len(lengths), max(lengths), I, seed=1)
    pack = lambda v: pack_padded_sequence(v, torch.tensor(lengths), batch_first=True,  # noqa: E731
                                          enforce_sorted=enforce_sorted)
    hx = _initial_state(family, num_layers * (2 if bidirectional else 1), (len(lengths),))
    for state in (hx, None):
        got = _forward_backward(ours, x, state, make_input=pack)
        want = _forward_backward(ref, x, state, make_input=pack)
        assert isinstance(got[0], torch.nn.utils.rnn.PackedSequence)
        assert torch.equal(got[0].batch_sizes, want[0].batch_sizes)
        _assert_same_run(got, want)
        padded, out_lengths = pad_packed_sequence(got[0], batch_first=True)
        assert out_lengths.tolist() == lengths


@pytest.mark.parametrize(("family", "extra"), MODES)
def test_packed_final_state_is_each_sequences_last_valid_state(family, extra):
    """Independent of torch: h_n of a packed batch equals running each sequence alone."""
    torch.manual_seed(0)
    model = OURS[family](I, H, num_layers=2, bidirectional=True, dtype=DT, **extra)
    x = _randn(len(LENGTHS), max(LENGTHS), I, seed=1)
    hx = _initial_state(family, 4, (len(LENGTHS),))
    packed = pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=True, enforce_sorted=False)
    output, final = model(packed, hx)
    padded, _ = pad_packed_sequence(output, batch_first=True)
    for b, length in enumerate(LENGTHS):
        state = tuple(s[:, b] for s in hx) if family == "LSTM" else hx[:, b]
        alone_out, alone_final = model(x[b, :length], state)  # unbatched, exactly its valid steps
        torch.testing.assert_close(padded[b, :length], alone_out, atol=ATOL, rtol=0)
        assert padded[b, length:].abs().max() == 0 if length < max(LENGTHS) else True
        for s, s_alone in zip(_leaves(final), _leaves(alone_final)):
            torch.testing.assert_close(s[:, b], s_alone, atol=ATOL, rtol=0)


# -------------------------------------------------------------- LSTM variants
def _variant_step(variant, a, c, peephole):
    """One LSTM step from the equations of each variant (Greff et al. 2017)."""
    sig, tanh = torch.sigmoid, torch.tanh
    blocks = a.split(H, dim=-1)
    if variant == "peephole":
        p_i, p_f, p_o = peephole
        c_new = sig(blocks[1] + p_f * c) * c + sig(blocks[0] + p_i * c) * tanh(blocks[2])
        return sig(blocks[3] + p_o * c_new) * tanh(c_new), c_new
    if variant == "coupled":
        f = sig(blocks[0])
        c_new = f * c + (1 - f) * tanh(blocks[1])
        return sig(blocks[2]) * tanh(c_new), c_new
    if variant == "no_forget":
        c_new = c + sig(blocks[0]) * tanh(blocks[1])
        return sig(blocks[2]) * tanh(c_new), c_new
    c_new = sig(blocks[1]) * c + sig(blocks[0]) * tanh(blocks[2])
    return sig(blocks[3]) * tanh(c_new), c_new


def _reference_lstm(model, x, hx):
    """A slow stacked, bidirectional LSTM: a Python loop over layers, directions and steps."""
    directions = 2 if model.bidirectional else 1
    h0, c0 = hx
    layer_input, h_n, c_n = x, [], []
    for layer in range(model.num_layers):
        outs = []
        for d in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {k: getattr(model, k + sfx, None) for k in
                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_peephole")}
            h, c = h0[layer * directions + d], c0[layer * directions + d]
            steps = range(T - 1, -1, -1) if d else range(T)
            out = [None] * T
            for t in steps:
                a = layer_input[t] @ p["weight_ih"].T + h @ p["weight_hh"].T
                if model.bias:
                    a = a + p["bias_ih"] + p["bias_hh"]
                h, c = _variant_step(model.variant, a, c, p["weight_peephole"])
                out[t] = h
            outs.append(torch.stack(out))
            h_n.append(h)
            c_n.append(c)
        layer_input = torch.cat(outs, dim=-1)
    return layer_input, (torch.stack(h_n), torch.stack(c_n))


class _Reference(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, hx):
        return _reference_lstm(self.model, x, hx)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("variant", ["vanilla", "peephole", "coupled", "no_forget"])
def test_lstm_variants_match_per_step_reference(variant, bias):
    torch.manual_seed(0)
    model = LSTM(I, H, num_layers=2, bidirectional=True, bias=bias, dtype=DT, variant=variant)
    gates = 3 if variant in ("coupled", "no_forget") else 4
    assert model.weight_ih_l1_reverse.shape == (gates * H, 2 * H)
    assert ("weight_peephole_l1_reverse" in model.state_dict()) == (variant == "peephole")
    x, hx = _randn(T, B, I, seed=1), _initial_state("LSTM", 4, (B,))
    _assert_same_run(_forward_backward(model, x, hx), _forward_backward(_Reference(model), x, hx))


def test_lstm_variant_packed_and_gradcheck():
    torch.manual_seed(0)
    model = LSTM(2, 2, num_layers=2, bidirectional=True, dtype=DT, variant="peephole")
    x = _randn(3, 3, 2, seed=1).requires_grad_()
    lengths = torch.tensor([3, 1, 2])
    fn = lambda v: pad_packed_sequence(  # noqa: E731
        model(pack_padded_sequence(v, lengths, enforce_sorted=False))[0])[0]
    assert torch.autograd.gradcheck(fn, (x,))


# -------------------------------------------------------------- skip connections
def _skip_reference(model, family, extra, x, hx, packed_like=None):
    """Graves' skips as a composition of single-layer torch modules run on our weights."""
    directions = 2 if model.bidirectional else 1
    outs, finals, layer_input = [], [], x
    for layer in range(model.num_layers):
        in_size = I if layer == 0 else I + directions * H
        single = getattr(torch.nn, family)(in_size, H, bidirectional=model.bidirectional, dtype=DT, **extra)
        params = {name: getattr(model, name.replace("_l0", f"_l{layer}")) for name, _ in single.named_parameters()}
        rows = slice(layer * directions, (layer + 1) * directions)
        state = tuple(s[rows] for s in hx) if family == "LSTM" else hx[rows]
        inp = layer_input if packed_like is None else packed_like._replace(data=layer_input)
        out, final = functional_call(single, params, (inp, state))
        out = _data(out)
        outs.append(out)
        finals.append(final)
        layer_input = torch.cat([x, out], dim=-1)
    if family == "LSTM":
        final = tuple(torch.cat([f[k] for f in finals]) for k in range(2))
    else:
        final = torch.cat(finals)
    return torch.cat(outs, dim=-1), final


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize(("family", "extra"), MODES)
def test_skip_connections_equal_composition_of_layers(family, extra, bidirectional, packed):
    torch.manual_seed(0)
    directions = 2 if bidirectional else 1
    model = OURS[family](I, H, num_layers=3, bidirectional=bidirectional, dtype=DT, skip_connections=True, **extra)
    assert model.weight_ih_l0.shape[1] == I and model.weight_ih_l2.shape[1] == I + directions * H
    assert "skip_connections=True" in repr(model)
    x = _randn(T, B, I, seed=1).requires_grad_()
    hx = _initial_state(family, 3 * directions, (B,))
    if packed:
        inp = pack_padded_sequence(x, torch.tensor([2, 4, 3]), enforce_sorted=False)
        output, final = model(inp, hx)
        ref_out, ref_final = _skip_reference(model, family, extra, inp.data, hx, packed_like=inp)
        output = output.data
    else:
        output, final = model(x, hx)
        ref_out, ref_final = _skip_reference(model, family, extra, x, hx)
        assert output.shape == (T, B, 3 * directions * H)
    assert all(s.shape == (3 * directions, B, H) for s in _leaves(final))
    torch.testing.assert_close(output, ref_out, atol=ATOL, rtol=0)
    for u, v in zip(_leaves(final), _leaves(ref_final)):
        torch.testing.assert_close(u, v, atol=ATOL, rtol=0)
    leaves = [x, *model.parameters()]
    grads = torch.autograd.grad(_loss(output, final), leaves, retain_graph=True)
    grads_ref = torch.autograd.grad(_loss(ref_out, ref_final), leaves)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=ATOL, rtol=0)
        assert g.abs().sum() > 0  # every layer (and the input) reaches the output


def test_skip_connections_gradcheck():
    torch.manual_seed(0)
    model = GRU(2, 2, num_layers=2, dtype=DT, skip_connections=True, batch_first=True)
    x = _randn(2, 3, 2, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: model(v)[0], (x,))


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(("family", "extra"), MODES)
def test_shape_errors(family, extra):
    model = OURS[family](I, H, num_layers=2, **extra)
    name = OURS[family].__name__
    with pytest.raises(ValueError, match=rf"{name}: expected input of shape \(T, B, I\) with I=5 .*got rank 4"):
        model(torch.zeros(T, B, I, 1))
    with pytest.raises(ValueError, match=r"got rank 1 with shape \(5,\)"):
        model(torch.zeros(I))
    with pytest.raises(ValueError, match=r"expected input of shape \(T=4, B=3, I=5\), got \(4, 3, 6\)"):
        model(torch.zeros(T, B, I + 1))
    with pytest.raises(ValueError, match=r"expected input of shape \(T=4, I=5\), got \(4, 6\)"):
        model(torch.zeros(T, I + 1))
    packed = pack_padded_sequence(torch.zeros(T, B, I + 1), torch.tensor([4, 2, 1]))
    with pytest.raises(ValueError, match=r"expected input.data of shape \(N=7, I=5\), got \(7, 6\)"):
        model(packed)
    with pytest.raises(ValueError, match=r"expected input of dtype torch.float32 .*got torch.float64"):
        model(torch.zeros(T, B, I, dtype=DT))
    bad = [((3, B, H), r"shape \(LD=2, B=3, H=4\), got \(3, 3, 4\)"),
           ((2, B + 1, H), r"shape \(LD=2, B=3, H=4\), got \(2, 4, 4\)"),
           ((2, B, H + 1), r"shape \(LD=2, B=3, H=4\), got \(2, 3, 5\)"),
           ((2, H), r"of rank 3 with shape \(LD=2, B=3, H=4\), got rank 2")]
    for shape, match in bad:
        hx = (torch.zeros(shape), torch.zeros(2, B, H)) if family == "LSTM" else torch.zeros(shape)
        with pytest.raises(ValueError, match=rf"{name}: expected h_0 .*{match}"):
            model(torch.zeros(T, B, I), hx)
    with pytest.raises(ValueError, match=r"expected h_0 of rank 2 with shape \(LD=2, H=4\), got rank 3"):
        hx = torch.zeros(2, 1, H)
        model(torch.zeros(T, I), (hx, torch.zeros(2, H)) if family == "LSTM" else hx)


def test_lstm_state_errors():
    model = LSTM(I, H)
    with pytest.raises(ValueError, match=r"tuple \(h_0, c_0\)"):
        model(torch.zeros(T, B, I), torch.zeros(1, B, H))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(LD=1, B=3, H=4\), got \(1, 3, 5\)"):
        model(torch.zeros(T, B, I), (torch.zeros(1, B, H), torch.zeros(1, B, H + 1)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="proj_size"):
        LSTM(I, H, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(I, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="LSTM variant"):
        LSTM(I, H, variant="mlstm")
    with pytest.raises(ValueError, match="dropout"):
        GRU(I, H, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        GRU(I, H, num_layers=0)
    with pytest.raises(TypeError, match="batch_first should be of type bool"):
        GRU(I, H, batch_first=1)


def test_positional_arguments_line_up_with_torch():
    for family, args in [("RNN", (I, H, 2, "relu", False, True, 0.0, True)),
                         ("LSTM", (I, H, 2, False, True, 0.0, True, 0)),
                         ("GRU", (I, H, 2, False, True, 0.0, True))]:
        ours, ref = OURS[family](*args), getattr(torch.nn, family)(*args)
        for attr in ("num_layers", "bias", "batch_first", "dropout", "bidirectional"):
            assert getattr(ours, attr) == getattr(ref, attr)
        assert ours.mode == ref.mode
        assert [[p.shape for p in w] for w in ours.all_weights] == [[p.shape for p in w] for w in ref.all_weights]


def test_exported_from_memnets():
    assert (memnets.RNN, memnets.LSTM, memnets.GRU) == (RNN, LSTM, GRU)
