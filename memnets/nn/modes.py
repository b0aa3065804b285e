r"""Sequence modes: small wrappers that turn a recurrent layer into a model of each shape.

Goodfellow, Bengio & Courville (2016), *Deep Learning*, §10.2 and §10.4, and Karpathy's
"unreasonable effectiveness" picture name the shapes a recurrent network takes:

* **sequence → class / vector** (`SequenceToVector`): read the whole sequence,
  answer once, from the last state or the mean over time;
* **synced sequence → sequence** (`SequenceToSequence`): one output per input step;
* **encoder–decoder** (`EncoderDecoder`, Sutskever, Vinyals & Le 2014; Cho et al.
  2014): read the input, then write an output of a different length, optionally reading
  the input reversed;
* **vector → sequence** (`VectorToSequence`): generate a sequence from one vector.

Every model whose output is fed back as its next input follows one small protocol
(`OutputFeedback`): ``step(x_t, y_prev, state) -> (y_t, state)``. One driver,
`unroll`, runs any such model with **teacher forcing** (feed the true previous
output), **free running** (feed the model's own output) or **scheduled sampling**
(Bengio et al. 2015: feed the truth with probability $\epsilon_i$, decayed over training by
`teacher_forcing_probability`). `generate` primes a model on a prefix with
teacher forcing and then lets it run free — the loop behind iterated forecasting and
sampling text from a character model. `InputFeedback` turns any sequence model
``model(x, state) -> (y, state)`` into an output-feedback model by feeding ``y_{t-1}`` in
as (part of) its input.

Shapes: ``T`` time, ``B`` batch; sequences are (T, B, channels).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Protocol, runtime_checkable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets._checks import check_shapes
from memnets.nn.registry import register_model
from memnets.nn.rnn import GRU, LSTM, RNN

__all__ = [
    "CELL_TYPES",
    "POOLINGS",
    "DECODING_MODES",
    "FEEDBACKS",
    "recurrent_layer",
    "pool_sequence",
    "OutputFeedback",
    "InputFeedback",
    "unroll",
    "generate",
    "teacher_forcing_probability",
    "SequenceToVector",
    "SequenceToSequence",
    "EncoderDecoder",
    "VectorToSequence",
]

#: Recurrent layers a wrapper can be built with (torch-compatible constructors).
CELL_TYPES = ("rnn", "lstm", "gru")
#: How `SequenceToVector` summarises the states over time.
POOLINGS = ("last", "mean")
#: Decoding modes understood by `unroll`.
DECODING_MODES = ("teacher_forcing", "free_running", "scheduled_sampling")
#: Named feedback functions (what is fed back, made from the model's raw output).
FEEDBACKS = ("identity", "argmax", "sample")
#: Schedules of `teacher_forcing_probability` (Bengio et al. 2015, §2.4).
SCHEDULES = ("linear", "exponential", "inverse_sigmoid")


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                    dropout: float = 0.0) -> nn.Module:
    """Build a (stacked) `memnets.RNN`, `memnets.LSTM` or `memnets.GRU`.

    Args:
        cell: ``"rnn"`` (Elman, tanh), ``"lstm"`` or ``"gru"``.
        input_size: input channels.
        hidden_size: units per layer.
        num_layers: stacked layers.
        dropout: dropout between stacked layers.

    Returns:
        A module called as ``layer(x, state) -> (output, state)`` with x (T, B, input_size),
        output (T, B, hidden_size) and torch's state layout.

    Examples:
        >>> layer = recurrent_layer("gru", 3, 8)
        >>> out, h = layer(torch.zeros(5, 2, 3))
    """
    classes = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
    if cell not in classes:
        raise ValueError(f"recurrent_layer: expected cell in {CELL_TYPES}, got {cell!r}")
    if input_size < 1 or hidden_size < 1 or num_layers < 1:
        raise ValueError(
            f"recurrent_layer: expected positive sizes, got input_size={input_size}, "
            f"hidden_size={hidden_size}, num_layers={num_layers}"
        )
    return classes[cell](input_size, hidden_size, num_layers=num_layers, dropout=dropout)


def pool_sequence(outputs: Tensor, pooling: str = "last", lengths: Tensor | None = None) -> Tensor:
    r"""Summarise a sequence of states as one vector: the last valid state or the mean.

    $$\text{last: } h_{L_b - 1}, \qquad \text{mean: } \frac{1}{L_b} \sum_{t < L_b} h_t$$

    Args:
        outputs: the states $h_t$.
        pooling: ``"last"`` or ``"mean"``.
        lengths: the valid length $L_b$ of each sequence (padding after it is ignored);
            ``None`` means every sequence has length T.

    Returns:
        The pooled states.

    Shapes:
        outputs: (T, B, H); lengths: (B,) integer in [1, T] -> (B, H).

    Examples:
        >>> pool_sequence(torch.arange(6.).reshape(3, 1, 2), "mean")
        tensor([[2., 3.]])
    """
    dims = check_shapes("pool_sequence", outputs=(outputs, "T B H"))
    if pooling not in POOLINGS:
        raise ValueError(f"pool_sequence: expected pooling in {POOLINGS}, got {pooling!r}")
    if dims["T"] == 0:
        raise ValueError("pool_sequence: expected a sequence of length T >= 1, got T = 0")
    if lengths is None:
        return outputs[-1] if pooling == "last" else outputs.mean(0)
    check_shapes("pool_sequence", lengths=(lengths, "B"), B=dims["B"])
    if lengths.dtype not in (torch.int64, torch.int32) or lengths.min() < 1 or lengths.max() > dims["T"]:
        raise ValueError(f"pool_sequence: expected integer lengths in [1, {dims['T']}], got {lengths.tolist()}")
    lengths = lengths.to(outputs.device).long()
    if pooling == "last":
        return outputs[lengths - 1, torch.arange(dims["B"], device=outputs.device)]
    steps = torch.arange(dims["T"], device=outputs.device)[:, None]
    mask = (steps < lengths[None, :]).to(outputs.dtype)[..., None]
    return (outputs * mask).sum(0) / lengths[:, None].to(outputs.dtype)


@runtime_checkable
class OutputFeedback(Protocol):
    """A model whose previous output is an input of its next step.

    ``output_size`` is the size of $y_t$ and of what is fed back; ``input_size`` the size
    of the exogenous input $x_t$ (0: none, then ``x_t`` is ``None``). ``state=None`` means
    the model's initial state. A model may also offer ``teacher_forced(x, y_prev, state)``,
    a fast path that computes all steps at once when every fed-back value is known.
    """

    input_size: int
    output_size: int

    def step(self, x_t: Tensor | None, y_prev: Tensor, state: Any) -> tuple[Tensor, Any]:
        """One step: (B, input_size) or None, (B, output_size), state -> (B, output_size), state."""


class InputFeedback(nn.Module):
    r"""Feed a sequence model's previous output back in as its input.

    Turns ``model(x, state) -> (y, state)`` with input channels
    ``input_size + output_size`` into an `OutputFeedback` model: the input of
    step $t$ is $[x_t; y_{t-1}]$ (just $y_{t-1}$ when ``input_size`` is 0). This is the
    autoregressive use of an RNN (iterated forecasting, character models).

    Args:
        model: a sequence model whose forward is ``(x, state) -> (y, state)``.
        output_size: size of $y_t$ (and of what is fed back).
        input_size: exogenous input channels $x_t$ (default 0).

    Examples:
        >>> seq = SequenceToSequence(1, 8, 1, cell="gru")
        >>> y, state = unroll(InputFeedback(seq, 1), 4, y0=torch.zeros(2, 1))
    """

    def __init__(self, model: nn.Module, output_size: int, input_size: int = 0):
        super().__init__()
        self.model, self.output_size, self.input_size = model, output_size, input_size

    def _inputs(self, x: Tensor | None, y_prev: Tensor) -> Tensor:
        return y_prev if x is None or self.input_size == 0 else torch.cat([x, y_prev], dim=-1)

    def step(self, x_t: Tensor | None, y_prev: Tensor, state: Any) -> tuple[Tensor, Any]:
        y, state = self.model(self._inputs(x_t, y_prev)[None], state)
        return y[0], state

    def teacher_forced(self, x: Tensor | None, y_prev: Tensor, state: Any) -> tuple[Tensor, Any]:
        return self.model(self._inputs(x, y_prev), state)

    def forward(self, x: Tensor | None, y_prev: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """All steps at once from known fed-back values (teacher forcing)."""
        return self.teacher_forced(x, y_prev, state)


def _feedback_fn(feedback: str | Callable[..., Tensor], temperature: float):
    if callable(feedback):
        return feedback
    if feedback == "identity":
        return lambda y, generator: y
    if feedback == "argmax":
        return lambda y, generator: F.one_hot(y.argmax(-1), y.shape[-1]).to(y.dtype)
    if feedback == "sample":
        if not temperature > 0:
            raise ValueError(f"unroll: expected temperature > 0, got {temperature!r}")

        def sample(y: Tensor, generator: torch.Generator | None) -> Tensor:
            probs = torch.softmax(y.detach().float() / temperature, dim=-1)
            index = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(y.device)
            return F.one_hot(index, y.shape[-1]).to(y.dtype)

        return sample
    raise ValueError(f"unroll: expected feedback in {FEEDBACKS} or a callable, got {feedback!r}")


def unroll(
    model: OutputFeedback,
    steps: int | None = None,
    *,
    x: Tensor | None = None,
    y0: Tensor | None = None,
    targets: Tensor | None = None,
    mode: str = "free_running",
    teacher_prob: float = 1.0,
    feedback: str | Callable[..., Tensor] = "identity",
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    state: Any = None,
) -> tuple[Tensor, Any]:
    r"""Run an output-feedback model for T steps with teacher forcing, free running or scheduled sampling.

    At step $t$ the model sees $x_t$ and a fed-back value $\tilde y_{t-1}$ ($\tilde y_{-1}$ =
    ``y0``) and outputs $y_t$:

    * teacher forcing: $\tilde y_{t-1} = y^*_{t-1}$, the target (Williams & Zipser 1989);
    * free running: $\tilde y_{t-1} = \mathrm{fb}(y_{t-1})$, the model's own output;
    * scheduled sampling (Bengio et al. 2015): per sequence and step, the target with
      probability $\epsilon$ (``teacher_prob``), else the model's own output.

    ``fb`` is the feedback function: ``"identity"`` (regression), ``"argmax"`` or
    ``"sample"`` (the one-hot of the most likely or of a sampled class, for logits).
    Targets are given in the same space as what is fed back (one-hot for classes).
    Free running back-propagates through fed-back values where ``fb`` is differentiable.

    Args:
        model: an `OutputFeedback` model.
        steps: T; may be omitted when ``x`` or ``targets`` give it.
        x: exogenous inputs, required when ``model.input_size > 0``.
        y0: the value fed back at the first step; zeros when omitted.
        targets: $y^*$, required by teacher forcing and scheduled sampling.
        mode: ``"teacher_forcing"``, ``"free_running"`` or ``"scheduled_sampling"``.
        teacher_prob: $\epsilon$ of scheduled sampling.
        feedback: ``"identity"``, ``"argmax"``, ``"sample"`` or a callable
            ``(y_t, generator) -> fed-back value``.
        temperature: softmax temperature of ``"sample"``.
        generator: random generator of scheduled sampling and ``"sample"`` (CPU).
        state: the model's initial state (``None``: its default).

    Returns:
        ``(outputs, state)``: the raw outputs $y_0, \dots, y_{T-1}$ and the final state.

    Shapes:
        x: (T, B, input_size); y0: (B, output_size); targets: (T, B, output_size) ->
        outputs (T, B, output_size).

    Examples:
        >>> model = InputFeedback(SequenceToSequence(1, 8, 1), 1)
        >>> y, _ = unroll(model, targets=torch.zeros(5, 2, 1), mode="teacher_forcing")
    """
    if mode not in DECODING_MODES:
        raise ValueError(f"unroll: expected mode in {DECODING_MODES}, got {mode!r}")
    out_size, in_size = int(model.output_size), int(getattr(model, "input_size", 0))
    dims: dict[str, int] = {"O": out_size}
    if steps is not None:
        dims["T"] = steps
    if targets is not None:
        dims.update(check_shapes("unroll", targets=(targets, "T B O"), **dims))
    elif mode != "free_running":
        raise ValueError(f"unroll: mode={mode!r} needs targets of shape (T, B, {out_size}), got None")
    if in_size > 0:
        if x is None:
            raise ValueError(f"unroll: the model takes inputs; expected x of shape (T, B, {in_size}), got None")
        dims.update(check_shapes("unroll", x=(x, "T B I"), I=in_size, **dims))
    elif x is not None and x.shape[-1] != 0:
        raise ValueError(f"unroll: the model takes no inputs; expected x=None, got shape {tuple(x.shape)}")
    if y0 is not None:
        dims.update(check_shapes("unroll", y0=(y0, "B O"), **dims))
    if "T" not in dims:
        raise ValueError("unroll: expected steps, x or targets to give the number of steps T, got none")
    if "B" not in dims:
        raise ValueError("unroll: expected y0, x or targets to give the batch size B, got none")
    if not 0.0 <= teacher_prob <= 1.0:
        raise ValueError(f"unroll: expected 0 <= teacher_prob <= 1, got {teacher_prob!r}")
    T, B = dims["T"], dims["B"]
    like = y0 if y0 is not None else targets if targets is not None else x
    if y0 is None:
        y0 = torch.zeros(B, out_size, dtype=like.dtype, device=like.device)
    x = x if in_size > 0 else None

    if mode == "teacher_forcing" and hasattr(model, "teacher_forced") and T > 0:
        y_prev = torch.cat([y0[None], targets[:-1]], dim=0)
        return model.teacher_forced(x, y_prev, state)

    fb = _feedback_fn(feedback, temperature)
    outputs, fed = [], y0
    for t in range(T):
        y, state = model.step(None if x is None else x[t], fed, state)
        outputs.append(y)
        if mode == "teacher_forcing":
            fed = targets[t]
        elif mode == "free_running":
            fed = fb(y, generator)
        else:
            coin = torch.rand(B, 1, generator=generator).to(y.device) < teacher_prob
            fed = torch.where(coin, targets[t], fb(y, generator))
    if T == 0:
        return like.new_zeros(0, B, out_size), state
    return torch.stack(outputs), state


def generate(
    model: OutputFeedback,
    steps: int,
    *,
    prefix: Tensor,
    x: Tensor | None = None,
    feedback: str | Callable[..., Tensor] = "identity",
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    state: Any = None,
    return_fed: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Prime a model on a known prefix (teacher forcing), then let it run free for ``steps``.

    The prefix $p_0, \dots, p_{P-1}$ is fed in step by step; the first generated output
    is the model's prediction after $p_{P-1}$, and each later step is fed the previous
    generated value. This is iterated one-step forecasting and sampling from a character
    model.

    Args:
        model: an `OutputFeedback` model.
        steps: how many values to generate.
        prefix: the known values, in fed-back space.
        x: exogenous inputs for the P − 1 priming steps and the generated steps, when the
            model takes inputs.
        feedback: see `unroll` (``"identity"``, ``"argmax"``, ``"sample"``).
        temperature: softmax temperature of ``"sample"``.
        generator: random generator of ``"sample"``.
        state: initial state.
        return_fed: also return what was fed back after each generated step (the
            sampled one-hot characters of a character model).

    Returns:
        The generated raw outputs, and with ``return_fed`` the fed-back values too.

    Shapes:
        prefix: (P, B, output_size) with P >= 1; x: (P - 1 + steps, B, input_size) ->
        (steps, B, output_size) (each).

    Examples:
        >>> model = InputFeedback(SequenceToSequence(1, 8, 1), 1)
        >>> future = generate(model, 10, prefix=torch.zeros(50, 3, 1))
    """
    dims = check_shapes("generate", prefix=(prefix, "P B O"), O=int(model.output_size))
    if dims["P"] < 1:
        raise ValueError(f"generate: expected a prefix of length P >= 1, got shape {tuple(prefix.shape)}")
    primed = dims["P"] - 1
    if x is not None:
        check_shapes("generate", x=(x, "T B I"), T=primed + steps, B=dims["B"])
    if primed > 0:
        _, state = unroll(model, x=None if x is None else x[:primed], y0=prefix[0], targets=prefix[1:],
                          mode="teacher_forcing", state=state)
    fb, fed = _feedback_fn(feedback, temperature), []

    def recording(y: Tensor, gen: torch.Generator | None) -> Tensor:
        value = fb(y, gen)
        fed.append(value)
        return value

    out, _ = unroll(model, steps, x=None if x is None else x[primed:], y0=prefix[-1], mode="free_running",
                    feedback=recording, generator=generator, state=state)
    if not return_fed:
        return out
    return out, (torch.stack(fed) if fed else out.new_zeros(out.shape))


