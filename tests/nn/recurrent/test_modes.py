"""Tests of memnets.nn.recurrent.modes: sequence-mode wrappers and the decoding loop."""

import pytest
import torch
from torch.nn import functional as F

from memnets.nn.recurrent import NARX, JordanRNN
from memnets.nn.recurrent import (
    EncoderDecoder,
    InputFeedback,
    SequenceToSequence,
    SequenceToVector,
    VectorToSequence,
    generate,
    pool_sequence,
    teacher_forcing_probability,
    unroll,
)
from memnets.nn.registry import build_model, model_spec


def _models():
    torch.manual_seed(0)
    return {
        "jordan": (JordanRNN(2, 6, 2, decay=0.3), 2),
        "narx": (NARX(2, 6, 2, input_delays=2, output_delays=3), 2),
        "rnn": (InputFeedback(SequenceToSequence(4, 6, 2, cell="gru"), 2, input_size=2), 2),
    }


@pytest.mark.parametrize("name", ["jordan", "narx", "rnn"])
def test_teacher_forcing_and_free_running_agree_for_a_perfect_model(name):
    model, in_size = _models()[name]
    x = torch.randn(8, 3, in_size)
    y0 = torch.randn(3, 2)
    with torch.no_grad():
        free, s_free = unroll(model, x=x, y0=y0, mode="free_running")
        # the targets a perfect model would have to produce are its own free-running outputs
        forced, s_forced = unroll(model, x=x, y0=y0, targets=free, mode="teacher_forcing")
        mixed, _ = unroll(model, x=x, y0=y0, targets=free, mode="scheduled_sampling", teacher_prob=0.5,
                          generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(forced, free)
    torch.testing.assert_close(mixed, free)


def test_teacher_forcing_differs_from_free_running_for_an_imperfect_model():
    model, _ = _models()["jordan"]
    x, y0, targets = torch.randn(8, 3, 2), torch.zeros(3, 2), torch.randn(8, 3, 2)
    forced, _ = unroll(model, x=x, y0=y0, targets=targets, mode="teacher_forcing")
    free, _ = unroll(model, x=x, y0=y0, mode="free_running")
    torch.testing.assert_close(forced[0], free[0])  # the first step sees y0 in both
    assert not torch.allclose(forced[1:], free[1:])


def test_teacher_forcing_feeds_the_previous_target():
    # a model that outputs what it is fed exposes the alignment of the feedback
    class Echo:
        input_size, output_size = 0, 1

        def step(self, x_t, y_prev, state):
            return y_prev, state

    targets = torch.arange(1.0, 6.0).reshape(5, 1, 1)
    out, _ = unroll(Echo(), y0=torch.zeros(1, 1), targets=targets, mode="teacher_forcing")
    assert out.flatten().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    out, _ = unroll(Echo(), 3, y0=torch.full((1, 1), 7.0), mode="free_running")
    assert out.flatten().tolist() == [7.0, 7.0, 7.0]


def test_scheduled_sampling_extremes_are_teacher_forcing_and_free_running():
    model, _ = _models()["narx"]
    x, y0, targets = torch.randn(6, 2, 2), torch.zeros(2, 2), torch.randn(6, 2, 2)
    with torch.no_grad():
        ss1, _ = unroll(model, x=x, y0=y0, targets=targets, mode="scheduled_sampling", teacher_prob=1.0)
        ss0, _ = unroll(model, x=x, y0=y0, targets=targets, mode="scheduled_sampling", teacher_prob=0.0)
        tf, _ = unroll(model, x=x, y0=y0, targets=targets, mode="teacher_forcing")
        fr, _ = unroll(model, x=x, y0=y0, mode="free_running")
    torch.testing.assert_close(ss1, tf)
    torch.testing.assert_close(ss0, fr)


def test_argmax_feedback_of_a_perfect_classifier():
    torch.manual_seed(3)
    model = InputFeedback(SequenceToSequence(5, 8, 5, cell="lstm"), 5)
    y0 = F.one_hot(torch.tensor([1, 4]), 5).float()
    with torch.no_grad():
        logits, _ = unroll(model, 7, y0=y0, feedback="argmax")
        onehot = F.one_hot(logits.argmax(-1), 5).float()
        forced, _ = unroll(model, y0=y0, targets=onehot, mode="teacher_forcing")
    torch.testing.assert_close(forced, logits)


def test_sampling_feedback_is_reproducible_with_a_generator():
    model = InputFeedback(SequenceToSequence(5, 8, 5, cell="gru"), 5)
    y0 = torch.zeros(2, 5)
    with torch.no_grad():
        a, _ = unroll(model, 6, y0=y0, feedback="sample", generator=torch.Generator().manual_seed(1))
        b, _ = unroll(model, 6, y0=y0, feedback="sample", generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_generate_continues_the_teacher_forced_prefix():
    torch.manual_seed(0)
    seq = SequenceToSequence(1, 8, 1, cell="gru")
    model = InputFeedback(seq, 1)
    prefix = torch.randn(6, 2, 1)
    with torch.no_grad():
        future = generate(model, 3, prefix=prefix)
        # by hand: run the prefix, then feed each prediction back
        y, h = seq(prefix)
        outs, fed = [], y[-1:]
        for _ in range(3):
            outs.append(fed[0])
            fed, h = seq(fed, h)
    torch.testing.assert_close(future, torch.stack(outs))


def test_sequence_to_sequence_equals_torch_layers_and_head():
    torch.manual_seed(0)
    model = SequenceToSequence(3, 5, 2, cell="lstm", num_layers=2)
    ref = torch.nn.LSTM(3, 5, num_layers=2)
    ref.load_state_dict(model.rnn.state_dict())
    x = torch.randn(7, 4, 3)
    y, (h, c) = model(x)
    out, (h_ref, c_ref) = ref(x)
    torch.testing.assert_close(y, model.head(out))
    torch.testing.assert_close(h, h_ref)


def test_pool_sequence_last_and_mean_with_lengths():
    outputs = torch.arange(24.0).reshape(4, 3, 2)
    lengths = torch.tensor([4, 1, 2])
    last = pool_sequence(outputs, "last", lengths)
    torch.testing.assert_close(last, torch.stack([outputs[3, 0], outputs[0, 1], outputs[1, 2]]))
    mean = pool_sequence(outputs, "mean", lengths)
    torch.testing.assert_close(mean, torch.stack([outputs[:, 0].mean(0), outputs[0, 1], outputs[:2, 2].mean(0)]))
    torch.testing.assert_close(pool_sequence(outputs, "mean"), outputs.mean(0))
    with pytest.raises(ValueError):
        pool_sequence(outputs, "max")
    with pytest.raises(ValueError):
        pool_sequence(outputs, "last", torch.tensor([5, 1, 1]))


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_sequence_to_vector_shapes_and_padding(pooling):
    model = SequenceToVector(3, 8, 4, cell="gru", pooling=pooling)
    x = torch.randn(6, 2, 3)
    out = model(x, torch.tensor([6, 3]))
    assert out.shape == (2, 4)
    # padding after the length changes nothing
    x2 = x.clone()
    x2[3:, 1] = 100.0
    torch.testing.assert_close(model(x2, torch.tensor([6, 3]))[1], out[1])


def test_encoder_decoder_reverses_its_input_and_decodes_other_lengths():
    torch.manual_seed(0)
    model = EncoderDecoder(2, 8, 3, cell="lstm", reverse_input=True)
    plain = EncoderDecoder(2, 8, 3, cell="lstm", reverse_input=False)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(9, 4, 2)
    out = model(x, steps=5)
    assert out.shape == (5, 4, 3)
    torch.testing.assert_close(out, plain(x.flip(0), steps=5))
    targets = torch.randn(5, 4, 3)
    forced = model(x, targets=targets)
    with torch.no_grad():
        free = model(x, steps=5)
        again = model(x, targets=free)
    torch.testing.assert_close(again, free)
    assert forced.shape == (5, 4, 3)


@pytest.mark.parametrize("condition", ["initial", "input", "both"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_vector_to_sequence(condition, cell):
    torch.manual_seed(0)
    model = VectorToSequence(4, 8, 2, cell=cell, condition=condition)
    v = torch.randn(3, 4)
    with torch.no_grad():
        free = model(v, steps=6)
        forced = model(v, targets=free)
    assert free.shape == (6, 3, 2)
    torch.testing.assert_close(forced, free)
    # the sequence depends on the vector
    assert not torch.allclose(model(v * 2, steps=6), free)


def test_wrappers_round_trip_through_the_registry():
    torch.manual_seed(0)
    x, v = torch.randn(5, 2, 3), torch.randn(2, 3)
    calls = {SequenceToVector: lambda m: m(x), SequenceToSequence: lambda m: m(x)[0],
             EncoderDecoder: lambda m: m(x, steps=4), VectorToSequence: lambda m: m(v, steps=4)}
    for model in (SequenceToVector(3, 4, 2, pooling="mean"), SequenceToSequence(3, 4, 2, cell="rnn"),
                  EncoderDecoder(3, 4, 2, reverse_input=True), VectorToSequence(3, 4, 2, condition="input")):
        spec = model_spec(model)
        rebuilt = build_model(spec)
        assert type(rebuilt) is type(model) and model_spec(rebuilt) == spec
        call = calls[type(model)]
        with torch.no_grad():
            assert not torch.allclose(call(rebuilt), call(model))  # fresh weights differ
            rebuilt.load_state_dict(model.state_dict())
            torch.testing.assert_close(call(rebuilt), call(model), rtol=0, atol=0)


def test_teacher_forcing_probability_schedules():
    assert teacher_forcing_probability(0, "linear", k=1.0, c=0.1) == 1.0
    assert teacher_forcing_probability(5, "linear", k=1.0, c=0.1) == pytest.approx(0.5)
    assert teacher_forcing_probability(50, "linear", k=1.0, c=0.1, minimum=0.2) == 0.2
    assert teacher_forcing_probability(2, "exponential", k=0.9) == pytest.approx(0.81)
    values = [teacher_forcing_probability(i, "inverse_sigmoid", k=10.0) for i in (0, 10, 100, 10**6)]
    assert values[0] == pytest.approx(10 / 11) and values == sorted(values, reverse=True)
    assert values[-1] == 0.0
    with pytest.raises(ValueError):
        teacher_forcing_probability(1, "exponential", k=2.0)
    with pytest.raises(ValueError):
        teacher_forcing_probability(1, "cosine")


def test_unroll_rejects_bad_shapes_and_modes():
    model, _ = _models()["jordan"]
    x = torch.randn(5, 3, 2)
    with pytest.raises(ValueError, match="targets"):
        unroll(model, x=x, mode="teacher_forcing")
    with pytest.raises(ValueError):
        unroll(model, x=x, targets=torch.randn(4, 3, 2), mode="teacher_forcing")
    with pytest.raises(ValueError):
        unroll(model, x=x, targets=torch.randn(5, 3, 3), mode="teacher_forcing")
    with pytest.raises(ValueError):
        unroll(model, x=x, mode="beam")
    with pytest.raises(ValueError):
        unroll(model, x=torch.randn(5, 3, 7))
    with pytest.raises(ValueError):
        unroll(model, x=x, targets=torch.randn(5, 3, 2), mode="scheduled_sampling", teacher_prob=1.5)
    with pytest.raises(ValueError):
        SequenceToVector(3, 4, 2)(torch.randn(5, 3))
    with pytest.raises(ValueError):
        SequenceToSequence(3, 4, 2, cell="transformer")
    with pytest.raises(ValueError):
        generate(InputFeedback(SequenceToSequence(1, 4, 1), 1), 3, prefix=torch.zeros(0, 2, 1))


def test_generate_returns_what_it_fed_back():
    torch.manual_seed(0)
    model = InputFeedback(SequenceToSequence(4, 8, 4, cell="gru"), 4)
    prefix = F.one_hot(torch.tensor([[0, 1], [2, 3]]), 4).float()
    with torch.no_grad():
        logits, fed = generate(model, 5, prefix=prefix, feedback="argmax", return_fed=True)
    torch.testing.assert_close(fed, F.one_hot(logits.argmax(-1), 4).float())


def test_zero_steps_give_an_empty_sequence():
    model, _ = _models()["narx"]
    out, _ = unroll(model, x=torch.zeros(0, 2, 2), targets=torch.zeros(0, 2, 2), mode="teacher_forcing")
    assert out.shape == (0, 2, 2)


def test_wrappers_batch_first_are_the_transposed_time_first_wrappers():
    torch.manual_seed(0)
    x, v, targets = torch.randn(6, 3, 2), torch.randn(3, 2), torch.randn(4, 3, 5)
    bf = lambda t: t.transpose(0, 1).contiguous()  # noqa: E731
    pairs = [
        (SequenceToVector(2, 8, 5, cell="lstm"), lambda m, b: m(bf(x) if b else x), False),
        (SequenceToSequence(2, 8, 5, cell="gru"), lambda m, b: m(bf(x) if b else x)[0], True),
        (EncoderDecoder(2, 8, 5, cell="lstm"), lambda m, b: m(bf(x) if b else x, targets=bf(targets) if b else targets),
         True),
        (VectorToSequence(2, 8, 5, cell="rnn"), lambda m, b: m(v, targets=bf(targets) if b else targets), True),
    ]
    for model, call, sequence_out in pairs:
        twin = build_model({"class": type(model).__name__, "kwargs": {**model_spec(model)["kwargs"], "batch_first": True}})
        twin.load_state_dict(model.state_dict())
        expected, got = call(model, False), call(twin, True)
        torch.testing.assert_close(got, bf(expected) if sequence_out else expected, rtol=0, atol=0)


def test_input_feedback_of_a_batch_first_model_is_time_first():
    torch.manual_seed(0)
    model = SequenceToSequence(1, 6, 1, cell="gru")
    twin = SequenceToSequence(1, 6, 1, cell="gru", batch_first=True)
    twin.load_state_dict(model.state_dict())
    prefix = torch.randn(5, 2, 1)
    torch.testing.assert_close(generate(InputFeedback(twin, 1), 4, prefix=prefix),
                               generate(InputFeedback(model, 1), 4, prefix=prefix), rtol=0, atol=0)
