"""What the fused sequences of `MultiTimescaleRNN` and `SkipRNN` share: the default path,
the switch to the cell loop, an empty batch, and outputs that the caller modifies.

Each model's own test file proves its fused sequence equal to its cell loop (values,
gradients, gradcheck).
"""

import importlib

import pytest
import torch

from memnets.nn.recurrent import LSTM, MultiTimescaleRNN, SkipRNN

#: (model, its module, the fused function the module calls, kwargs, the state's shape for B = 0)
MODELS = [
    pytest.param(MultiTimescaleRNN, "memnets.nn.recurrent.multiscale", "leaky_rnn_sequence", {"learn_alpha": True},
                 (0, 4), id="MultiTimescaleRNN"),
    pytest.param(SkipRNN, "memnets.nn.recurrent.skip", "skip_rnn_sequence", {"skip": 2}, (2, 0, 4), id="SkipRNN"),
]


@pytest.mark.parametrize("cls, module, function, kwargs, empty_state", MODELS)
def test_fused_sequence_is_the_default_and_fused_false_runs_the_loop(monkeypatch, cls, module, function, kwargs,
                                                                      empty_state):
    module = importlib.import_module(module)
    calls = []
    original = getattr(module, function)
    monkeypatch.setattr(module, function, lambda *a: calls.append(1) or original(*a))
    model = cls(3, 4, **kwargs)
    model(torch.randn(5, 2, 3))
    assert calls == [1]
    model.fused = False
    model(torch.randn(5, 2, 3))
    assert calls == [1]
    with pytest.raises(TypeError, match="fused should be of type bool"):
        cls(3, 4, fused=1)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("cls, module, function, kwargs, empty_state", MODELS)
def test_empty_batch_and_outputs_modified_in_place(cls, module, function, kwargs, empty_state, fused):
    model = cls(3, 4, fused=fused, **kwargs)
    x = torch.zeros(5, 0, 3, requires_grad=True)
    out, state = model(x)
    assert out.shape == (5, 0, 4) and state.shape == empty_state
    out.sum().backward()
    assert x.grad.shape == x.shape
    out, state = model(torch.randn(5, 2, 3))
    out.mul_(2.0)
    state.relu_()
    (out.sum() + state.sum()).backward()  # the saved states are not the returned tensors


@pytest.mark.parametrize("make", [
    pytest.param(lambda: MultiTimescaleRNN(3, 4), id="MultiTimescaleRNN"),
    pytest.param(lambda: SkipRNN(3, 4), id="SkipRNN"),
    pytest.param(lambda: LSTM(3, 4, variant="peephole"), id="peephole LSTM"),
])
def test_autocast_takes_the_loop(make):
    """The fused sequences write into buffers of one dtype; under autocast the model runs its
    loop of autograd operators, which follows autocast's casts, and gives the same values."""
    model = make()
    x = torch.randn(5, 2, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)[0]
    reference = model(x)[0]
    assert torch.allclose(out.float(), reference, atol=0.05)
    out.float().sum().backward()
