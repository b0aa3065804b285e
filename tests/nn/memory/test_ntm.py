"""Tests of the Neural Turing Machine modules (memnets.nn.memory.ntm)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.autograd import gradcheck

import memnets
from memnets.functional.addressing import circular_shift, content_weights, interpolate, sharpen
from memnets.functional.memory import memory_read, memory_write
from memnets.nn.memory.ntm import NTM, NTMCell, NTMState
from memnets.nn.registry import build_model, model_spec

TINY = dict(controller_size=6, memory_size=5, word_size=3)


def _model(seed: int = 0, **kwargs) -> NTM:
    torch.manual_seed(seed)
    return NTM(**{"input_size": 4, "output_size": 3, **TINY, **kwargs})


def _assert_state_close(a: NTMState, b: NTMState, **tol) -> None:
    if a.controller is None:
        assert b.controller is None
    else:
        for x, y in zip(a.controller, b.controller):
            torch.testing.assert_close(x, y, **tol)
    for x, y in zip(a[1:], b[1:]):
        torch.testing.assert_close(x, y, **tol)


# ------------------------------------------------------------------ shapes and options


@pytest.mark.parametrize(
    "heads, shift_range, controller, memory_init, batch_first",
    list(itertools.product([(1, 1), (2, 3), (3, 2)], [1, 2], ["lstm", "feedforward"],
                           ["constant", "learned", "random"], [False, True])),
)
def test_shapes_for_every_option(heads, shift_range, controller, memory_init, batch_first):
    R, Hw = heads
    T, B = 4, 3
    model = _model(num_read_heads=R, num_write_heads=Hw, shift_range=shift_range, controller=controller,
                   memory_init=memory_init, batch_first=batch_first)
    x = torch.randn(B, T, 4) if batch_first else torch.randn(T, B, 4)
    logits, state = model(x)
    assert logits.shape == ((B, T, 3) if batch_first else (T, B, 3))
    assert state.memory.shape == (B, 5, 3)
    assert state.read_vectors.shape == (B, R, 3)
    assert state.read_weights.shape == (B, R, 5)
    assert state.write_weights.shape == (B, Hw, 5)
    if controller == "lstm":
        assert [t.shape for t in state.controller] == [(B, 6), (B, 6)]
    else:
        assert state.controller is None
    for w in (state.read_weights, state.write_weights):
        assert (w >= 0).all()
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))
    assert torch.isfinite(logits).all()


def test_public_names_and_controller_is_the_library_lstm_cell():
    assert memnets.NTM is NTM and memnets.NTMCell is NTMCell and memnets.NTMState is NTMState
    model = NTM(9, 8)
    assert isinstance(model.cell.controller, memnets.nn.recurrent.cells.LSTMCell)
    assert model.cell.controller.input_size == 9 + 20 and model.cell.controller.hidden_size == 100
    assert model.cell.memory_size == 128 and model.cell.word_size == 20 and model.batch_first is False


def test_edge_sizes_batch_one_length_one_memory_one():
    model = _model(memory_size=1, shift_range=2)
    logits, state = model(torch.randn(1, 1, 4))
    assert logits.shape == (1, 1, 3)
    torch.testing.assert_close(state.read_weights, torch.ones(1, 1, 1))
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_empty_sequence_returns_empty_logits_and_the_same_state():
    model = _model()
    state = model.initial_state(2)
    logits, out = model(torch.zeros(0, 2, 4), state)
    assert logits.shape == (0, 2, 3)
    _assert_state_close(out, state)


# ------------------------------------------------------------------ equivalences


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
def test_forward_equals_stepping_the_cell_by_hand(controller):
    model = _model(controller=controller, num_read_heads=2, num_write_heads=2)
    x = torch.randn(6, 3, 4)
    logits, state = model(x)
    step_state = model.initial_state(3)
    step_logits = []
    for x_t in x:
        out, step_state = model.cell(x_t, step_state)
        step_logits.append(out)
    torch.testing.assert_close(logits, torch.stack(step_logits), rtol=1e-5, atol=1e-6)
    _assert_state_close(state, step_state, rtol=1e-5, atol=1e-6)


def test_a_returned_state_continues_the_sequence():
    model = _model(num_read_heads=2)
    x = torch.randn(7, 2, 4)
    full, full_state = model(x)
    first, state = model(x[:3])
    second, state = model(x[3:], state)
    torch.testing.assert_close(torch.cat([first, second]), full, rtol=1e-5, atol=1e-6)
    _assert_state_close(state, full_state, rtol=1e-5, atol=1e-6)


def test_batch_first_agrees_with_time_first():
    a, b = _model(seed=3), _model(seed=3, batch_first=True)
    x = torch.randn(5, 2, 4)
    logits_a, _ = a(x)
    logits_b, _ = b(x.transpose(0, 1))
    torch.testing.assert_close(logits_b.transpose(0, 1), logits_a)


def test_batch_elements_are_independent():
    model = _model()
    x = torch.randn(5, 3, 4)
    logits, _ = model(x)
    single, _ = model(x[:, 1:2])
    torch.testing.assert_close(single[:, 0], logits[:, 1], rtol=1e-5, atol=1e-6)


def test_one_step_matches_the_paper_pipeline_written_out():
    """NTMCell's step equals the head parameters pushed through the public functional ops."""
    torch.manual_seed(1)
    cell = NTMCell(4, 3, num_read_heads=2, num_write_heads=1, shift_range=1, **TINY)
    state = cell.initial_state(2)
    with torch.no_grad():  # make the memory non-trivial
        state = state._replace(memory=torch.randn(2, 5, 3))
    x = torch.randn(2, 4)
    logits, new = cell(x, state)

    W, S, H = 3, 1, 3
    h, c = cell.controller(torch.cat([x, state.read_vectors.flatten(1)], -1), state.controller)
    params = cell.heads(h)
    address, erase, add = params[:, : H * (W + 4 + 2 * S)], params[:, -6:-3], params[:, -3:]
    address = address.reshape(2, H, W + 3 + 2 * S + 1)
    key, beta, gamma, gate, shift = (address[..., :W], address[..., W], address[..., W + 1], address[..., W + 2],
                                     address[..., W + 3:])
    w_prev = torch.cat([state.read_weights, state.write_weights], 1)
    w = content_weights(state.memory, torch.tanh(key), torch.nn.functional.softplus(beta))
    w = interpolate(w, w_prev, torch.sigmoid(gate))
    w = circular_shift(w, torch.softmax(shift, -1))
    w = sharpen(w, 1 + torch.nn.functional.softplus(gamma))
    reads = memory_read(state.memory, w[:, :2])
    memory = memory_write(state.memory, w[:, 2:], torch.sigmoid(erase)[:, None], torch.tanh(add)[:, None])
    expected = cell.output(torch.cat([h, reads.flatten(1)], -1))
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(new.memory, memory)
    torch.testing.assert_close(new.read_weights, w[:, :2])
    torch.testing.assert_close(new.write_weights, w[:, 2:])
    torch.testing.assert_close(new.read_vectors, reads)


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("controller, memory_init", [("lstm", "learned"), ("feedforward", "constant")])
def test_gradcheck_tiny_ntm_float64(controller, memory_init):
    """Exact check of d(logits, memory)/d(input); fast (random-projection) check of every
    parameter, initial state included."""
    torch.manual_seed(0)
    model = NTM(3, 2, controller_size=3, memory_size=4, word_size=2, num_write_heads=2, controller=controller,
                memory_init=memory_init).double()
    names = [name for name, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for _, p in model.named_parameters()]
    x = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)

    def run(x, *ps):
        logits, state = torch.func.functional_call(model, dict(zip(names, ps)), (x,))
        return logits, state.memory

    assert gradcheck(lambda x: run(x, *params), (x,))
    assert gradcheck(run, (x, *params), fast_mode=True)


