"""Tests of the classic recurrent models: TimeDelayLayer and TDNN."""

import pytest
import torch
from torch.nn import functional as F

from memnets.nn.recurrent import TDNN, TimeDelayLayer


def _seeded(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("delays", [1, 3, 6])
def test_time_delay_layer_equals_causal_conv1d(delays):
    layer = TimeDelayLayer(3, 5, delays, nonlinearity="linear")
    x = torch.randn(11, 2, 3, generator=_seeded())
    conv_in = x.permute(1, 2, 0)  # (B, C, T)
    # conv1d is a cross-correlation: tap j of the kernel meets x_{t-(D-1-j)}, so flip the delays
    expected = F.conv1d(F.pad(conv_in, (delays - 1, 0)), layer.weight.flip(-1), layer.bias)
    torch.testing.assert_close(layer(x), expected.permute(2, 0, 1))


def test_time_delay_layer_is_a_slow_tapped_delay_loop():
    layer = TimeDelayLayer(2, 4, 3, nonlinearity="tanh")
    x = torch.randn(6, 2, 2, generator=_seeded(2))
    out = layer(x)
    for t in range(6):
        pre = layer.bias.clone()
        for d in range(3):
            if t - d >= 0:
                pre = pre + x[t - d] @ layer.weight[:, :, d].T
        torch.testing.assert_close(out[t], torch.tanh(pre))


def test_tdnn_receptive_field_and_causality():
    model = TDNN(1, 8, 2, delays=4, num_layers=2)
    assert model.receptive_field == 7
    x = torch.randn(20, 1, 1, generator=_seeded())
    x2 = x.clone()
    x2[10] += 1.0
    y, y2 = model(x), model(x2)
    changed = ((y - y2).abs().sum(-1) > 0).flatten().nonzero().flatten().tolist()
    assert changed == list(range(10, 17))
    with pytest.raises(ValueError):
        model(torch.zeros(5, 2))