def teacher_forcing_probability(step: int, schedule: str = "inverse_sigmoid", k: float = 1000.0,
                                c: float = 1e-4, minimum: float = 0.0) -> float:
    r"""The probability $\epsilon_i$ of feeding the truth at training step $i$ (scheduled sampling).

    Bengio, Vinyals, Jaitly & Shazeer (2015), "Scheduled sampling for sequence prediction
    with recurrent neural networks", §2.4:

    $$\text{linear: } \epsilon_i = \max(\epsilon, k - c\,i),\quad
      \text{exponential: } \epsilon_i = k^i\ (k < 1),\quad
      \text{inverse sigmoid: } \epsilon_i = \frac{k}{k + \exp(i / k)}\ (k \ge 1).$$

    Args:
        step: the training step $i \ge 0$.
        schedule: ``"linear"``, ``"exponential"`` or ``"inverse_sigmoid"``.
        k: the schedule's $k$.
        c: the slope of the linear schedule.
        minimum: the floor $\epsilon$ (all schedules).

    Returns:
        $\epsilon_i \in [0, 1]$.

    Examples:
        >>> teacher_forcing_probability(0, "linear", k=1.0, c=0.01)
        1.0
    """
    if step < 0:
        raise ValueError(f"teacher_forcing_probability: expected step >= 0, got {step}")
    if schedule == "linear":
        value = k - c * step
    elif schedule == "exponential":
        if not 0 < k < 1:
            raise ValueError(f"teacher_forcing_probability: the exponential schedule needs 0 < k < 1, got {k}")
        value = k**step
    elif schedule == "inverse_sigmoid":
        if k < 1:
            raise ValueError(f"teacher_forcing_probability: the inverse sigmoid schedule needs k >= 1, got {k}")
        ratio = step / k
        value = 0.0 if ratio > math.log(float("1e300")) else k / (k + math.exp(ratio))
    else:
        raise ValueError(f"teacher_forcing_probability: expected schedule in {SCHEDULES}, got {schedule!r}")
    return float(min(1.0, max(minimum, value)))