def test_gradients_reach_every_parameter_and_are_finite_at_constant_memory():
    model = _model(memory_init="learned", num_read_heads=2)
    logits, state = model(torch.randn(5, 2, 4))
    (logits.sum() + state.memory.sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    model = _model()  # constant 1e-6 memory: cosine similarity of near-zero rows
    logits, _ = model(torch.zeros(4, 1, 4))
    logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


# ------------------------------------------------------------------ initial state


def test_initial_state_and_memory_inits():
    model = _model()
    state = model.initial_state(2)
    torch.testing.assert_close(state.memory, torch.full((2, 5, 3), 1e-6))
    torch.testing.assert_close(state.read_weights.sum(-1), torch.ones(2, 1))
    assert [t.shape for t in state.controller] == [(2, 6), (2, 6)]
    assert "cell.initial_memory_values" in model.state_dict()

    random = _model(memory_init="random")
    m0 = random.initial_state(1).memory
    assert m0.std() > 0.1 and (m0.abs() < 1).all()
    assert not any(name.endswith("initial_memory_values") for name, _ in random.named_parameters())
    other = _model(seed=5, memory_init="random")
    other.load_state_dict(random.state_dict())  # the fixed random memory travels with the weights
    torch.testing.assert_close(other.initial_state(1).memory, m0)

    learned = _model(memory_init="learned")
    assert any(name.endswith("initial_memory_logits") for name, _ in learned.named_parameters())


def test_double_precision_and_to():
    model = _model().double()
    logits, state = model(torch.randn(3, 2, 4, dtype=torch.float64))
    assert logits.dtype == torch.float64 and state.memory.dtype == torch.float64


# ------------------------------------------------------------------ trace and checkpoints


def test_trace_stacks_every_state_and_agrees_with_forward():
    model = _model(num_write_heads=2)
    x = torch.randn(4, 2, 4)
    logits, states = model.trace(x)
    ref_logits, ref_state = model(x)
    torch.testing.assert_close(logits, ref_logits)
    assert states.write_weights.shape == (4, 2, 2, 5) and states.memory.shape == (4, 2, 5, 3)
    torch.testing.assert_close(states.memory[-1], ref_state.memory)
    assert states.controller[0].shape == (4, 2, 6)


def test_registered_for_checkpoints(tmp_path):
    from memnets.training.checkpoint import CHECKPOINT_FORMAT, atomic_save

    model = _model(memory_init="random", num_read_heads=2, controller="feedforward")
    spec = model_spec(model)
    assert spec["class"] == "NTM" and spec["kwargs"]["memory_init"] == "random"
    rebuilt = build_model(spec)
    rebuilt.load_state_dict(model.state_dict())
    path = tmp_path / "model.pt"
    atomic_save({"format": CHECKPOINT_FORMAT, "model": spec, "state_dict": model.state_dict()}, path)
    loaded = memnets.load(path)
    x = torch.randn(3, 2, 4)
    torch.testing.assert_close(loaded(x)[0], model(x)[0])
    torch.testing.assert_close(rebuilt(x)[0], model(x)[0])


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.zeros(3, 2, 5), r"C=4"),
        (torch.zeros(2, 4), r"rank 3"),
        (torch.zeros(1, 3, 2, 4), r"rank 3"),
    ],
)
def test_wrong_input_raises(x, message):
    with pytest.raises(ValueError, match=message):
        _model()(x)


