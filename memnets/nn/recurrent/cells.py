r"""Recurrent cells: one time step of an Elman RNN, an LSTM (and its variants), a GRU and
a leaky-integrator RNN.

Each cell owns its weights, computes its pre-activations with them and hands them to the
gated-update core (`memnets.functional.gates`); no gate arithmetic lives here.
`RNNCell`, `LSTMCell` (``variant="vanilla"``) and `GRUCell` are
drop-in replacements for their ``torch.nn`` namesakes: same constructor arguments,
``forward(input, hx=None)``, parameter names, gate order and initialisation, so
``cell.load_state_dict(torch_cell.state_dict())`` works and the outputs agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_dtype, check_positive_int, check_shapes
from memnets.functional.gates import (
    GRU_NUM_GATES,
    RNN_NUM_GATES,
    _activation,
    gru_update,
    leaky_update,
    lstm_num_gates,
    lstm_update,
    rnn_update,
)
from memnets.nn._init import uniform_

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "LeakyRNNCell"]

#: Peephole weights hold one row per gate that looks at the cell: input, forget, output.
_PEEPHOLE_ROWS = 3
#: Default rate of `LeakyRNNCell` (each unit moves half-way to its target per step).
_DEFAULT_ALPHA = 0.5


def _step_inputs(
    where: str,
    input: Tensor,
    states: Sequence[tuple[str, Tensor | None]],
    input_size: int,
    hidden_size: int,
    dtype: torch.dtype,
) -> tuple[Tensor, list[Tensor], bool]:
    """Validate one step's input and states and return their batched forms.

    ``states`` holds ``(name, tensor or None)`` pairs; ``None`` becomes zeros. Unbatched
    input (rank 1) needs unbatched states and gets a batch dimension of one. Input and
    states must have ``dtype``, the parameters' (the library's dtype policy).

    Returns:
        ``(input, states, batched)`` with input (B, I) and every state (B, H).
    """
    if not isinstance(input, Tensor):
        raise ValueError(f"{where}: expected input to be a torch.Tensor, got {type(input).__name__}")
    if input.dim() not in (1, 2):
        raise ValueError(
            f"{where}: expected input of shape (B, I={input_size}) or unbatched (I={input_size},), "
            f"got rank {input.dim()} with shape {tuple(input.shape)}"
        )
    check_dtype(where, dtype, input=input)
    batched = input.dim() == 2
    if batched:
        dims = check_shapes(where, input=(input, "B I"), I=input_size)
        pattern = "B H"
    else:
        dims = check_shapes(where, input=(input, "I"), I=input_size)
        dims["B"] = 1
        pattern = "H"
    out = []
    for name, state in states:
        if state is None:
            state = input.new_zeros(dims["B"], hidden_size)
        else:
            check_shapes(where, **{name: (state, pattern)}, B=dims["B"], H=hidden_size)
            check_dtype(where, dtype, **{name: state})
            if not batched:
                state = state.unsqueeze(0)
        out.append(state)
    return (input if batched else input.unsqueeze(0)), out, batched


class _CellBase(nn.Module):
    """Weights ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` laid out as in torch."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        where = type(self).__name__
        check_positive_int(where, input_size=input_size, hidden_size=hidden_size)
        if not isinstance(bias, bool):
            raise TypeError(f"{where}: bias should be of type bool, got: {type(bias).__name__}")
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = nn.Parameter(torch.empty(num_chunks * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(num_chunks * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(num_chunks * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(num_chunks * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        """Draw every weight from $\\mathcal{U}(-1/\\sqrt{H}, 1/\\sqrt{H})$, as torch does."""
        uniform_(self, self.hidden_size)

    def _pre(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        return F.linear(x, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s


class RNNCell(_CellBase):
    r"""An Elman RNN cell, a drop-in replacement for ``torch.nn.RNNCell``.

    Elman (1990), "Finding structure in time":

    $$h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}),$$

    with $\phi$ = tanh or ReLU; the update is [`rnn_update`][memnets.functional.gates.rnn_update].

    Args:
        input_size: features of the input $x$ (I).
        hidden_size: features of the hidden state $h$ (H).
        bias: if ``False``, the cell has no $b_{ih}$, $b_{hh}$.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        input: (B, I) or unbatched (I,); hx: (B, H) or (H,), zeros when ``None``;
        output h': (B, H) or (H,). Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H),
        ``bias_ih`` and ``bias_hh`` (H,).

    Examples:
        >>> cell = RNNCell(10, 20)
        >>> h = cell(torch.randn(3, 10))          # (3, 20)
        >>> h = cell(torch.randn(3, 10), h)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        _activation(nonlinearity, "RNNCell")
        super().__init__(input_size, hidden_size, bias, RNN_NUM_GATES, device, dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the new hidden state from ``input`` and ``hx`` (zeros when ``None``)."""
        x, (h,), batched = _step_inputs("RNNCell", input, [("hx", hx)], self.input_size, self.hidden_size,
                                      self.weight_ih.dtype)
        gi, gh = self._pre(x, h)
        h_new = rnn_update(gi + gh, self.nonlinearity)
        return h_new if batched else h_new.squeeze(0)


class LSTMCell(_CellBase):
    r"""An LSTM cell with torch's API, and the classic variants of the update.

    Hochreiter & Schmidhuber (1997), "Long short-term memory", with the forget gate of
    Gers, Schmidhuber & Cummins (2000). With $a = W_{ih} x + b_{ih} + W_{hh} h + b_{hh}$
    split into blocks in torch's order i, f, g, o, the ``vanilla`` cell is

    $$i = \sigma(a_i),\quad f = \sigma(a_f),\quad g = \tanh(a_g),\quad o = \sigma(a_o),$$

    $$c' = f \odot c + i \odot g, \qquad h' = o \odot \tanh(c'),$$

    equal to ``torch.nn.LSTMCell``. The variants (Greff et al. 2017, "LSTM: A search
    space odyssey"):

    * ``"peephole"`` (Gers & Schmidhuber 2000): the gates see the cell through the
      diagonal weights ``weight_peephole`` $= (p_i, p_f, p_o)$:
      $i = \sigma(a_i + p_i \odot c)$, $f = \sigma(a_f + p_f \odot c)$,
      $o = \sigma(a_o + p_o \odot c')$.
    * ``"coupled"``: the input gate is tied to the forget gate, $i = 1 - f$;
      three gate blocks f, g, o: $c' = f \odot c + (1 - f) \odot g$.
    * ``"no_forget"``: the 1997 LSTM without forget gate; three blocks i, g, o:
      $c' = c + i \odot g$.

    The update is [`lstm_update`][memnets.functional.gates.lstm_update].

    Args:
        input_size: features of the input $x$ (I).
        hidden_size: features of the hidden and cell states (H).
        bias: if ``False``, the cell has no $b_{ih}$, $b_{hh}$.
        device: device of the parameters.
        dtype: dtype of the parameters.
        variant: ``"vanilla"`` (default, torch's cell), ``"peephole"``, ``"coupled"`` or
            ``"no_forget"`` (keyword only).

    Shapes:
        input: (B, I) or unbatched (I,); hx: a tuple ``(h, c)`` of (B, H) or (H,) tensors,
        zeros when ``None``; returns ``(h', c')`` of the same shapes. Parameters:
        ``weight_ih`` (G·H, I), ``weight_hh`` (G·H, H), ``bias_ih``, ``bias_hh`` (G·H,)
        with G = 4 (vanilla, peephole) or 3 (coupled, no_forget); ``weight_peephole``
        (3, H) for the peephole variant.

    Examples:
        >>> cell = LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> h, c = cell(torch.randn(3, 10), (h, c))
        >>> peep = LSTMCell(10, 20, variant="peephole")
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        variant: str = "vanilla",
    ) -> None:
        num = lstm_num_gates(variant)
        super().__init__(input_size, hidden_size, bias, num, device, dtype)
        self.variant = variant
        if variant == "peephole":
            self.weight_peephole = nn.Parameter(torch.empty(_PEEPHOLE_ROWS, hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("weight_peephole", None)
        self.reset_parameters()

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """One step: ``(h', c')`` from ``input`` and ``hx = (h, c)`` (zeros when ``None``)."""
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise ValueError(f"LSTMCell: expected hx to be a tuple (h, c) of two tensors, got {type(hx).__name__}")
        x, (h, c), batched = _step_inputs(
            "LSTMCell", input, [("h", hx[0]), ("c", hx[1])], self.input_size, self.hidden_size, self.weight_ih.dtype
        )
        gi, gh = self._pre(x, h)
        h_new, c_new = lstm_update(gi + gh, c, variant=self.variant, peephole=self.weight_peephole)
        if not batched:
            return h_new.squeeze(0), c_new.squeeze(0)
        return h_new, c_new

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.variant == "vanilla" else s + f", variant={self.variant!r}"


class GRUCell(_CellBase):
    r"""A GRU cell, a drop-in replacement for ``torch.nn.GRUCell``.

    Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder for
    statistical machine translation", in torch's formulation (gate order r, z, n; the
    reset gate multiplies the hidden projection):

    $$r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}),\quad
      z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}),$$

    $$n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})),\qquad
      h' = (1 - z) \odot n + z \odot h.$$

    The update is [`gru_update`][memnets.functional.gates.gru_update].

    Args:
        input_size: features of the input $x$ (I).
        hidden_size: features of the hidden state $h$ (H).
        bias: if ``False``, the cell has no $b_{ih}$, $b_{hh}$.
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        input: (B, I) or unbatched (I,); hx: (B, H) or (H,), zeros when ``None``;
        output h': (B, H) or (H,). Parameters: ``weight_ih`` (3·H, I),
        ``weight_hh`` (3·H, H), ``bias_ih``, ``bias_hh`` (3·H,).

    Examples:
        >>> cell = GRUCell(10, 20)
        >>> h = cell(torch.randn(3, 10))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, GRU_NUM_GATES, device, dtype)
        self.reset_parameters()

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the new hidden state from ``input`` and ``hx`` (zeros when ``None``)."""
        x, (h,), batched = _step_inputs("GRUCell", input, [("hx", hx)], self.input_size, self.hidden_size,
                                      self.weight_ih.dtype)
        gi, gh = self._pre(x, h)
        h_new = gru_update(gi, gh, h)
        return h_new if batched else h_new.squeeze(0)


class LeakyRNNCell(_CellBase):
    r"""An Elman cell whose units are leaky integrators with their own rates (time scales).

    Jaeger, Lukoševičius, Popovici & Siewert (2007), "Optimization and applications of
    echo state networks with leaky-integrator neurons"; Goodfellow, Bengio & Courville
    (2016), *Deep Learning*, §10.9 (leaky units and multiple time scales):

    $$h' = (1 - \alpha) \odot h + \alpha \odot \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}),$$

    with one rate $\alpha_j \in [0, 1]$ per unit $j$, i.e. a time constant
    $\tau_j = 1 / \alpha_j$ steps: $\alpha_j = 1$ is the Elman update, a small
    $\alpha_j$ a slowly changing unit that carries information over about $\tau_j$ steps.
    The update is [`leaky_update`][memnets.functional.gates.leaky_update].

    Parametrisation of the rates:

    * ``learn_alpha=True`` (default): a parameter ``alpha_logit`` (H,) holds
      $\operatorname{logit}(\alpha)$ and the rates are $\alpha = \sigma(\text{alpha\_logit})$,
      so they stay in $(0, 1)$ whatever the optimiser does. The initial rates must then
      lie strictly inside $(0, 1)$.
    * ``learn_alpha=False``: the rates are the fixed buffer ``alpha_fixed`` (H,), any
      values in $[0, 1]$.

    The property ``alpha`` returns the rates either way.

    Args:
        input_size: features of the input $x$ (I).
        hidden_size: features of the hidden state $h$ (H).
        bias: if ``False``, the cell has no $b_{ih}$, $b_{hh}$.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).
        device: device of the parameters.
        dtype: dtype of the parameters.
        alpha: the initial (or fixed) rates: one number for every unit or a sequence of
            H numbers (keyword only). Default 0.5.
        learn_alpha: learn the rates (through ``alpha_logit``) or keep them fixed
            (keyword only).

    Shapes:
        input: (B, I) or unbatched (I,); hx: (B, H) or (H,), zeros when ``None``;
        output h': (B, H) or (H,). Parameters: ``weight_ih`` (H, I), ``weight_hh`` (H, H),
        ``bias_ih``, ``bias_hh`` (H,), ``alpha_logit`` (H,) (learnable rates).

    Examples:
        >>> cell = LeakyRNNCell(10, 4, alpha=[1.0, 0.5, 0.1, 0.01], learn_alpha=False)
        >>> h = cell(torch.randn(3, 10))
        >>> cell.alpha
        tensor([1.0000, 0.5000, 0.1000, 0.0100])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        alpha: float | Sequence[float] | Tensor = _DEFAULT_ALPHA,
        learn_alpha: bool = True,
    ) -> None:
        _activation(nonlinearity, "LeakyRNNCell")
        super().__init__(input_size, hidden_size, bias, RNN_NUM_GATES, device, dtype)
        self.nonlinearity = nonlinearity
        self.learn_alpha = learn_alpha
        rates = torch.as_tensor(alpha, dtype=self.weight_ih.dtype, device=self.weight_ih.device).detach().clone()
        if rates.dim() == 0:
            rates = rates.expand(hidden_size).clone()
        check_shapes("LeakyRNNCell", alpha=(rates, "H"), H=hidden_size)
        if learn_alpha and not bool(((rates > 0) & (rates < 1)).all()):
            raise ValueError(
                f"LeakyRNNCell: learnable rates are sigmoid(alpha_logit), so alpha must lie in (0, 1), got {alpha!r}"
            )
        if not bool(((rates >= 0) & (rates <= 1)).all()):
            raise ValueError(f"LeakyRNNCell: expected rates alpha in [0, 1], got {alpha!r}")
        self.register_buffer("alpha_init", rates, persistent=False)
        if learn_alpha:
            self.alpha_logit = nn.Parameter(torch.logit(rates))
            self.register_buffer("alpha_fixed", None)
        else:
            self.register_parameter("alpha_logit", None)
            self.register_buffer("alpha_fixed", rates.clone())
        self.reset_parameters()

    @property
    def alpha(self) -> Tensor:
        """The per-unit rates $\\alpha \\in [0, 1]$, shape (H,)."""
        if self.alpha_logit is not None:
            return torch.sigmoid(self.alpha_logit)
        return self.alpha_fixed

    def reset_parameters(self) -> None:
        """Weights from $\\mathcal{U}(-1/\\sqrt{H}, 1/\\sqrt{H})$; rates back to their initial values."""
        uniform_(self, self.hidden_size)
        with torch.no_grad():
            if self.alpha_logit is not None:
                self.alpha_logit.copy_(torch.logit(self.alpha_init))
            else:
                self.alpha_fixed.copy_(self.alpha_init)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step: the new hidden state from ``input`` and ``hx`` (zeros when ``None``)."""
        x, (h,), batched = _step_inputs("LeakyRNNCell", input, [("hx", hx)], self.input_size, self.hidden_size,
                                      self.weight_ih.dtype)
        gi, gh = self._pre(x, h)
        h_new = leaky_update(gi + gh, h, self.alpha, self.nonlinearity)
        return h_new if batched else h_new.squeeze(0)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", learn_alpha={self.learn_alpha}"