@register_model
class SequenceToVector(nn.Module):
    r"""Sequence → class or vector: a recurrent layer, a summary over time, a linear head.

    Goodfellow et al. (2016), §10.2 (fig. 10.5): one output after reading the whole
    sequence.

    $$h_t = \mathrm{RNN}(x_t, h_{t-1}),\qquad
      y = W \,\mathrm{pool}(h_0, \dots, h_{T-1}) + b,$$

    with pool the last state or the mean over time (`pool_sequence`).

    Args:
        input_size: input channels.
        hidden_size: units per recurrent layer.
        output_size: classes (logits) or the size of the vector.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        num_layers: stacked recurrent layers.
        dropout: dropout between stacked layers.
        pooling: ``"last"`` or ``"mean"``.

    Shapes:
        x: (T, B, input_size); lengths: (B,) -> (B, output_size).

    Examples:
        >>> model = SequenceToVector(3, 16, 10, cell="lstm", pooling="mean")
        >>> logits = model(torch.zeros(7, 2, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "lstm",
                 num_layers: int = 1, dropout: float = 0.0, pooling: str = "last"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"SequenceToVector: expected pooling in {POOLINGS}, got {pooling!r}")
        self.input_size, self.output_size, self.pooling = input_size, output_size, pooling
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        check_shapes("SequenceToVector", x=(x, "T B I"), I=self.input_size)
        outputs, _ = self.rnn(x)
        return self.head(pool_sequence(outputs, self.pooling, lengths))


@register_model
class SequenceToSequence(nn.Module):
    r"""Synced sequence → sequence: a recurrent layer with a linear head at every step.

    Goodfellow et al. (2016), §10.2 (fig. 10.3):

    $$h_t = \mathrm{RNN}(x_t, h_{t-1}),\qquad y_t = W h_t + b.$$

    Wrapped in `InputFeedback` it becomes an autoregressive model (its output fed
    back as its input), for iterated forecasts and character language models.

    Args:
        input_size: input channels.
        hidden_size: units per recurrent layer.
        output_size: output channels.
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        num_layers: stacked recurrent layers.
        dropout: dropout between stacked layers and before the head.

    Shapes:
        x: (T, B, input_size) -> y (T, B, output_size); state in torch's layout.

    Examples:
        >>> model = SequenceToSequence(1, 16, 10, cell="gru")
        >>> y, h = model(torch.zeros(50, 4, 1))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "lstm",
                 num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.cell, self.num_layers = cell, num_layers
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        check_shapes("SequenceToSequence", x=(x, "T B I"), I=self.input_size)
        outputs, state = self.rnn(x, state)
        return self.head(self.dropout(outputs)), state


