r"""The classic recurrent toolkit: Jordan, echo-state, time-delay, NARX, skip and leaky networks.

The architectures of the textbook chapters on recurrent networks (Goodfellow, Bengio &
Courville 2016, ch. 10; Haykin 2009, ch. 15) that are not LSTMs, each on the shared
gated-update core (`memnets.functional.gates`):

* `JordanRNN` — output-to-hidden recurrence (Jordan 1986), trainable with teacher
  forcing;
* `EchoStateNetwork` — a fixed random reservoir and a readout fitted in closed form
  by ridge regression (Jaeger 2001), see `ridge_regression`;
* `TimeDelayLayer` and `TDNN` — a tapped delay line with weights shared
  over time (Waibel et al. 1989);
* `NARX` — $y_t$ from the last $K_x$ inputs and the last $K_y$ outputs
  (Lin, Horne, Tiňo & Giles 1996);
* `SkipRNN` — a recurrence from $d$ steps back (skip connections through time);
* `MultiTimescaleRNN` — leaky units with one rate $\alpha$ per unit.

The models with output feedback (`JordanRNN`, `NARX`) follow
`memnets.nn.modes.OutputFeedback`, so `memnets.nn.modes.unroll` runs them with
teacher forcing, free running or scheduled sampling. Shapes: ``T`` time, ``B`` batch,
``H`` hidden units; sequences are (T, B, channels).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_shapes
from memnets.functional.gates import ACTIVATIONS, leaky_update, rnn_update
from memnets.nn.cells import LeakyRNNCell
from memnets.nn.modes import unroll
from memnets.nn.registry import register_model

__all__ = [
    "ridge_regression",
    "spectral_radius",
    "EchoStateNetwork",
    "TimeDelayLayer",
    "TDNN",
    "NARX",
    "NARXState",
    "JordanRNN",
    "SkipRNN",
    "MultiTimescaleRNN",
]

#: Smallest spectral radius of a raw reservoir matrix that can still be rescaled.
_MIN_RAW_RADIUS = 1e-12
#: Rates of `MultiTimescaleRNN` are kept inside (_ALPHA_FLOOR, 1].
_ALPHA_FLOOR = 1e-4


def _activation(name: str | None) -> Callable[[Tensor], Tensor]:
    if name is None or name == "linear":
        return lambda t: t
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"expected nonlinearity in {sorted(ACTIVATIONS) + ['linear']}, got {name!r}") from None


def _check_positive_int(where: str, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}: expected {name} to be a positive integer, got {value!r}")


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters(recurse=False):
        nn.init.uniform_(p, -bound, bound)


# --------------------------------------------------------------------------------------
# Echo-state network
# --------------------------------------------------------------------------------------


def ridge_regression(features: Tensor, targets: Tensor, ridge: float = 0.0) -> tuple[Tensor, Tensor]:
    r"""Closed-form ridge regression with an unpenalised bias: the echo-state readout.

    Jaeger (2001); Lukoševičius (2012), "A practical guide to applying echo state
    networks", eq. (9). With features $X$ (one row per sample) centred by their mean
    $\bar x$ and targets by $\bar y$,

    $$W = \bigl(\tilde X^\top \tilde X + \beta I\bigr)^{-1} \tilde X^\top \tilde Y,
      \qquad b = \bar y - \bar x W,$$

    the minimiser of $\lVert X W + b - Y \rVert^2 + \beta \lVert W \rVert^2$. Solved in
    float64 (a least-squares solve when $\beta = 0$).

    Args:
        features: the rows $X$.
        targets: the rows $Y$.
        ridge: the penalty $\beta \ge 0$.

    Returns:
        ``(weight, bias)`` with ``prediction = features @ weight.T + bias``, in the
        dtype of ``features``.

    Shapes:
        features: (N, F); targets: (N, O) -> weight (O, F), bias (O,).

    Examples:
        >>> X = torch.randn(100, 3); Y = X @ torch.tensor([[1.], [2.], [3.]]) + 0.5
        >>> W, b = ridge_regression(X, Y)
    """
    dims = check_shapes("ridge_regression", features=(features, "N F"), targets=(targets, "N O"))
    if dims["N"] < 1:
        raise ValueError("ridge_regression: expected at least one sample, got N = 0")
    if not (isinstance(ridge, (int, float)) and ridge >= 0):
        raise ValueError(f"ridge_regression: expected ridge >= 0, got {ridge!r}")
    X, Y = features.detach().double(), targets.detach().double()
    x_mean, y_mean = X.mean(0), Y.mean(0)
    Xc, Yc = X - x_mean, Y - y_mean
    if ridge > 0:
        gram = Xc.T @ Xc + ridge * torch.eye(dims["F"], dtype=X.dtype, device=X.device)
        weight = torch.linalg.solve(gram, Xc.T @ Yc).T
    else:
        weight = torch.linalg.lstsq(Xc.cpu(), Yc.cpu(), driver="gelsd").solution.T.to(X.device)
    bias = y_mean - x_mean @ weight.T
    return weight.to(features.dtype), bias.to(features.dtype)


def spectral_radius(matrix: Tensor) -> float:
    r"""The spectral radius $\rho(W) = \max_i |\lambda_i(W)|$ of a square matrix.

    Shapes:
        matrix: (H, H).

    Examples:
        >>> spectral_radius(torch.diag(torch.tensor([0.5, -2.0])))
        2.0
    """
    check_shapes("spectral_radius", matrix=(matrix, "H H"))
    return float(torch.linalg.eigvals(matrix.detach().double().cpu()).abs().max()) if matrix.numel() else 0.0


@register_model
class EchoStateNetwork(nn.Module):
    r"""Echo-state network: a fixed random reservoir and a linear readout fitted in closed form.

    Jaeger (2001), "The echo state approach to analysing and training recurrent neural
    networks"; leaky units from Jaeger et al. (2007); the recipe of Lukoševičius (2012).
    The reservoir is never trained:

    $$\tilde h_t = \tanh(W_{in} u_t + b_{in} + W h_{t-1}),\qquad
      h_t = (1 - \alpha) h_{t-1} + \alpha \tilde h_t,\qquad
      y_t = W_{out} [h_t; u_t] + b_{out},$$

    with $W$ sparse (a fraction ``density`` of nonzero entries, drawn from U[−1, 1]) and
    rescaled to the spectral radius $\rho$ (``spectral_radius``), $W_{in}$ drawn from
    U[−s, s] with $s$ = ``input_scaling``, $b_{in}$ from U[−``bias_scaling``,
    ``bias_scaling``], and the leak rate $\alpha$ (``leak_rate``). `fit` sets
    $W_{out}, b_{out}$ by `ridge_regression` on the collected states — no
    back-propagation. The reservoir is drawn from ``seed``, and all weights are buffers,
    so checkpoints restore the fitted network exactly.

    Args:
        input_size: input channels $u_t$.
        reservoir_size: reservoir units H.
        output_size: readout outputs.
        spectral_radius: $\rho(W)$ after rescaling.
        input_scaling: $s$, the scale of $W_{in}$.
        bias_scaling: the scale of $b_{in}$.
        leak_rate: $\alpha \in (0, 1]$.
        density: fraction of nonzero entries of $W$.
        ridge: the readout penalty $\beta$.
        include_input: feed $u_t$ to the readout next to $h_t$.
        seed: seed of the reservoir draw.

    Shapes:
        x: (T, B, input_size) -> y (T, B, output_size); state (B, reservoir_size).

    Examples:
        >>> esn = EchoStateNetwork(1, 100, 1, spectral_radius=0.9, seed=0)
        >>> x = torch.randn(200, 4, 1)
        >>> esn = esn.fit(x[:-1], x[1:], washout=20)
        >>> y, h = esn(x)
    """

    def __init__(self, input_size: int, reservoir_size: int, output_size: int, spectral_radius: float = 0.9,
                 input_scaling: float = 1.0, bias_scaling: float = 0.0, leak_rate: float = 1.0,
                 density: float = 0.1, ridge: float = 1e-6, include_input: bool = True, seed: int = 0):
        super().__init__()
        _check_positive_int("EchoStateNetwork", input_size=input_size, reservoir_size=reservoir_size,
                            output_size=output_size)
        if not 0 < leak_rate <= 1:
            raise ValueError(f"EchoStateNetwork: expected 0 < leak_rate <= 1, got {leak_rate!r}")
        if not 0 < density <= 1:
            raise ValueError(f"EchoStateNetwork: expected 0 < density <= 1, got {density!r}")
        if spectral_radius < 0 or input_scaling < 0 or bias_scaling < 0 or ridge < 0:
            raise ValueError("EchoStateNetwork: expected spectral_radius, input_scaling, bias_scaling and ridge >= 0")
        self.input_size, self.reservoir_size, self.output_size = input_size, reservoir_size, output_size
        self.leak_rate, self.ridge, self.include_input = float(leak_rate), float(ridge), include_input
        g = torch.Generator().manual_seed(seed)
        raw = (torch.rand(reservoir_size, reservoir_size, generator=g, dtype=torch.float64) * 2 - 1)
        raw = raw * (torch.rand(reservoir_size, reservoir_size, generator=g, dtype=torch.float64) < density)
        radius = float(torch.linalg.eigvals(raw).abs().max())
        if radius < _MIN_RAW_RADIUS:
            raise ValueError(
                f"EchoStateNetwork: the drawn reservoir has spectral radius {radius:.3g}; increase density "
                f"(got {density}) or reservoir_size (got {reservoir_size})"
            )
        w_in = (torch.rand(reservoir_size, input_size, generator=g, dtype=torch.float64) * 2 - 1) * input_scaling
        b_in = (torch.rand(reservoir_size, generator=g, dtype=torch.float64) * 2 - 1) * bias_scaling
        self.register_buffer("weight_res", (raw * (spectral_radius / radius)).float())
        self.register_buffer("weight_in", w_in.float())
        self.register_buffer("bias_in", b_in.float())
        self.register_buffer("alpha", torch.full((reservoir_size,), float(leak_rate)))
        features = reservoir_size + (input_size if include_input else 0)
        self.register_buffer("readout_weight", torch.zeros(output_size, features))
        self.register_buffer("readout_bias", torch.zeros(output_size))

    def reservoir(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        r"""The reservoir states $h_1, \dots, h_T$ (no gradient is needed or kept by ``fit``).

        Shapes:
            x: (T, B, input_size); state: (B, reservoir_size) -> (T, B, reservoir_size).
        """
        dims = check_shapes("EchoStateNetwork", x=(x, "T B I"), I=self.input_size)
        h = x.new_zeros(dims["B"], self.reservoir_size) if state is None else state
        check_shapes("EchoStateNetwork", state=(h, "B H"), B=dims["B"], H=self.reservoir_size)
        drive = F.linear(x, self.weight_in, self.bias_in)  # all input terms at once
        states = []
        for t in range(dims["T"]):
            h = leaky_update(drive[t] + h @ self.weight_res.T, h, self.alpha)
            states.append(h)
        return torch.stack(states) if states else x.new_zeros(0, dims["B"], self.reservoir_size)

    def features(self, x: Tensor, states: Tensor) -> Tensor:
        """What the readout sees: $[h_t; u_t]$ (or $h_t$ without ``include_input``)."""
        return torch.cat([states, x], dim=-1) if self.include_input else states

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        states = self.reservoir(x, state)
        y = F.linear(self.features(x, states), self.readout_weight, self.readout_bias)
        last = states[-1] if states.shape[0] else (x.new_zeros(x.shape[1], self.reservoir_size)
                                                   if state is None else state)
        return y, last

    @torch.no_grad()
    def fit(self, x: Tensor, targets: Tensor, washout: int = 0, state: Tensor | None = None) -> "EchoStateNetwork":
        r"""Fit the readout by ridge regression on the states the inputs drive.

        Args:
            x: the driving inputs $u_t$.
            targets: the wanted outputs, one per step (T, B, O), or one per sequence
                (B, O) to be read from the last state (a sequence → vector readout).
            washout: initial steps left out of the fit (transient of the initial state).
            state: initial reservoir state.

        Returns:
            ``self``, fitted.

        Shapes:
            x: (T, B, input_size); targets: (T, B, output_size) or (B, output_size).
        """
        dims = check_shapes("EchoStateNetwork.fit", x=(x, "T B I"), I=self.input_size)
        if not 0 <= washout < dims["T"]:
            raise ValueError(f"EchoStateNetwork.fit: expected 0 <= washout < T = {dims['T']}, got {washout}")
        feats = self.features(x, self.reservoir(x, state))
        if targets.dim() == 2:
            check_shapes("EchoStateNetwork.fit", targets=(targets, "B O"), B=dims["B"], O=self.output_size)
            rows, wanted = feats[-1], targets
        else:
            check_shapes("EchoStateNetwork.fit", targets=(targets, "T B O"), T=dims["T"], B=dims["B"],
                         O=self.output_size)
            rows = rearrange(feats[washout:], "t b f -> (t b) f")
            wanted = rearrange(targets[washout:], "t b o -> (t b) o")
        weight, bias = ridge_regression(rows, wanted, self.ridge)
        self.readout_weight.copy_(weight)
        self.readout_bias.copy_(bias)
        return self

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, reservoir_size={self.reservoir_size}, "
                f"output_size={self.output_size}, leak_rate={self.leak_rate}, ridge={self.ridge}")


# --------------------------------------------------------------------------------------
# Time-delay neural network
# --------------------------------------------------------------------------------------


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

    Shapes:
        x: (T, B, input_size) -> (T, B, output_size); weight: (output_size, input_size, D).

    Examples:
        >>> layer = TimeDelayLayer(2, 8, delays=3)
        >>> y = layer(torch.zeros(10, 4, 2))
    """

    def __init__(self, input_size: int, output_size: int, delays: int, nonlinearity: str = "tanh",
                 bias: bool = True):
        super().__init__()
        _check_positive_int("TimeDelayLayer", input_size=input_size, output_size=output_size, delays=delays)
        self.input_size, self.output_size, self.delays = input_size, output_size, delays
        self.nonlinearity = nonlinearity
        self._phi = _activation(nonlinearity)
        self.weight = nn.Parameter(torch.empty(output_size, input_size, delays))
        self.bias = nn.Parameter(torch.empty(output_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.input_size * self.delays)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        check_shapes("TimeDelayLayer", x=(x, "T B I"), I=self.input_size)
        taps = _delay_line(x, self.delays)
        pre = torch.einsum("tbid,oid->tbo", taps, self.weight)
        return self._phi(pre if self.bias is None else pre + self.bias)

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

    Shapes:
        x: (T, B, input_size) -> (T, B, output_size).

    Examples:
        >>> model = TDNN(1, 16, 10, delays=8)
        >>> y = model(torch.zeros(50, 4, 1))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, delays: int = 5,
                 num_layers: int = 1, nonlinearity: str = "tanh"):
        super().__init__()
        _check_positive_int("TDNN", num_layers=num_layers)
        self.input_size, self.output_size = input_size, output_size
        sizes = [input_size] + [hidden_size] * num_layers
        self.layers = nn.ModuleList(TimeDelayLayer(a, b, delays, nonlinearity) for a, b in zip(sizes, sizes[1:]))
        self.readout = nn.Linear(hidden_size, output_size)

    @property
    def receptive_field(self) -> int:
        """How many of the latest inputs an output depends on."""
        return sum(layer.delays - 1 for layer in self.layers) + 1

    def forward(self, x: Tensor) -> Tensor:
        check_shapes("TDNN", x=(x, "T B I"), I=self.input_size)
        for layer in self.layers:
            x = layer(x)
        return self.readout(x)


