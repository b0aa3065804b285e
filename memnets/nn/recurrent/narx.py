r"""NARX network: the output from tapped delay lines of past inputs and past outputs."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from einops import rearrange
from torch import Tensor, nn

from memnets._checks import check_dtype, check_int, check_positive_int, check_shapes
from memnets.functional.gates import _activation
from memnets.nn.recurrent._build import materialise
from memnets.nn.recurrent.feedback import _feedback_forward
from memnets.nn.registry import register_model

__all__ = ["NARX", "NARXState"]


class NARXState(NamedTuple):
    """The delay lines of `NARX`: the last inputs and the last fed-back outputs.

    Attributes:
        inputs: $x_{t-1}, \\dots, x_{t-K_x+1}$, newest first, (B, K_x − 1, input_size).
        outputs: $\\tilde y_{t-2}, \\dots, \\tilde y_{t-K_y}$, newest first, (B, K_y − 1, output_size).
    """

    inputs: Tensor
    outputs: Tensor


@register_model
class NARX(nn.Module):
    r"""NARX network: the output from tapped delay lines of past inputs and past outputs.

    Nonlinear AutoRegressive with eXogenous inputs; Narendra & Parthasarathy (1990);
    Lin, Horne, Tiňo & Giles (1996), "Learning long-term dependencies in NARX recurrent
    neural networks". With a one-hidden-layer network $f$:

    $$y_t = f\bigl(x_t, x_{t-1}, \dots, x_{t-K_x+1},\ \tilde y_{t-1}, \dots, \tilde y_{t-K_y}\bigr),
      \qquad f(z) = V \phi(W z + b) + c,$$

    where $\tilde y$ are the fed-back outputs: the targets under teacher forcing
    (Narendra's *series-parallel* mode, computed for all steps at once), the model's own
    outputs when running free (the *parallel* mode). The output delays are jumps of up to
    $K_y$ steps through time, which is why NARX networks bridge longer gaps than Elman
    networks. ``input_size=0`` gives a nonlinear autoregression (NAR) of the series itself.

    Args:
        input_size: exogenous input channels (0 for none).
        hidden_size: hidden units of $f$.
        output_size: output channels (fed back).
        input_delays: $K_x \ge 1$, taps on the input (ignored without inputs).
        output_delays: $K_y \ge 1$, taps on the output.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).
        batch_first: the sequences of `forward` (x, targets, output) are (B, T, ·)
            instead of (T, B, ·); `step` and `teacher_forced` are time first.
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T, B, input_size); y_prev: (T, B, output_size) -> (T, B, output_size).

    Examples:
        >>> model = NARX(0, 16, 1, output_delays=5)
        >>> y, state = unroll(model, targets=torch.zeros(20, 3, 1), mode="teacher_forcing")
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, input_delays: int = 1,
                 output_delays: int = 2, nonlinearity: str = "tanh", batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_int("NARX", minimum=0, input_size=input_size)
        check_positive_int("NARX", hidden_size=hidden_size, output_size=output_size,
                           input_delays=input_delays, output_delays=output_delays)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.input_delays = input_delays if input_size > 0 else 0
        self.output_delays = output_delays
        self.nonlinearity, self.batch_first = nonlinearity, batch_first
        self._phi = _activation(nonlinearity, "NARX")
        factory = {"device": "meta", "dtype": dtype}
        self.hidden = nn.Linear(input_size * self.input_delays + output_size * output_delays, hidden_size, **factory)
        self.readout = nn.Linear(hidden_size, output_size, **factory)
        materialise(self, device)

    def reset_parameters(self) -> None:
        """Redraw both layers of $f$ (torch's ``Linear`` initialisation)."""
        self.hidden.reset_parameters()
        self.readout.reset_parameters()

    def initial_state(self, batch_size: int, device: torch.device | None = None,
                      dtype: torch.dtype | None = None) -> NARXState:
        """Empty delay lines (zeros before the start)."""
        kx = max(self.input_delays - 1, 0)
        return NARXState(torch.zeros(batch_size, kx, self.input_size, device=device, dtype=dtype),
                         torch.zeros(batch_size, self.output_delays - 1, self.output_size, device=device, dtype=dtype))

    def _f(self, z: Tensor) -> Tensor:
        return self.readout(self._phi(self.hidden(z)))

    def step(self, x_t: Tensor | None, y_prev: Tensor, state: NARXState | None) -> tuple[Tensor, NARXState]:
        """One step: shift the delay lines and evaluate $f$."""
        dims = check_shapes("NARX", y_prev=(y_prev, "B O"), O=self.output_size)
        check_dtype("NARX", self.hidden.weight.dtype, y_prev=y_prev, x_t=x_t)
        if state is None:
            state = self.initial_state(dims["B"], y_prev.device, y_prev.dtype)
        ys = torch.cat([y_prev[:, None], state.outputs], dim=1)  # newest first, K_y taps
        parts = [ys.flatten(1)]
        xs = state.inputs
        if self.input_size > 0:
            if x_t is None:
                raise ValueError(f"NARX: expected x_t of shape (B, {self.input_size}), got None")
            check_shapes("NARX", x_t=(x_t, "B I"), B=dims["B"], I=self.input_size)
            xs = torch.cat([x_t[:, None], state.inputs], dim=1)
            parts.insert(0, xs.flatten(1))
            xs = xs[:, : self.input_delays - 1]
        y = self._f(torch.cat(parts, dim=-1))
        return y, NARXState(xs, ys[:, : self.output_delays - 1])

    def teacher_forced(self, x: Tensor | None, y_prev: Tensor, state: NARXState | None = None
                       ) -> tuple[Tensor, NARXState]:
        r"""All steps at once when every fed-back value is known (series-parallel mode).

        Shapes:
            x: (T, B, input_size) or None; y_prev: (T, B, output_size) holding
            $\tilde y_{t-1}$ for t = 0..T−1 -> (T, B, output_size).
        """
        dims = check_shapes("NARX", y_prev=(y_prev, "T B O"), O=self.output_size)
        check_dtype("NARX", self.hidden.weight.dtype, y_prev=y_prev, x=x)
        if state is None:
            state = self.initial_state(dims["B"], y_prev.device, y_prev.dtype)
        # history then the sequence, oldest first, so the delay line reads back into the history
        y_all = torch.cat([state.outputs.flip(1).transpose(0, 1), y_prev], dim=0)
        y_taps = y_all.unfold(0, self.output_delays, 1).flip(-1)  # (T, B, O, K_y), newest first
        parts = [rearrange(y_taps, "t b o k -> t b (k o)")]
        new_x = state.inputs
        if self.input_size > 0:
            if x is None:
                raise ValueError(f"NARX: expected x of shape (T, B, {self.input_size}), got None")
            check_shapes("NARX", x=(x, "T B I"), T=dims["T"], B=dims["B"], I=self.input_size)
            x_all = torch.cat([state.inputs.flip(1).transpose(0, 1), x], dim=0)
            x_taps = x_all.unfold(0, self.input_delays, 1).flip(-1)
            parts.insert(0, rearrange(x_taps, "t b i k -> t b (k i)"))
            new_x = x_all[x_all.shape[0] - (self.input_delays - 1):].flip(0).transpose(0, 1)
        y = self._f(torch.cat(parts, dim=-1))
        new_y = y_all[y_all.shape[0] - (self.output_delays - 1):].flip(0).transpose(0, 1)
        return y, NARXState(new_x, new_y)

    def forward(self, x: Tensor | None = None, targets: Tensor | None = None, steps: int | None = None, *,
                mode: str | None = None, y0: Tensor | None = None, **kwargs: Any) -> tuple[Tensor, Any]:
        """`unroll` this model (teacher-forced when ``targets`` are given)."""
        return _feedback_forward(self, x, targets, steps, mode, y0, self.batch_first, **kwargs)
