r"""Echo-state network: a fixed random reservoir and a readout fitted in closed form.

Jaeger (2001); Lukoševičius (2012). `ridge_regression` is the closed-form readout fit,
`spectral_radius` the quantity the reservoir is rescaled to.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_dtype, check_number, check_positive_int, check_shapes
from memnets.functional.gates import leaky_update
from memnets.nn.recurrent._build import time_first
from memnets.nn.registry import register_model

__all__ = ["ridge_regression", "spectral_radius", "EchoStateNetwork"]

#: Smallest spectral radius of a raw reservoir matrix that can still be rescaled.
_MIN_RAW_RADIUS = 1e-12


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
        batch_first: sequences (inputs, per-step targets, outputs, reservoir states) are
            (B, T, ·) instead of (T, B, ·).

    Shapes:
        x: (T, B, input_size) -> y (T, B, output_size) (both batch first with
        ``batch_first``); state (B, reservoir_size).

    Examples:
        >>> esn = EchoStateNetwork(1, 100, 1, spectral_radius=0.9, seed=0)
        >>> x = torch.randn(200, 4, 1)
        >>> esn = esn.fit(x[:-1], x[1:], washout=20)
        >>> y, h = esn(x)
    """

    def __init__(self, input_size: int, reservoir_size: int, output_size: int, spectral_radius: float = 0.9,
                 input_scaling: float = 1.0, bias_scaling: float = 0.0, leak_rate: float = 1.0,
                 density: float = 0.1, ridge: float = 1e-6, include_input: bool = True, seed: int = 0,
                 batch_first: bool = False):
        super().__init__()
        where = "EchoStateNetwork"
        check_positive_int(where, input_size=input_size, reservoir_size=reservoir_size, output_size=output_size)
        check_number(where, 0.0, 1.0, open_low=True, leak_rate=leak_rate, density=density)
        check_number(where, 0.0, spectral_radius=spectral_radius, input_scaling=input_scaling,
                     bias_scaling=bias_scaling, ridge=ridge)
        self.input_size, self.reservoir_size, self.output_size = input_size, reservoir_size, output_size
        self.batch_first = batch_first
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
            x: (T, B, input_size); state: (B, reservoir_size) -> (T, B, reservoir_size)
            (x and the states batch first with ``batch_first``).
        """
        return time_first(self._reservoir(time_first(x, self.batch_first), state), self.batch_first)

    def _reservoir(self, x: Tensor, state: Tensor | None) -> Tensor:
        dims = check_shapes("EchoStateNetwork", x=(x, "T B I"), I=self.input_size)
        check_dtype("EchoStateNetwork", self.weight_res.dtype, x=x, state=state)
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
        """The readout $y_t$ at every step and the last reservoir state."""
        x = time_first(x, self.batch_first)
        states = self._reservoir(x, state)
        y = F.linear(self.features(x, states), self.readout_weight, self.readout_bias)
        last = states[-1] if states.shape[0] else (x.new_zeros(x.shape[1], self.reservoir_size)
                                                   if state is None else state)
        return time_first(y, self.batch_first), last

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
            x: (T, B, input_size); targets: (T, B, output_size) or (B, output_size)
            (sequences batch first with ``batch_first``).
        """
        x = time_first(x, self.batch_first)
        if targets.dim() == 3:
            targets = time_first(targets, self.batch_first)
        dims = check_shapes("EchoStateNetwork.fit", x=(x, "T B I"), I=self.input_size)
        if not 0 <= washout < dims["T"]:
            raise ValueError(f"EchoStateNetwork.fit: expected 0 <= washout < T = {dims['T']}, got {washout}")
        feats = self.features(x, self._reservoir(x, state))
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
