r"""Seeded time series: the forecasting series of TASKS.md and long-dependency problems.

All data are drawn from a ``torch.Generator``; tensors are (T, B, channels).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "SERIES_STEPS",
    "CONTEXT_STEPS",
    "HORIZON_STEPS",
    "sine_mixture_series",
    "forecasting_split",
    "forecast_windows",
    "adding_problem",
    "ADDING_BASELINE_MSE",
]

#: Grid points per series, the observed context and the forecast horizon (TASKS.md).
SERIES_STEPS, CONTEXT_STEPS, HORIZON_STEPS = 60, 50, 10
#: Amplitudes, base frequencies and noise level of the forecasting series (TASKS.md).
_AMPLITUDES = (0.5, 0.2)
_FREQ_BASE = (10.0, 20.0)
_NOISE = 0.1
#: MSE of always answering 1 on the adding problem: Var(U1 + U2) = 2 / 12.
ADDING_BASELINE_MSE = 1.0 / 6.0


def _check_batch(where: str, batch_size: int) -> None:
    if not isinstance(batch_size, int) or batch_size < 0:
        raise ValueError(f"{where}: expected batch_size >= 0, got {batch_size!r}")


def sine_mixture_series(batch_size: int, *, steps: int = SERIES_STEPS, generator: torch.Generator | None = None,
                        dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Noisy mixtures of two sines on a grid of ``steps`` points in [0, 1] (TASKS.md).

    $$s(t) = 0.5 \sin\bigl((t - o_1)(10 f_1 + 10)\bigr) + 0.2 \sin\bigl((t - o_2)(20 f_2 + 20)\bigr)
      + 0.1 (u - 0.5),$$

    with $o_1, o_2, f_1, f_2 \sim U[0, 1]$ per series and $u \sim U[0, 1]$ per point.

    Args:
        batch_size: number of series B.
        steps: grid points T (60: 50 observed, 10 to forecast).
        generator: the random generator (CPU).
        dtype: the returned dtype.

    Returns:
        The series.

    Shapes:
        -> (T, B, 1).

    Examples:
        >>> s = sine_mixture_series(4, generator=torch.Generator().manual_seed(0))
        >>> s.shape
        torch.Size([60, 4, 1])
    """
    _check_batch("sine_mixture_series", batch_size)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"sine_mixture_series: expected steps >= 1, got {steps!r}")
    f1, f2, o1, o2 = torch.rand(4, 1, batch_size, generator=generator, dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[:, None]
    series = _AMPLITUDES[0] * torch.sin((t - o1) * (f1 * _FREQ_BASE[0] + _FREQ_BASE[0]))
    series = series + _AMPLITUDES[1] * torch.sin((t - o2) * (f2 * _FREQ_BASE[1] + _FREQ_BASE[1]))
    series = series + _NOISE * (torch.rand(steps, batch_size, generator=generator, dtype=torch.float64) - 0.5)
    return series[..., None].to(dtype)


def forecasting_split(series: Tensor, context: int = CONTEXT_STEPS) -> tuple[Tensor, Tensor]:
    """Split series into the observed context and the future to forecast.

    Shapes:
        series: (T, B, C) -> context (context, B, C), future (T − context, B, C).
    """
    if series.dim() != 3:
        raise ValueError(f"forecasting_split: expected series of shape (T, B, C), got {tuple(series.shape)}")
    if not 1 <= context < series.shape[0]:
        raise ValueError(f"forecasting_split: expected 1 <= context < T = {series.shape[0]}, got {context}")
    return series[:context], series[context:]


def forecast_windows(series: Tensor, horizon: int = HORIZON_STEPS) -> Tensor:
    r"""For each step t, the next ``horizon`` values: the targets of sequence-to-sequence forecasting.

    ``out[t, b, k] = series[t + 1 + k, b, 0]`` for the steps t that have a full horizon
    ahead of them (t = 0 .. T − horizon − 1).

    Shapes:
        series: (T, B, 1) -> (T − horizon, B, horizon).

    Examples:
        >>> forecast_windows(torch.arange(5.).reshape(5, 1, 1), 2)[:, 0]
        tensor([[1., 2.],
                [2., 3.],
                [3., 4.]])
    """
    if series.dim() != 3 or series.shape[-1] != 1:
        raise ValueError(f"forecast_windows: expected series of shape (T, B, 1), got {tuple(series.shape)}")
    if not 1 <= horizon < series.shape[0]:
        raise ValueError(f"forecast_windows: expected 1 <= horizon < T = {series.shape[0]}, got {horizon}")
    return series[1:, :, 0].unfold(0, horizon, 1)


def adding_problem(batch_size: int, length: int, *, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    r"""The adding problem: add the two marked numbers of a long sequence.

    Hochreiter & Schmidhuber (1997), experiment 4, in the form of Le, Jaitly & Hinton
    (2015): channel 0 holds $U[0, 1]$ numbers, channel 1 marks two of them, one in each
    half of the sequence; the target is their sum. Always answering 1 scores an MSE of
    1/6 (`ADDING_BASELINE_MSE`); solving it needs a memory of ``length`` steps.

    Args:
        batch_size: sequences B.
        length: T >= 2.
        generator: the random generator.
        dtype: the returned dtype.

    Returns:
        ``(x, y)``.

    Shapes:
        -> x (T, B, 2), y (B, 1).

    Examples:
        >>> x, y = adding_problem(3, 20, generator=torch.Generator().manual_seed(0))
    """
    _check_batch("adding_problem", batch_size)
    if not isinstance(length, int) or length < 2:
        raise ValueError(f"adding_problem: expected length >= 2, got {length!r}")
    values = torch.rand(length, batch_size, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, length, (batch_size,), generator=generator)
    marks = torch.zeros(length, batch_size)
    columns = torch.arange(batch_size)
    marks[first, columns] = 1.0
    marks[second, columns] = 1.0
    x = torch.stack([values, marks], dim=-1).to(dtype)
    y = (values * marks).sum(0, keepdim=False)[:, None].to(dtype)
    return x, y