# --------------------------------------------------------------------------------------
# NARX
# --------------------------------------------------------------------------------------


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
        output_size: output channels (fed back).
        hidden_size: hidden units of $f$.
        input_delays: $K_x \ge 1$, taps on the input (ignored without inputs).
        output_delays: $K_y \ge 1$, taps on the output.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).

    Shapes:
        x: (T, B, input_size); y_prev: (T, B, output_size) -> (T, B, output_size).

    Examples:
        >>> model = NARX(0, 1, 16, output_delays=5)
        >>> y, state = unroll(model, targets=torch.zeros(20, 3, 1), mode="teacher_forcing")
    """

    def __init__(self, input_size: int, output_size: int, hidden_size: int, input_delays: int = 1,
                 output_delays: int = 2, nonlinearity: str = "tanh"):
        super().__init__()
        if not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"NARX: expected input_size >= 0, got {input_size!r}")
        _check_positive_int("NARX", output_size=output_size, hidden_size=hidden_size,
                            input_delays=input_delays, output_delays=output_delays)
        self.input_size, self.output_size, self.hidden_size = input_size, output_size, hidden_size
        self.input_delays = input_delays if input_size > 0 else 0
        self.output_delays = output_delays
        self.nonlinearity = nonlinearity
        _activation(nonlinearity)
        self.hidden = nn.Linear(input_size * self.input_delays + output_size * output_delays, hidden_size)
        self.readout = nn.Linear(hidden_size, output_size)

    def initial_state(self, batch_size: int, device: torch.device | None = None,
                      dtype: torch.dtype | None = None) -> NARXState:
        """Empty delay lines (zeros before the start)."""
        kx = max(self.input_delays - 1, 0)
        return NARXState(torch.zeros(batch_size, kx, self.input_size, device=device, dtype=dtype),
                         torch.zeros(batch_size, self.output_delays - 1, self.output_size, device=device, dtype=dtype))

    def _f(self, z: Tensor) -> Tensor:
        return self.readout(rnn_update(self.hidden(z), self.nonlinearity))

    def step(self, x_t: Tensor | None, y_prev: Tensor, state: NARXState | None) -> tuple[Tensor, NARXState]:
        """One step: shift the delay lines and evaluate $f$."""
        dims = check_shapes("NARX", y_prev=(y_prev, "B O"), O=self.output_size)
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
        mode = mode or ("teacher_forcing" if targets is not None else "free_running")
        return unroll(self, steps, x=x, y0=y0, targets=targets, mode=mode, **kwargs)


# --------------------------------------------------------------------------------------
# Jordan network
# --------------------------------------------------------------------------------------


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

    Shapes:
        x: (T, B, input_size) -> (T, B, output_size); state $s$: (B, output_size).

    Examples:
        >>> model = JordanRNN(2, 16, 1)
        >>> y, s = model(torch.zeros(10, 3, 2), targets=torch.zeros(10, 3, 1))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, decay: float = 0.0,
                 nonlinearity: str = "tanh"):
        super().__init__()
        if not isinstance(input_size, int) or input_size < 0:
            raise ValueError(f"JordanRNN: expected input_size >= 0, got {input_size!r}")
        _check_positive_int("JordanRNN", hidden_size=hidden_size, output_size=output_size)
        if not 0 <= decay < 1:
            raise ValueError(f"JordanRNN: expected 0 <= decay < 1, got {decay!r}")
        _activation(nonlinearity)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.decay, self.nonlinearity = float(decay), nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size)) if input_size > 0 else None
        self.weight_sh = nn.Parameter(torch.empty(hidden_size, output_size))
        self.bias = nn.Parameter(torch.empty(hidden_size))
        _init_uniform(self, hidden_size)
        self.readout = nn.Linear(hidden_size, output_size)

    def initial_state(self, batch_size: int, device: torch.device | None = None,
                      dtype: torch.dtype | None = None) -> Tensor:
        """Zero state units."""
        return torch.zeros(batch_size, self.output_size, device=device, dtype=dtype)

    def _output(self, x: Tensor | None, s: Tensor) -> Tensor:
        pre = F.linear(s, self.weight_sh, self.bias)
        if self.weight_ih is not None:
            pre = pre + F.linear(x, self.weight_ih)
        return self.readout(rnn_update(pre, self.nonlinearity))

    def _check_x(self, x: Tensor | None, lead: str, **dims: int) -> None:
        if self.input_size > 0:
            if x is None:
                raise ValueError(f"JordanRNN: expected inputs with {self.input_size} channels, got None")
            check_shapes("JordanRNN", x=(x, f"{lead} I"), I=self.input_size, **dims)

    def step(self, x_t: Tensor | None, y_prev: Tensor, state: Tensor | None) -> tuple[Tensor, Tensor]:
        """One step: update the state units with $\\tilde y_{t-1}$, then compute $y_t$."""
        dims = check_shapes("JordanRNN", y_prev=(y_prev, "B O"), O=self.output_size)
        self._check_x(x_t, "B", B=dims["B"])
        s = y_prev if state is None else self.decay * state + y_prev
        return self._output(x_t, s), s

    def teacher_forced(self, x: Tensor | None, y_prev: Tensor, state: Tensor | None = None
                       ) -> tuple[Tensor, Tensor]:
        """All steps at once from known fed-back values (T, B, output_size)."""
        dims = check_shapes("JordanRNN", y_prev=(y_prev, "T B O"), O=self.output_size)
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
        mode = mode or ("teacher_forcing" if targets is not None else "free_running")
        return unroll(self, steps, x=x, y0=y0, targets=targets, mode=mode, **kwargs)


# --------------------------------------------------------------------------------------
# Skip connections through time; multiple time scales
# --------------------------------------------------------------------------------------


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

    Args:
        input_size: input channels.
        hidden_size: hidden units H.
        skip: $d \ge 1$.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        short_connection: keep the $h_{t-1}$ recurrence.

    Shapes:
        x: (T, B, input_size) -> output (T, B, H); state: the last d states, oldest
        first, (d, B, H) (zeros before the start).

    Examples:
        >>> model = SkipRNN(3, 16, skip=4)
        >>> out, state = model(torch.zeros(20, 2, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, skip: int = 2, nonlinearity: str = "tanh",
                 short_connection: bool = True):
        super().__init__()
        _check_positive_int("SkipRNN", input_size=input_size, hidden_size=hidden_size, skip=skip)
        _activation(nonlinearity)
        self.input_size, self.hidden_size, self.skip = input_size, hidden_size, skip
        self.nonlinearity, self.short_connection = nonlinearity, short_connection
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size)) if short_connection else None
        self.weight_skip = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        dims = check_shapes("SkipRNN", x=(x, "T B I"), I=self.input_size)
        if state is None:
            state = x.new_zeros(self.skip, dims["B"], self.hidden_size)
        check_shapes("SkipRNN", state=(state, "D B H"), D=self.skip, B=dims["B"], H=self.hidden_size)
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
        return output, torch.stack(history)


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

    Args:
        input_size: input channels.
        hidden_size: hidden units H.
        alpha_min: the slowest rate.
        alpha_max: the fastest rate.
        learn_alpha: make the rates trainable.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Shapes:
        x: (T, B, input_size) -> output (T, B, H), state (B, H).

    Examples:
        >>> model = MultiTimescaleRNN(3, 16, alpha_min=0.01)
        >>> out, h = model(torch.zeros(20, 2, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, alpha_min: float = 0.01, alpha_max: float = 1.0,
                 learn_alpha: bool = False, nonlinearity: str = "tanh"):
        super().__init__()
        _check_positive_int("MultiTimescaleRNN", input_size=input_size, hidden_size=hidden_size)
        if not 0 < alpha_min <= alpha_max <= 1:
            raise ValueError(
                f"MultiTimescaleRNN: expected 0 < alpha_min <= alpha_max <= 1, got {alpha_min}, {alpha_max}"
            )
        self.input_size, self.hidden_size = input_size, hidden_size
        rates = torch.logspace(math.log10(alpha_min), math.log10(alpha_max), hidden_size)
        if learn_alpha:
            rates = rates.clamp(_ALPHA_FLOOR, 1 - _ALPHA_FLOOR)
        self.cell = LeakyRNNCell(input_size, hidden_size, nonlinearity=nonlinearity, alpha=rates,
                                 learn_alpha=learn_alpha)

    @property
    def alpha(self) -> Tensor:
        r"""The per-unit rates $\alpha$ (H,)."""
        return self.cell.alpha

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        dims = check_shapes("MultiTimescaleRNN", x=(x, "T B I"), I=self.input_size)
        h = x.new_zeros(dims["B"], self.hidden_size) if state is None else state
        check_shapes("MultiTimescaleRNN", state=(h, "B H"), B=dims["B"], H=self.hidden_size)
        outputs = []
        for t in range(dims["T"]):
            h = self.cell(x[t], h)
            outputs.append(h)
        output = torch.stack(outputs) if outputs else x.new_zeros(0, dims["B"], self.hidden_size)
        return output, h