@register_model
class EncoderDecoder(nn.Module):
    r"""Encoder–decoder: read a sequence, then write one of a different length.

    Sutskever, Vinyals & Le (2014), "Sequence to sequence learning with neural networks";
    Cho et al. (2014). The encoder's final state starts the decoder, whose previous output
    is its next input:

    $$h^{enc}_t = \mathrm{RNN}_{enc}(x_t, h^{enc}_{t-1}),\qquad s_0 = h^{enc}_{T_x},$$
    $$s_t = \mathrm{RNN}_{dec}(\tilde y_{t-1}, s_{t-1}),\qquad y_t = W s_t + b,$$

    with $\tilde y_{t-1}$ the target (teacher forcing), the model's own output (free
    running) or a mix (scheduled sampling), see `unroll`. Sutskever et al. found
    that reading the input reversed (``reverse_input=True``) shortens the paths between
    the first inputs and the first outputs.

    Args:
        input_size: input channels.
        hidden_size: units per layer of encoder and decoder.
        output_size: output channels (what is fed back; one-hot for classes).
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        num_layers: stacked layers (the same for both).
        dropout: dropout between stacked layers.
        reverse_input: read the input back to front.

    Shapes:
        x: (T_x, B, input_size); targets: (T_y, B, output_size); y0: (B, output_size) ->
        (T_y, B, output_size).

    Examples:
        >>> model = EncoderDecoder(3, 16, 2, cell="gru", reverse_input=True)
        >>> y = model(torch.zeros(9, 4, 3), steps=5)
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "gru",
                 num_layers: int = 1, dropout: float = 0.0, reverse_input: bool = False):
        super().__init__()
        self.input_size, self.output_size, self.reverse_input = input_size, output_size, reverse_input
        self.encoder = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout)
        self.decoder = SequenceToSequence(output_size, hidden_size, output_size, cell, num_layers, dropout)

    def encode(self, x: Tensor) -> Any:
        """The encoder's final state, after reading ``x`` (reversed if ``reverse_input``)."""
        check_shapes("EncoderDecoder", x=(x, "T B I"), I=self.input_size)
        if x.shape[0] == 0:
            raise ValueError(f"EncoderDecoder: expected an input of length T >= 1, got shape {tuple(x.shape)}")
        return self.encoder(x.flip(0) if self.reverse_input else x)[1]

    def forward(self, x: Tensor, steps: int | None = None, targets: Tensor | None = None, *,
                mode: str | None = None, teacher_prob: float = 1.0, y0: Tensor | None = None,
                feedback: str | Callable[..., Tensor] = "identity", temperature: float = 1.0,
                generator: torch.Generator | None = None) -> Tensor:
        """Encode ``x`` and decode ``steps`` outputs (teacher-forced when ``targets`` are given)."""
        state = self.encode(x)
        mode = mode or ("teacher_forcing" if targets is not None else "free_running")
        if y0 is None:
            y0 = x.new_zeros(x.shape[1], self.output_size)
        outputs, _ = unroll(InputFeedback(self.decoder, self.output_size), steps, y0=y0, targets=targets,
                            mode=mode, teacher_prob=teacher_prob, feedback=feedback, temperature=temperature,
                            generator=generator, state=state)
        return outputs


