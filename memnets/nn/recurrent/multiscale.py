r"""Leaky-integrator RNN with one rate per unit: units on multiple time scales."""

from __future__ import annotations

import math

import torch
from torch import Tensor, _VF, nn

from memnets._checks import check_dtype, check_number, check_positive_int, check_shapes
from memnets.functional.gates import SATURATED
from memnets.nn.recurrent._build import time_first
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

    Speed: with ``tanh`` the leaky update is a GRU whose reset gate is always open and
    whose update gate is the constant $z = 1 - \alpha$,

    $$r = \sigma(s) = 1,\quad z = \sigma(\operatorname{logit}(1 - \alpha)),\quad
      n = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}),\quad
      h_t = (1 - z) \odot n + z \odot h_{t-1},$$

    so `forward` runs torch's fused GRU kernel on weights built from the cell's
    (zero r and z rows, a saturated reset bias $s$, $\operatorname{logit}(1 - \alpha) =
    -$``alpha_logit`` for learnt rates), gradients included. ``fused=False`` (or the
    attribute ``model.fused = False``) runs the cell's gate-core update
    (`memnets.functional.gates.leaky_update`) step by step; ``relu`` always does.

    Args:
        input_size: input channels.
        hidden_size: hidden units H.
        alpha_min: the slowest rate.
        alpha_max: the fastest rate.
        learn_alpha: make the rates trainable.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        fused: run torch's GRU kernel where it computes the update (``tanh``).
        batch_first: input and output are (B, T, ·) instead of (T, B, ·) (not the state).
        device: device of the parameters.
        dtype: dtype of the parameters.

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
        check_number("MultiTimescaleRNN", alpha_min=alpha_min, alpha_max=alpha_max)
        if not 0 < alpha_min <= alpha_max <= 1:
            raise ValueError(
                f"MultiTimescaleRNN: expected 0 < alpha_min <= alpha_max <= 1, got {alpha_min}, {alpha_max}"
            )
        if not isinstance(fused, bool):
            raise TypeError(f"MultiTimescaleRNN: fused should be of type bool, got: {type(fused).__name__}")
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        self.fused = fused
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

    @property
    def uses_fused_kernel(self) -> bool:
        """Whether `forward` runs torch's fused GRU kernel (``fused`` and ``tanh``)."""
        return self.fused and self.cell.nonlinearity == "tanh"

    def _gru_weights(self) -> list[Tensor]:
        """``[w_ih, w_hh, b_ih, b_hh]`` of the GRU (gates r, z, n) that is this leaky RNN."""
        cell = self.cell
        w_ih, w_hh = cell.weight_ih, cell.weight_hh
        zeros_ih, zeros_hh = w_ih.new_zeros(2 * self.hidden_size, self.input_size), w_hh.new_zeros(
            2 * self.hidden_size, self.hidden_size)
        b_ih = cell.bias_ih if cell.bias_ih is not None else w_ih.new_zeros(self.hidden_size)
        b_hh = cell.bias_hh if cell.bias_hh is not None else w_hh.new_zeros(self.hidden_size)
        if cell.alpha_logit is not None:
            update = -cell.alpha_logit  # 1 - sigmoid(a) = sigmoid(-a)
        else:
            update = torch.logit(1 - cell.alpha_fixed).clamp(-SATURATED, SATURATED)
        reset = torch.full_like(b_ih, SATURATED)
        return [torch.cat([zeros_ih, w_ih]), torch.cat([zeros_hh, w_hh]),
                torch.cat([reset, update, b_ih]), torch.cat([torch.zeros_like(b_hh), torch.zeros_like(b_hh), b_hh])]

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run over a sequence: ``(output, h_n)``."""
        check_shapes("MultiTimescaleRNN", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        x = time_first(x, self.batch_first)
        dims = check_shapes("MultiTimescaleRNN", x=(x, "T B I"))
        check_dtype("MultiTimescaleRNN", self.cell.weight_ih.dtype, x=x, state=state)
        h = x.new_zeros(dims["B"], self.hidden_size) if state is None else state
        check_shapes("MultiTimescaleRNN", state=(h, "B H"), B=dims["B"], H=self.hidden_size)
        if self.uses_fused_kernel and dims["T"] > 0:
            output, h_n = _VF.gru(x, h[None], self._gru_weights(), True, 1, 0.0, self.training, False, False)
            return time_first(output, self.batch_first), h_n[0]
        outputs = []
        for t in range(dims["T"]):
            h = self.cell(x[t], h)
            outputs.append(h)
        output = torch.stack(outputs) if outputs else x.new_zeros(0, dims["B"], self.hidden_size)
        return time_first(output, self.batch_first), h
