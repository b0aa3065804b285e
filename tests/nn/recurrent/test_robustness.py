"""Bad and edge inputs across the recurrent family: the dtype policy, empty batches,
empty sequences and constructor validation (each case one clear error, or torch.nn's
behaviour where torch.nn has one)."""

from __future__ import annotations

import pytest
import torch

from memnets.nn.recurrent import (
    GRU,
    LSTM,
    NARX,
    RNN,
    TDNN,
    EchoStateNetwork,
    EncoderDecoder,
    GRUCell,
    JordanRNN,
    LeakyRNNCell,
    LSTMCell,
    MultiTimescaleRNN,
    RNNCell,
    SequenceToSequence,
    SequenceToVector,
    SkipRNN,
    TimeDelayLayer,
    VectorToSequence,
)

I, H = 3, 4
_BOTH_DTYPES = r"torch\.float32.*torch\.float64|torch\.float64.*torch\.float32"

CELLS = {
    "rnn": lambda: RNNCell(I, H),
    "lstm": lambda: LSTMCell(I, H),
    "lstm-peephole": lambda: LSTMCell(I, H, variant="peephole"),
    "lstm-coupled": lambda: LSTMCell(I, H, variant="coupled"),
    "gru": lambda: GRUCell(I, H),
    "leaky": lambda: LeakyRNNCell(I, H),
}

SEQUENCE_MODELS = {
    "rnn": lambda **kw: RNN(I, H, **kw),
    "lstm": lambda **kw: LSTM(I, H, **kw),
    "gru": lambda **kw: GRU(I, H, **kw),
    "lstm-peephole": lambda **kw: LSTM(I, H, variant="peephole", **kw),
}


def _hx(name, shape, dtype=torch.float32):
    state = torch.zeros(*shape, dtype=dtype)
    return (state, state.clone()) if name.startswith("lstm") else state


