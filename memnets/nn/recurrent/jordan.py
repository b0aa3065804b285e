r"""Jordan network: output-to-hidden recurrence, trainable with teacher forcing."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_dtype, check_int, check_number, check_positive_int, check_shapes
from memnets.functional.gates import _activation
from memnets.nn._init import uniform_
from memnets.nn.recurrent._build import materialise
from memnets.nn.recurrent.feedback import _feedback_forward
from memnets.nn.registry import register_model

__all__ = ["JordanRNN"]


@register_model
class JordanRNN(nn.Module):
    r"""Jordan network: the previous output, not the previous hidden state, feeds the hidden layer.

    Jordan (1986), "Serial order: a parallel distributed processing approach";
    Goodfellow et al. (2016), §10.2.1 (fig. 10.4). Jordan's *state units* $s_t$ hold a
    decaying trace of the fed-back outputs:

    $$s_t = \mu\, s_{t-1} + \tilde y_{t-1},\qquad h_t = \phi(W_{ih} x_t + W_{sh} s_t + b),
      \qquad y_t = W_{hy} h_t + b_y,$$

    with $\mu$ = ``decay`` (0 gives Goodfellow's output-to-hidden recurrence). Because
    $h_t$ depends on the past only through $\tilde y$, teacher forcing decouples the time
    steps: with the targets fed back, all steps are computed at once.

    Args:
        input_size: exogenous input channels (0 for none).
        hidden_size: hidden units.
        output_size: outputs (fed back).
        decay: $\mu \in [0, 1)$, the self-connection of the state units.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).
        batch_first: the sequences of `forward` (x, targets, output) are (B, T, ·)
            instead of (T, B, ·); `step` and `teacher_forced` are time first.
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T, B, input_size) -> (T, B, output_size); state $s$: (B, output_size).

    Examples:
        >>> model = JordanRNN(2, 16, 1)
        >>> y, s = model(torch.zeros(10, 3, 2), targets=torch.zeros(10, 3, 1))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, decay: float = 0.0,
                 nonlinearity: str = "tanh", batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_int("JordanRNN", minimum=0, input_size=input_size)
        check_positive_int("JordanRNN", hidden_size=hidden_size, output_size=output_size)
        check_number("JordanRNN", 0.0, decay=decay)
        if decay >= 1:
            raise ValueError(f"JordanRNN: expected decay in [0.0, 1.0), got {decay!r}")
        self._phi = _activation(nonlinearity, "JordanRNN")
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.decay, self.nonlinearity, self.batch_first = float(decay), nonlinearity, batch_first
        factory = {"device": "meta", "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory)) if input_size > 0 else None
        self.weight_sh = nn.Parameter(torch.empty(hidden_size, output_size, **factory))
        self.bias = nn.Parameter(torch.empty(hidden_size, **factory))
        self.readout = nn.Linear(hidden_size, output_size, **factory)
        materialise(self, device)

    def reset_parameters(self) -> None:
        r"""Draw the hidden layer's weights from $\mathcal{U}(-1/\sqrt{H}, 1/\sqrt{H})$ and the
        readout as torch's ``Linear``."""
        uniform_(self, self.hidden_size, recurse=False)
        self.readout.reset_parameters()

    def initial_state(self, batch_size: int, device: torch.device | None = None,
                      dtype: torch.dtype | None = None) -> Tensor:
        """Zero state units."""
        return torch.zeros(batch_size, self.output_size, device=device, dtype=dtype)

    def _output(self, x: Tensor | None, s: Tensor) -> Tensor:
        pre = F.linear(s, self.weight_sh, self.bias)
        if self.weight_ih is not None:
            pre = pre + F.linear(x, self.weight_ih)
        return self.readout(self._phi(pre))

    def _check_x(self, x: Tensor | None, lead: str, **dims: int) -> None:
        if self.input_size > 0:
            if x is None:
                raise ValueError(f"JordanRNN: expected inputs with {self.input_size} channels, got None")
            check_shapes("JordanRNN", x=(x, f"{lead} I"), I=self.input_size, **dims)

    def step(self, x_t: Tensor | None, y_prev: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step: update the state units with $\\tilde y_{t-1}$, then compute $y_t$."""
        dims = check_shapes("JordanRNN", y_prev=(y_prev, "B O"), O=self.output_size)
        check_dtype("JordanRNN", self.weight_sh.dtype, y_prev=y_prev, x_t=x_t, state=state)
        self._check_x(x_t, "B", B=dims["B"])
        s = y_prev if state is None else self.decay * state + y_prev
        return self._output(x_t, s), s

    def teacher_forced(self, x: Tensor | None, y_prev: Tensor, state: Tensor | None = None
                       ) -> tuple[Tensor, Tensor]:
        """All steps at once from known fed-back values (T, B, output_size)."""
        dims = check_shapes("JordanRNN", y_prev=(y_prev, "T B O"), O=self.output_size)
        check_dtype("JordanRNN", self.weight_sh.dtype, y_prev=y_prev, x=x, state=state)
        self._check_x(x, "T B", T=dims["T"], B=dims["B"])
        if self.decay == 0.0:
            s_all = y_prev
        else:
            s = y_prev.new_zeros(dims["B"], self.output_size) if state is None else state
            states = []
            for t in range(dims["T"]):
                s = self.decay * s + y_prev[t]
                states.append(s)
            s_all = torch.stack(states)
        last = s_all[-1] if dims["T"] else state
        return self._output(x, s_all), last

    def forward(self, x: Tensor | None = None, targets: Tensor | None = None, steps: int | None = None, *,
                mode: str | None = None, y0: Tensor | None = None, **kwargs: Any) -> tuple[Tensor, Any]:
        """`unroll` this model (teacher-forced when ``targets`` are given)."""
        return _feedback_forward(self, x, targets, steps, mode, y0, self.batch_first, **kwargs)
