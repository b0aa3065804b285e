"""Tests of the classic recurrent models: what every classic recurrent model shares: shapes, length one, gradients."""

import pytest
import torch

from memnets.nn.recurrent import NARX, TDNN, EchoStateNetwork, JordanRNN, MultiTimescaleRNN, SkipRNN, TimeDelayLayer


@pytest.mark.parametrize("cls,args", [(SkipRNN, (3, 4)), (MultiTimescaleRNN, (3, 4))])
def test_recurrences_reject_bad_shapes_and_take_length_one(cls, args):
    model = cls(*args)
    with pytest.raises(ValueError):
        model(torch.zeros(5, 2))
    with pytest.raises(ValueError):
        model(torch.zeros(5, 2, 2))
    out, _ = model(torch.zeros(1, 2, 3))
    assert out.shape == (1, 2, 4)


def test_classic_models_gradcheck_float64():
    torch.manual_seed(0)
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    for model in (SkipRNN(2, 3, skip=2).double(), MultiTimescaleRNN(2, 3).double(),
                  TimeDelayLayer(2, 3, 3).double()):
        def f(inp, model=model):
            out = model(inp)
            return out[0] if isinstance(out, tuple) else out
        assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),))


# ----------------------------------------------------------------------------- the shared API
_SEQUENCE_MODELS = {
    "esn": lambda: EchoStateNetwork(2, 12, 3, seed=0),
    "tdnn": lambda: TDNN(2, 5, 3, delays=3, num_layers=2),
    "skip": lambda: SkipRNN(2, 5, skip=2),
    "multiscale": lambda: MultiTimescaleRNN(2, 5),
    "delay_layer": lambda: TimeDelayLayer(2, 5, delays=3),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(_SEQUENCE_MODELS))
def test_batch_first_is_the_transposed_time_first_model(name):
    torch.manual_seed(0)
    model = _SEQUENCE_MODELS[name]()
    twin = type(model)(**{**_kwargs(model), "batch_first": True})
    twin.load_state_dict(model.state_dict())
    x = torch.randn(7, 3, 2)
    expected = _first(model(x))
    got = _first(twin(x.transpose(0, 1).contiguous()))
    torch.testing.assert_close(got, expected.transpose(0, 1), rtol=0, atol=0)


def _kwargs(model):
    return {
        EchoStateNetwork: lambda m: dict(input_size=2, reservoir_size=12, output_size=3, seed=0),
        TDNN: lambda m: dict(input_size=2, hidden_size=5, output_size=3, delays=3, num_layers=2),
        SkipRNN: lambda m: dict(input_size=2, hidden_size=5, skip=2),
        MultiTimescaleRNN: lambda m: dict(input_size=2, hidden_size=5),
        TimeDelayLayer: lambda m: dict(input_size=2, output_size=5, delays=3),
    }[type(model)](model)


@pytest.mark.parametrize("cls", [NARX, JordanRNN])
def test_feedback_models_batch_first(cls):
    torch.manual_seed(0)
    model = cls(2, 6, 3)
    twin = cls(2, 6, 3, batch_first=True)
    twin.load_state_dict(model.state_dict())
    x, targets = torch.randn(5, 4, 2), torch.randn(5, 4, 3)
    forced, _ = model(x, targets=targets)
    forced_bf, _ = twin(x.transpose(0, 1), targets=targets.transpose(0, 1))
    torch.testing.assert_close(forced_bf, forced.transpose(0, 1), rtol=0, atol=0)
    free, _ = model(x, y0=targets[0])
    free_bf, _ = twin(x.transpose(0, 1), y0=targets[0])
    torch.testing.assert_close(free_bf, free.transpose(0, 1), rtol=0, atol=0)


def test_one_constructor_order_input_hidden_output():
    for model in (NARX(2, 7, 3), JordanRNN(2, 7, 3), TDNN(2, 7, 3)):
        assert (model.input_size, model.hidden_size, model.output_size) == (2, 7, 3)
    assert NARX(2, 7, 3).hidden.out_features == 7 and NARX(2, 7, 3).readout.out_features == 3


@pytest.mark.parametrize("make", [lambda: NARX(2, 6, 3), lambda: JordanRNN(2, 6, 3), lambda: TDNN(2, 6, 3),
                                  lambda: SkipRNN(2, 6), lambda: MultiTimescaleRNN(2, 6, learn_alpha=True),
                                  lambda: TimeDelayLayer(2, 6, 3)])
def test_reset_parameters_redraws_every_parameter(make):
    torch.manual_seed(0)
    model = make()
    before = {k: v.clone() for k, v in model.named_parameters()}
    model.reset_parameters()
    for name, value in model.named_parameters():
        if name == "cell.alpha_logit":  # the rates go back to their initial values
            torch.testing.assert_close(value, before[name])
        else:
            assert not torch.equal(value, before[name]), name


@pytest.mark.parametrize("cls", [NARX, JordanRNN, TDNN])
def test_seeded_construction_draws_like_its_layers(cls):
    # reset_parameters at the end of __init__ draws each weight once: the same values as
    # building the layers one after the other from the same seed
    torch.manual_seed(3)
    model = cls(2, 6, 3)
    torch.manual_seed(3)
    again = cls(2, 6, 3)
    for (name, a), (_, b) in zip(model.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), name
    torch.manual_seed(3)
    if cls is NARX:
        first = torch.nn.Linear(2 * 1 + 3 * 2, 6)
    elif cls is TDNN:
        first = TimeDelayLayer(2, 6, 5)
    else:
        first = None
    if first is not None:
        torch.testing.assert_close(next(model.parameters()), next(first.parameters()), rtol=0, atol=0)


@pytest.mark.parametrize("bad", [
    lambda: NARX(-1, 4, 1), lambda: NARX(0, 0, 1), lambda: NARX(0, 4, 1, input_delays=0),
    lambda: JordanRNN(-1, 4, 1), lambda: JordanRNN(1, 4, 1, decay=1.0), lambda: JordanRNN(1, 4, 0),
    lambda: JordanRNN(1, 4, 1, nonlinearity="sigmoid"), lambda: TDNN(1, 0, 1), lambda: TDNN(1, 4, 1, delays=0),
    lambda: TimeDelayLayer(1, 4, 2, nonlinearity="cube"), lambda: SkipRNN(1, 4, skip=0),
    lambda: SkipRNN(1, 4, nonlinearity="gelu"), lambda: MultiTimescaleRNN(1, 4, alpha_min=0.0),
    lambda: MultiTimescaleRNN(1, 4, alpha_min=0.5, alpha_max=0.2), lambda: EchoStateNetwork(1, 0, 1),
    lambda: EchoStateNetwork(1, 4, 1, leak_rate=0.0), lambda: EchoStateNetwork(1, 4, 1, density=1.5),
    lambda: EchoStateNetwork(1, 4, 1, ridge=-1.0),
])
def test_constructors_reject_bad_values(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize("bad", [lambda: NARX(1.5, 4, 1), lambda: TDNN(1, 4.0, 1), lambda: SkipRNN(1, 4, skip=2.0),
                                 lambda: EchoStateNetwork(1, "4", 1)])
def test_constructors_reject_bad_types(bad):
    with pytest.raises(TypeError):
        bad()