@register_model
class VectorToSequence(nn.Module):
    r"""Vector → sequence: generate a sequence from one vector, feeding back each output.

    Goodfellow et al. (2016), §10.2.4 (fig. 10.9): the vector $v$ sets the initial state
    (``condition="initial"``), is an extra input at every step (``"input"``), or both:

    $$s_0 = \tanh(W_v v + b_v),\qquad s_t = \mathrm{RNN}([v; \tilde y_{t-1}], s_{t-1}),
      \qquad y_t = W s_t + b.$$

    Args:
        input_size: size of the vector $v$.
        hidden_size: units per recurrent layer.
        output_size: output channels (what is fed back).
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        num_layers: stacked layers.
        condition: ``"initial"``, ``"input"`` or ``"both"``.

    Shapes:
        v: (B, input_size); targets: (T, B, output_size) -> (T, B, output_size).

    Examples:
        >>> model = VectorToSequence(4, 16, 1)
        >>> y = model(torch.zeros(2, 4), steps=6)
    """

    _CONDITIONS = ("initial", "input", "both")

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "gru",
                 num_layers: int = 1, condition: str = "both"):
        super().__init__()
        if condition not in self._CONDITIONS:
            raise ValueError(f"VectorToSequence: expected condition in {self._CONDITIONS}, got {condition!r}")
        self.input_size, self.output_size, self.condition = input_size, output_size, condition
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        extra = input_size if condition in ("input", "both") else 0
        self.decoder = SequenceToSequence(extra + output_size, hidden_size, output_size, cell, num_layers)
        self.init = nn.Linear(input_size, num_layers * hidden_size) if condition in ("initial", "both") else None

    def initial_state(self, v: Tensor) -> Any:
        """The decoder's initial state made from $v$ (``None``: zeros)."""
        if self.init is None:
            return None
        h0 = torch.tanh(self.init(v)).reshape(v.shape[0], self.num_layers, self.hidden_size).transpose(0, 1)
        h0 = h0.contiguous()
        return (h0, torch.zeros_like(h0)) if self.cell == "lstm" else h0

    def forward(self, v: Tensor, steps: int | None = None, targets: Tensor | None = None, *,
                mode: str | None = None, teacher_prob: float = 1.0, y0: Tensor | None = None,
                feedback: str | Callable[..., Tensor] = "identity", temperature: float = 1.0,
                generator: torch.Generator | None = None) -> Tensor:
        """Generate ``steps`` outputs from ``v`` (teacher-forced when ``targets`` are given)."""
        check_shapes("VectorToSequence", v=(v, "B I"), I=self.input_size)
        mode = mode or ("teacher_forcing" if targets is not None else "free_running")
        T = steps if steps is not None else targets.shape[0] if targets is not None else None
        if T is None:
            raise ValueError("VectorToSequence: expected steps or targets, got neither")
        extra = self.condition in ("input", "both")
        x = v[None].expand(T, *v.shape) if extra else None
        model = InputFeedback(self.decoder, self.output_size, self.input_size if extra else 0)
        if y0 is None:
            y0 = v.new_zeros(v.shape[0], self.output_size)
        outputs, _ = unroll(model, T, x=x, y0=y0, targets=targets, mode=mode, teacher_prob=teacher_prob,
                            feedback=feedback, temperature=temperature, generator=generator,
                            state=self.initial_state(v))
        return outputs
