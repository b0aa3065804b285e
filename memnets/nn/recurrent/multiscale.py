r"""Leaky-integrator RNN with one rate per unit: units on multiple time scales."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_dtype, check_number, check_positive_int, check_shapes
from memnets.nn.recurrent._build import time_first
from memnets.nn.recurrent._leaky import leaky_rnn_sequence
from memnets.nn.recurrent._serial import autocast_on
from memnets.nn.recurrent.cells import LeakyRNNCell
from memnets.nn.registry import register_model

__all__ = ["MultiTimescaleRNN"]

#: Rates of `MultiTimescaleRNN` are kept inside (_ALPHA_FLOOR, 1].
_ALPHA_FLOOR = 1e-4


@register_model
class MultiTimescaleRNN(nn.Module):
    r"""Leaky-integrator RNN with one rate per unit: units on multiple time scales.

    Jaeger et al. (2007); Mozer (1992); Goodfellow et al. (2016), §10.9.3. The sequence
    version of `memnets.LeakyRNNCell`:

    $$h_t = (1 - \alpha) \odot h_{t-1} + \alpha \odot \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),$$

    a unit with rate $\alpha_j$ integrates over about $1 / \alpha_j$ steps. The rates are
    spread log-uniformly over [``alpha_min``, ``alpha_max``], so the units cover time
    scales from $1/\alpha_{max}$ to $1/\alpha_{min}$ steps; with ``learn_alpha`` they are
    trained (through a sigmoid, so they stay in (0, 1); the end points are then pulled
    inside by ``1e-4``). ``alpha_min = alpha_max = 1`` gives the Elman network
    (``torch.nn.RNN``).

    Speed: the cell's update, [`leaky_update`][memnets.functional.gates.leaky_update], is
    the definition, and ``fused=False`` runs it step by step (the cell loop, with second
    derivatives). The default path computes the input projection of all steps in one
    matrix product and runs the recurrence through one autograd function with a
    hand-derived backward (first derivatives only); the tests prove both paths equal in
    outputs and gradients.

    Args:
        input_size: input channels.
        hidden_size: hidden units H.
        alpha_min: the slowest rate.
        alpha_max: the fastest rate.
        learn_alpha: make the rates trainable.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·) (not the state).
        device: device of the parameters.
        dtype: dtype of the parameters.
        fused: the fused sequence (default) or, with ``False``, the cell loop (keyword
            only; the attribute ``fused`` may be changed at any time).

    Shapes:
        x: (T, B, input_size) -> output (T, B, H) (both batch first with
        ``batch_first``), state (B, H).

    Examples:
        >>> model = MultiTimescaleRNN(3, 16, alpha_min=0.01)
        >>> out, h = model(torch.zeros(20, 2, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, alpha_min: float = 0.01, alpha_max: float = 1.0,
                 learn_alpha: bool = False, nonlinearity: str = "tanh", batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 fused: bool = True):
        super().__init__()
        check_positive_int("MultiTimescaleRNN", input_size=input_size, hidden_size=hidden_size)
        if not isinstance(fused, bool):
            raise TypeError(f"MultiTimescaleRNN: fused should be of type bool, got: {type(fused).__name__}")
        #: Run the fused sequence (see *Speed*); ``False`` forces the cell loop.
        self.fused = fused
        check_number("MultiTimescaleRNN", alpha_min=alpha_min, alpha_max=alpha_max)
        if not 0 < alpha_min <= alpha_max <= 1:
            raise ValueError(
                f"MultiTimescaleRNN: expected 0 < alpha_min <= alpha_max <= 1, got {alpha_min}, {alpha_max}"
            )
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        rates = torch.logspace(math.log10(alpha_min), math.log10(alpha_max), hidden_size)
        if learn_alpha:
            rates = rates.clamp(_ALPHA_FLOOR, 1 - _ALPHA_FLOOR)
        self.cell = LeakyRNNCell(input_size, hidden_size, nonlinearity=nonlinearity, alpha=rates,
                                 learn_alpha=learn_alpha, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        """Redraw the cell's weights and put the rates back to their initial values.

        The cell draws its weights when it is built, so the constructor does not call
        this again.
        """
        self.cell.reset_parameters()

    @property
    def alpha(self) -> Tensor:
        r"""The per-unit rates $\alpha$ (H,)."""
        return self.cell.alpha

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run over a sequence: ``(output, h_n)``."""
        check_shapes("MultiTimescaleRNN", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        x = time_first(x, self.batch_first)
        dims = check_shapes("MultiTimescaleRNN", x=(x, "T B I"))
        check_dtype("MultiTimescaleRNN", self.cell.weight_ih.dtype, x=x, state=state)
        h = x.new_zeros(dims["B"], self.hidden_size) if state is None else state
        check_shapes("MultiTimescaleRNN", state=(h, "B H"), B=dims["B"], H=self.hidden_size)
        if self.fused and dims["T"] > 0 and not autocast_on(x.device):
            cell = self.cell
            bias = None if cell.bias_ih is None else cell.bias_ih + cell.bias_hh
            xw = F.linear(x, cell.weight_ih, bias)
            output, h = leaky_rnn_sequence(xw, h, cell.weight_hh, self.alpha, cell.nonlinearity)
            return time_first(output, self.batch_first), h
        outputs = []
        for t in range(dims["T"]):
            h = self.cell(x[t], h)
            outputs.append(h)
        output = torch.stack(outputs) if outputs else x.new_zeros(0, dims["B"], self.hidden_size)
        return time_first(output, self.batch_first), h
