r"""Output feedback: one driver for teacher forcing, free running and scheduled sampling.

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

__all__ = [
    "DECODING_MODES",
    "FEEDBACKS",
    "SCHEDULES",
    "OutputFeedback",
    "InputFeedback",
    "unroll",
    "generate",
    "teacher_forcing_probability",
]

#: Decoding modes understood by `unroll`.
DECODING_MODES = ("teacher_forcing", "free_running", "scheduled_sampling")
#: Named feedback functions (what is fed back, made from the model's raw output).
FEEDBACKS = ("identity", "argmax", "sample")
#: Schedules of `teacher_forcing_probability` (Bengio et al. 2015, §2.4).
SCHEDULES = ("linear", "exponential", "inverse_sigmoid")


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
    autoregressive use of an RNN (iterated forecasting, character models). A model with
    ``batch_first=True`` is fed and read batch first; `InputFeedback` itself, like
    `unroll`, is time first.

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
        axis = 1 if getattr(self.model, "batch_first", False) else 0
        y, state = self.model(self._inputs(x_t, y_prev).unsqueeze(axis), state)
        return y.squeeze(axis), state

    def teacher_forced(self, x: Tensor | None, y_prev: Tensor, state: Any) -> tuple[Tensor, Any]:
        if not getattr(self.model, "batch_first", False):
            return self.model(self._inputs(x, y_prev), state)
        y, state = self.model(self._inputs(x, y_prev).transpose(0, 1), state)
        return y.transpose(0, 1), state

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


def _feedback_forward(model: OutputFeedback, x: Tensor | None, targets: Tensor | None, steps: int | None,
                      mode: str | None, y0: Tensor | None, batch_first: bool, **kwargs: Any) -> tuple[Tensor, Any]:
    """The ``forward`` of the output-feedback models (`NARX`, `JordanRNN`): `unroll`, teacher
    forced when targets are given, with batch-first sequences transposed in and out."""
    mode = mode or ("teacher_forcing" if targets is not None else "free_running")
    if batch_first:
        x = None if x is None else x.transpose(0, 1)
        targets = None if targets is None else targets.transpose(0, 1)
    outputs, state = unroll(model, steps, x=x, y0=y0, targets=targets, mode=mode, **kwargs)
    return (outputs.transpose(0, 1) if batch_first else outputs), state