def test_wrong_state_raises():
    model = _model()
    state = model.initial_state(2)
    with pytest.raises(ValueError, match=r"memory"):
        model(torch.zeros(3, 2, 4), state._replace(memory=torch.zeros(2, 6, 3)))
    with pytest.raises(ValueError, match=r"B=3"):
        model(torch.zeros(3, 3, 4), state)
    with pytest.raises(ValueError, match=r"controller"):
        model(torch.zeros(3, 2, 4), state._replace(controller=None))
    with pytest.raises(ValueError, match=r"expected x of shape \(B=2, C=4\), got \(2, 5\)"):
        model.cell(torch.zeros(2, 5), state)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"controller": "gru"}, r"NTMCell: expected controller to be one of \['feedforward', 'lstm'\], got 'gru'"),
        ({"memory_init": "zeros"}, r"expected memory_init to be one of"),
        ({"memory_size": 0}, r"NTMCell: memory_size must be greater than zero, got 0"),
        ({"num_read_heads": 0}, r"num_read_heads must be greater than zero"),
        ({"shift_range": -1}, r"shift_range must be at least 0, got -1"),
    ],
)
def test_bad_constructor_values_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NTM(4, 3, **kwargs)


@pytest.mark.parametrize("kwargs", [{"word_size": 2.5}, {"memory_size": True}, {"shift_range": "1"}])
def test_bad_constructor_types_raise_type_error(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(TypeError, match=rf"NTMCell: {name} should be of type int"):
        NTM(4, 3, **kwargs)


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64])
def test_input_of_another_dtype_is_refused_with_both_dtypes_named(dtype):
    model = _model()
    x = torch.zeros(3, 2, 4, dtype=dtype)
    with pytest.raises(ValueError, match=rf"NTM: expected x of dtype torch.float32 .* got {dtype}"):
        model(x)
    with pytest.raises(ValueError, match=rf"NTMCell: expected x of dtype torch.float32 .* got {dtype}"):
        model.cell(x[0])


def test_state_of_another_dtype_is_refused():
    model = _model()
    state = model.initial_state(2)
    with pytest.raises(ValueError, match="expected memory of dtype torch.float32 .* got torch.float64"):
        model(torch.zeros(3, 2, 4), state._replace(memory=state.memory.double()))


def test_double_model_runs_in_double():
    model = _model().double()
    logits, state = model(torch.zeros(3, 2, 4, dtype=torch.float64))
    assert logits.dtype == state.memory.dtype == torch.float64


def test_empty_batch_gives_empty_outputs():
    model = _model()
    logits, state = model(torch.zeros(3, 0, 4))
    assert logits.shape == (3, 0, 3)
    assert state.memory.shape[0] == 0
