"""Tests of the classic recurrent models: SkipRNN."""

import torch

from memnets.nn.recurrent import SkipRNN


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def test_skip_rnn_without_skip_weights_is_torch_rnn():
    torch.manual_seed(0)
    model = SkipRNN(3, 4, skip=3)
    ref = torch.nn.RNN(3, 4)
    with torch.no_grad():
        model.weight_skip.zero_()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(ref, f"{name}_l0").copy_(getattr(model, name))
    x = torch.randn(8, 2, 3)
    out, state = model(x)
    expected, _ = ref(x)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(state, out[-3:])


def test_skip_rnn_with_skip_one_adds_the_weights():
    torch.manual_seed(1)
    model = SkipRNN(2, 4, skip=1)
    ref = torch.nn.RNN(2, 4)
    with torch.no_grad():
        ref.weight_hh_l0.copy_(model.weight_hh + model.weight_skip)
        ref.weight_ih_l0.copy_(model.weight_ih)
        ref.bias_ih_l0.copy_(model.bias_ih)
        ref.bias_hh_l0.copy_(model.bias_hh)
    x = torch.randn(6, 3, 2)
    torch.testing.assert_close(model(x)[0], ref(x)[0])


def test_skip_rnn_removed_short_connection_decouples_phases():
    # with only h_{t-d}, the steps t = 0 mod d never see the other phases
    model = SkipRNN(1, 3, skip=2, short_connection=False)
    x = torch.randn(10, 1, 1, generator=_seeded())
    x2 = x.clone()
    x2[1] += 1.0
    out, out2 = model(x)[0], model(x2)[0]
    torch.testing.assert_close(out[0::2], out2[0::2])
    assert not torch.allclose(out[1::2], out2[1::2])
