r"""Elman network with a skip connection through time (a recurrence from d steps back)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_dtype, check_positive_int, check_shapes
from memnets.functional.gates import _activation, rnn_update
from memnets.nn._init import uniform_
from memnets.nn.recurrent._build import time_first
from memnets.nn.recurrent._skip import skip_rnn_sequence
from memnets.nn.recurrent._serial import autocast_on
from memnets.nn.registry import register_model

__all__ = ["SkipRNN"]


@register_model
class SkipRNN(nn.Module):
    r"""Elman network with a skip connection through time: a recurrence from $d$ steps back.

    Lin, Horne, Tiňo & Giles (1996); Goodfellow et al. (2016), §10.9.1: a connection
    from $h_{t-d}$ lets gradients cross $T$ steps in $T / d$ hops.

    $$h_t = \phi\bigl(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh} + W_{skip} h_{t-d}\bigr).$$

    With ``short_connection=False`` the $W_{hh} h_{t-1}$ term is removed (§10.9.2,
    "removing connections"): the units then live on a time scale of $d$ steps.
    Parameter names follow ``torch.nn.RNN`` (``weight_ih``, ``weight_hh``, ``bias_ih``,
    ``bias_hh``) plus ``weight_skip``.

    Speed: the step on the gate core ([`rnn_update`][memnets.functional.gates.rnn_update])
    is the definition, and ``fused=False`` runs it step by step (the autograd loop, with
    second derivatives). The default path computes the input projection of all steps in
    one matrix product and runs the recurrence through one autograd function with a
    hand-derived backward (first derivatives only); the tests prove both paths equal in
    outputs and gradients.

    Args:
        input_size: input channels.
        hidden_size: hidden units H.
        skip: $d \ge 1$.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        short_connection: keep the $h_{t-1}$ recurrence.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·) (not the state).
        device: device of the parameters.
        dtype: dtype of the parameters.
        fused: the fused sequence (default) or, with ``False``, the autograd loop (keyword
            only; the attribute ``fused`` may be changed at any time).

    Shapes:
        x: (T, B, input_size) -> output (T, B, H) (both batch first with
        ``batch_first``); state: the last d states, oldest first, (d, B, H) (zeros before
        the start).

    Examples:
        >>> model = SkipRNN(3, 16, skip=4)
        >>> out, state = model(torch.zeros(20, 2, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, skip: int = 2, nonlinearity: str = "tanh",
                 short_connection: bool = True, batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 fused: bool = True):
        super().__init__()
        check_positive_int("SkipRNN", input_size=input_size, hidden_size=hidden_size, skip=skip)
        if not isinstance(fused, bool):
            raise TypeError(f"SkipRNN: fused should be of type bool, got: {type(fused).__name__}")
        #: Run the fused sequence (see *Speed*); ``False`` forces the autograd loop.
        self.fused = fused
        _activation(nonlinearity, "SkipRNN")
        self.input_size, self.hidden_size, self.skip = input_size, hidden_size, skip
        self.nonlinearity, self.short_connection, self.batch_first = nonlinearity, short_connection, batch_first
        factory = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **factory)) if short_connection else None
        self.weight_skip = nn.Parameter(torch.empty(hidden_size, hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Draw every weight from $\mathcal{U}(-1/\sqrt{H}, 1/\sqrt{H})$, as torch's RNN does."""
        uniform_(self, self.hidden_size)

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Run over a sequence: ``(output, state)``, the state the last d hidden states."""
        check_shapes("SkipRNN", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        x = time_first(x, self.batch_first)
        dims = check_shapes("SkipRNN", x=(x, "T B I"))
        check_dtype("SkipRNN", self.weight_ih.dtype, x=x, state=state)
        if state is None:
            state = x.new_zeros(self.skip, dims["B"], self.hidden_size)
        check_shapes("SkipRNN", state=(state, "D B H"), D=self.skip, B=dims["B"], H=self.hidden_size)
        if self.fused and dims["T"] > 0 and not autocast_on(x.device):
            xw = F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)
            output, state = skip_rnn_sequence(xw, state, self.weight_hh, self.weight_skip, self.nonlinearity)
            return time_first(output, self.batch_first), state
        history = list(state.unbind(0))  # history[-1] is h_{t-1}, history[-d] is h_{t-d}
        drive = F.linear(x, self.weight_ih, self.bias_ih)
        outputs = []
        for t in range(dims["T"]):
            pre = drive[t] + self.bias_hh + F.linear(history[-self.skip], self.weight_skip)
            if self.weight_hh is not None:
                pre = pre + F.linear(history[-1], self.weight_hh)
            h = rnn_update(pre, self.nonlinearity)
            outputs.append(h)
            history = history[1:] + [h]
        output = torch.stack(outputs) if outputs else x.new_zeros(0, dims["B"], self.hidden_size)
        return time_first(output, self.batch_first), torch.stack(history)
