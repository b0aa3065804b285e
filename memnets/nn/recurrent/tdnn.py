r"""Time-delay neural network: tapped delay lines with weights shared over time.

Waibel, Hanazawa, Hinton, Shikano & Lang (1989). `TimeDelayLayer` is one causal layer,
`TDNN` a stack of them with a linear readout per step.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_dtype, check_positive_int, check_shapes
from memnets.functional.gates import _activation
from memnets.nn.recurrent._build import materialise, time_first
from memnets.nn.registry import register_model

__all__ = ["TimeDelayLayer", "TDNN"]


def _delay_line(x: Tensor, delays: int) -> Tensor:
    """(T, B, C) -> (T, B, C, D): entry d of step t is x_{t-d} (zero before the start)."""
    padded = F.pad(x, (0, 0, 0, 0, delays - 1, 0))
    windows = padded.unfold(0, delays, 1)  # (T, B, C, D), window index j holds x_{t-(D-1-j)}
    return windows.flip(-1)


class TimeDelayLayer(nn.Module):
    r"""A tapped delay line over the last D inputs with weights shared over time.

    Waibel, Hanazawa, Hinton, Shikano & Lang (1989), "Phoneme recognition using time-delay
    neural networks":

    $$y_t = \phi\Bigl(\sum_{d=0}^{D-1} W_d\, x_{t-d} + b\Bigr),$$

    with $x_{t-d} = 0$ before the start (causal). It is a causal 1-D convolution of
    kernel size D; ``weight[:, :, d]`` is $W_d$, the weight of the input $d$ steps back.

    Args:
        input_size: input channels.
        output_size: output channels.
        delays: D, the number of taps (the current input and D − 1 past ones).
        nonlinearity: ``"tanh"``, ``"relu"`` or ``"linear"`` ($\phi$).
        bias: learn $b$.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T, B, input_size) -> (T, B, output_size) (both batch first with
        ``batch_first``); weight: (output_size, input_size, D).

    Examples:
        >>> layer = TimeDelayLayer(2, 8, delays=3)
        >>> y = layer(torch.zeros(10, 4, 2))
    """

    def __init__(self, input_size: int, output_size: int, delays: int, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("TimeDelayLayer", input_size=input_size, output_size=output_size, delays=delays)
        self.input_size, self.output_size, self.delays = input_size, output_size, delays
        self.nonlinearity, self.batch_first = nonlinearity, batch_first
        self._phi = _activation(nonlinearity, "TimeDelayLayer", linear=True)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(output_size, input_size, delays, **factory))
        self.bias = nn.Parameter(torch.empty(output_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weights and bias from $\\mathcal{U}(-1/\\sqrt{I D}, 1/\\sqrt{I D})$ (torch's ``Conv1d``)."""
        bound = 1.0 / math.sqrt(self.input_size * self.delays)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        check_shapes("TimeDelayLayer", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        check_dtype("TimeDelayLayer", self.weight.dtype, x=x)
        taps = _delay_line(time_first(x, self.batch_first), self.delays)
        pre = torch.einsum("tbid,oid->tbo", taps, self.weight)
        return time_first(self._phi(pre if self.bias is None else pre + self.bias), self.batch_first)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.output_size}, delays={self.delays}, nonlinearity={self.nonlinearity!r}"


@register_model
class TDNN(nn.Module):
    r"""Time-delay neural network: stacked `TimeDelayLayer` s and a linear readout per step.

    Waibel et al. (1989). Layer $\ell$ sees the last D outputs of layer $\ell - 1$, so the
    network sees the last $L (D - 1) + 1$ inputs:

    $$z^{(\ell)}_t = \phi\Bigl(\sum_{d=0}^{D-1} W^{(\ell)}_d z^{(\ell-1)}_{t-d} + b^{(\ell)}\Bigr),
      \qquad y_t = V z^{(L)}_t + c.$$

    Args:
        input_size: input channels.
        hidden_size: channels of each time-delay layer.
        output_size: outputs per step.
        delays: D, taps per layer.
        num_layers: L, time-delay layers.
        nonlinearity: ``"tanh"``, ``"relu"`` or ``"linear"``.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T, B, input_size) -> (T, B, output_size) (both batch first with ``batch_first``).

    Examples:
        >>> model = TDNN(1, 16, 10, delays=8)
        >>> y = model(torch.zeros(50, 4, 1))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, delays: int = 5,
                 num_layers: int = 1, nonlinearity: str = "tanh", batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("TDNN", input_size=input_size, hidden_size=hidden_size, output_size=output_size,
                           delays=delays, num_layers=num_layers)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.batch_first = batch_first
        sizes = [input_size] + [hidden_size] * num_layers
        factory = {"device": "meta", "dtype": dtype}
        self.layers = nn.ModuleList(TimeDelayLayer(a, b, delays, nonlinearity, **factory)
                                    for a, b in zip(sizes, sizes[1:]))
        self.readout = nn.Linear(hidden_size, output_size, **factory)
        materialise(self, device)

    def reset_parameters(self) -> None:
        """Redraw every time-delay layer and the readout (torch's initialisations)."""
        for layer in self.layers:
            layer.reset_parameters()
        self.readout.reset_parameters()

    @property
    def receptive_field(self) -> int:
        """How many of the latest inputs an output depends on."""
        return sum(layer.delays - 1 for layer in self.layers) + 1

    def forward(self, x: Tensor) -> Tensor:
        check_shapes("TDNN", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        x = time_first(x, self.batch_first)
        for layer in self.layers:
            x = layer(x)
        return time_first(self.readout(x), self.batch_first)