# ----------------------------------------------------------------------------- dtype policy


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cells_refuse_other_dtypes_naming_both(name):
    cell = CELLS[name]()
    with pytest.raises(ValueError, match=_BOTH_DTYPES):
        cell(torch.zeros(2, I, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"torch\.float32.*got torch\.int64"):
        cell(torch.zeros(2, I, dtype=torch.int64))
    with pytest.raises(ValueError, match=_BOTH_DTYPES):
        cell(torch.zeros(2, I), _hx(name, (2, H), torch.float64))
    cell.double()
    out = cell(torch.zeros(2, I, dtype=torch.float64))
    assert (out[0] if isinstance(out, tuple) else out).dtype == torch.float64


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", sorted(SEQUENCE_MODELS))
def test_sequence_models_refuse_other_dtypes_naming_both(name, fused):
    model = SEQUENCE_MODELS[name](fused=fused)
    with pytest.raises(ValueError, match=_BOTH_DTYPES):
        model(torch.zeros(5, 2, I, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"got torch\.int64"):
        model(torch.zeros(5, 2, I, dtype=torch.int64))
    with pytest.raises(ValueError, match=_BOTH_DTYPES):
        model(torch.zeros(5, 2, I), _hx(name, (1, 2, H), torch.float64))
    if name.startswith("lstm"):  # the cell state alone
        with pytest.raises(ValueError, match=r"c_0 of dtype torch\.float32.*got torch\.float64"):
            model(torch.zeros(5, 2, I), (torch.zeros(1, 2, H), torch.zeros(1, 2, H, dtype=torch.float64)))


@pytest.mark.parametrize("call", [
    lambda dt: SequenceToVector(I, H, 2)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: SequenceToSequence(I, H, 2)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: EncoderDecoder(I, H, 2)(torch.zeros(5, 2, I, dtype=dt), steps=3),
    lambda dt: VectorToSequence(I, H, 2)(torch.zeros(2, I, dtype=dt), steps=3),
    lambda dt: EchoStateNetwork(I, 10, 2)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: TimeDelayLayer(I, H, 2)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: TDNN(I, H, 2)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: SkipRNN(I, H)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: MultiTimescaleRNN(I, H)(torch.zeros(5, 2, I, dtype=dt)),
    lambda dt: NARX(I, H, 2)(torch.zeros(5, 2, I, dtype=dt), targets=torch.zeros(5, 2, 2, dtype=dt)),
    lambda dt: NARX(I, H, 2)(torch.zeros(5, 2, I, dtype=dt), y0=torch.zeros(2, 2, dtype=dt)),
    lambda dt: JordanRNN(I, H, 2)(torch.zeros(5, 2, I, dtype=dt), targets=torch.zeros(5, 2, 2, dtype=dt)),
    lambda dt: JordanRNN(I, H, 2)(torch.zeros(5, 2, I, dtype=dt), y0=torch.zeros(2, 2, dtype=dt)),
])
def test_every_sequence_model_refuses_float64_and_int_input(call):
    with pytest.raises(ValueError, match=_BOTH_DTYPES):
        call(torch.float64)
    with pytest.raises(ValueError, match="int64"):
        call(torch.int64)


# ----------------------------------------------------------------------------- empty batches, empty sequences


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("family", ["RNN", "LSTM", "GRU"])
def test_empty_batch_works_like_torch(family, fused, batch_first):
    kwargs = dict(num_layers=2, bidirectional=True, batch_first=batch_first)
    ref = getattr(torch.nn, family)(I, H, **kwargs)
    ours = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}[family](I, H, fused=fused, **kwargs)
    ours.load_state_dict(ref.state_dict())
    x = torch.zeros((0, 5, I) if batch_first else (5, 0, I), requires_grad=True)
    expected, expected_state = ref(x)
    output, state = ours(x)
    assert output.shape == expected.shape
    for a, b in zip(state if family == "LSTM" else [state], expected_state if family == "LSTM" else [expected_state]):
        assert a.shape == b.shape == (4, 0, H)
    output.sum().backward()  # an empty batch back-propagates like any other
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cells_take_an_empty_batch_like_torch(name):
    cell = CELLS[name]()
    out = cell(torch.zeros(0, I))
    for state in out if isinstance(out, tuple) else [out]:
        assert state.shape == (0, H)
    torch_cell = {"rnn": torch.nn.RNNCell, "gru": torch.nn.GRUCell}.get(name, torch.nn.LSTMCell)(I, H)
    ref = torch_cell(torch.zeros(0, I))
    assert (ref[0] if isinstance(ref, tuple) else ref).shape == (0, H)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", sorted(SEQUENCE_MODELS))
def test_an_empty_sequence_is_a_clear_error(name, fused):
    model = SEQUENCE_MODELS[name](fused=fused)
    with pytest.raises(ValueError, match=r"sequence of length T >= 1, got T = 0"):
        model(torch.zeros(0, 2, I))
    with pytest.raises(ValueError, match=r"T >= 1"):
        model(torch.zeros(0, I))


# ----------------------------------------------------------------------------- constructors


@pytest.mark.parametrize("bad", [
    lambda: RNNCell(0, H), lambda: LSTMCell(I, -2), lambda: GRUCell(I, 0), lambda: LeakyRNNCell(0, H),
    lambda: RNNCell(I, H, nonlinearity="sigmoid"), lambda: LSTMCell(I, H, variant="gated"),
    lambda: LeakyRNNCell(I, H, alpha=1.5, learn_alpha=False), lambda: LeakyRNNCell(I, H, alpha=1.0),
    lambda: LSTM(I, H, num_layers=0), lambda: GRU(0, H), lambda: RNN(I, H, nonlinearity="gelu"),
    lambda: LSTM(I, H, dropout=1.5), lambda: GRU(I, H, dropout=-0.1), lambda: LSTM(I, H, proj_size=2),
    lambda: LSTM(I, H, variant="gated"), lambda: SequenceToVector(I, H, 2, cell="transformer"),
    lambda: SequenceToVector(I, H, 2, pooling="max"), lambda: SequenceToVector(I, H, 0),
    lambda: SequenceToSequence(I, 0, 2), lambda: VectorToSequence(I, H, 2, condition="never"),
    lambda: EncoderDecoder(I, H, 2, num_layers=0), lambda: MultiTimescaleRNN(I, H, nonlinearity="cube"),
])
def test_constructors_reject_bad_values(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize("bad", [
    lambda: RNNCell(3.0, H), lambda: LSTMCell(I, "4"), lambda: GRUCell(I, H, bias=1),
    lambda: LSTM(I, H, num_layers=1.0), lambda: GRU(I, H, batch_first="yes"), lambda: RNN(I, H, dropout="0.5"),
    lambda: LSTM(I, H, bidirectional=None)
])
def test_constructors_reject_bad_types(bad):
    with pytest.raises(TypeError):
        bad()


def test_dropout_without_layers_to_drop_between_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers > 1"):
        LSTM(I, H, dropout=0.5)
