"""Tests of memnets.data.series: the forecasting series and the adding problem."""

import math

import pytest
import torch

from memnets.data.series import (
    ADDING_BASELINE_MSE,
    adding_problem,
    forecast_windows,
    forecasting_split,
    sine_mixture_series,
)


def test_series_is_seeded_and_shaped():
    a = sine_mixture_series(5, generator=torch.Generator().manual_seed(3))
    b = sine_mixture_series(5, generator=torch.Generator().manual_seed(3))
    c = sine_mixture_series(5, generator=torch.Generator().manual_seed(4))
    assert a.shape == (60, 5, 1) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert a.abs().max() <= 0.5 + 0.2 + 0.05 + 1e-6


def test_series_follows_the_formula():
    g = torch.Generator().manual_seed(0)
    s = sine_mixture_series(3, generator=g, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    f1, f2, o1, o2 = torch.rand(4, 1, 3, generator=g, dtype=torch.float64)
    u = torch.rand(60, 3, generator=g, dtype=torch.float64)
    for b in range(3):
        for i in (0, 17, 59):
            t = i / 59
            expected = (0.5 * math.sin((t - o1[0, b]) * (f1[0, b] * 10 + 10))
                        + 0.2 * math.sin((t - o2[0, b]) * (f2[0, b] * 20 + 20)) + 0.1 * (u[i, b] - 0.5))
            assert s[i, b, 0].item() == pytest.approx(float(expected), abs=1e-12)


def test_split_and_windows():
    s = sine_mixture_series(2, generator=torch.Generator().manual_seed(0))
    context, future = forecasting_split(s)
    assert context.shape == (50, 2, 1) and future.shape == (10, 2, 1)
    w = forecast_windows(s[:60], 10)
    assert w.shape == (50, 2, 10)
    torch.testing.assert_close(w[49], future[:, :, 0].T)
    torch.testing.assert_close(w[0, :, 0], s[1, :, 0])
    with pytest.raises(ValueError):
        forecasting_split(s[:, :, 0])
    with pytest.raises(ValueError):
        forecast_windows(s, 60)


def test_adding_problem():
    x, y = adding_problem(500, 30, generator=torch.Generator().manual_seed(0))
    assert x.shape == (30, 500, 2) and y.shape == (500, 1)
    marks = x[..., 1]
    assert torch.equal(marks.sum(0), torch.full((500,), 2.0))
    assert (marks[:15].sum(0) == 1).all()  # one mark in each half
    torch.testing.assert_close(y[:, 0], (x[..., 0] * marks).sum(0))
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(ADDING_BASELINE_MSE, rel=0.2)
    with pytest.raises(ValueError):
        adding_problem(2, 1)
