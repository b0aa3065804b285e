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

The decoders run through `memnets.nn.recurrent.feedback.unroll` (teacher forcing, free
running, scheduled sampling). Shapes: ``T`` time, ``B`` batch; sequences are
(T, B, channels), or (B, T, channels) with ``batch_first=True``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from memnets._checks import check_choice, check_dtype, check_positive_int, check_shapes
from memnets.nn.recurrent._build import materialise, time_first
from memnets.nn.recurrent.feedback import InputFeedback, unroll
from memnets.nn.recurrent.rnn import GRU, LSTM, RNN
from memnets.nn.registry import register_model

__all__ = [
    "CELL_TYPES",
    "POOLINGS",
    "CONDITIONS",
    "recurrent_layer",
    "pool_sequence",
    "SequenceToVector",
    "SequenceToSequence",
    "EncoderDecoder",
    "VectorToSequence",
]

#: Recurrent layers a wrapper can be built with (torch-compatible constructors).
CELL_TYPES = ("rnn", "lstm", "gru")
#: How `SequenceToVector` summarises the states over time.
POOLINGS = ("last", "mean")
#: How `VectorToSequence` feeds its vector to the decoder.
CONDITIONS = ("initial", "input", "both")


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                    dropout: float = 0.0, batch_first: bool = False, device: torch.device | str | None = None,
                    dtype: torch.dtype | None = None) -> nn.Module:
    """Build a (stacked) `memnets.RNN`, `memnets.LSTM` or `memnets.GRU`.

    Args:
        cell: ``"rnn"`` (Elman, tanh), ``"lstm"`` or ``"gru"``.
        input_size: input channels.
        hidden_size: units per layer.
        num_layers: stacked layers.
        dropout: dropout between stacked layers.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Returns:
        A module called as ``layer(x, state) -> (output, state)`` with x (T, B, input_size),
        output (T, B, hidden_size) (batch first with ``batch_first``) and torch's state
        layout.

    Examples:
        >>> layer = recurrent_layer("gru", 3, 8)
        >>> out, h = layer(torch.zeros(5, 2, 3))
    """
    classes = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
    check_choice("recurrent_layer", "cell", cell, CELL_TYPES)
    check_positive_int("recurrent_layer", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
    return classes[cell](input_size, hidden_size, num_layers=num_layers, dropout=dropout, batch_first=batch_first,
                         device=device, dtype=dtype)


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
    check_choice("pool_sequence", "pooling", pooling, POOLINGS)
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
        batch_first: the input is (B, T, input_size) instead of (T, B, input_size).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T, B, input_size) or (B, T, input_size) with ``batch_first``; lengths: (B,)
        -> (B, output_size).

    Examples:
        >>> model = SequenceToVector(3, 16, 10, cell="lstm", pooling="mean")
        >>> logits = model(torch.zeros(7, 2, 3))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "lstm",
                 num_layers: int = 1, dropout: float = 0.0, pooling: str = "last", batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_choice("SequenceToVector", "pooling", pooling, POOLINGS)
        check_positive_int("SequenceToVector", output_size=output_size)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.pooling, self.batch_first = pooling, batch_first
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout, device="meta", dtype=dtype)
        self.head = nn.Linear(hidden_size, output_size, device="meta", dtype=dtype)
        materialise(self, device)

    def reset_parameters(self) -> None:
        """Redraw the recurrent layer and the head (torch's initialisations)."""
        self.rnn.reset_parameters()
        self.head.reset_parameters()

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        check_shapes("SequenceToVector", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        outputs, _ = self.rnn(time_first(x, self.batch_first))
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
        batch_first: input and output are (B, T, ·) instead of (T, B, ·).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T, B, input_size) -> y (T, B, output_size) (both batch first with
        ``batch_first``); state in torch's layout.

    Examples:
        >>> model = SequenceToSequence(1, 16, 10, cell="gru")
        >>> y, h = model(torch.zeros(50, 4, 1))
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "lstm",
                 num_layers: int = 1, dropout: float = 0.0, batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_positive_int("SequenceToSequence", output_size=output_size)
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.cell, self.num_layers, self.batch_first = cell, num_layers, batch_first
        self.rnn = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout, batch_first,
                                   device="meta", dtype=dtype)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, output_size, device="meta", dtype=dtype)
        materialise(self, device)

    def reset_parameters(self) -> None:
        """Redraw the recurrent layer and the head (torch's initialisations)."""
        self.rnn.reset_parameters()
        self.head.reset_parameters()

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        check_shapes("SequenceToSequence", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
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
        batch_first: x, targets and the output are (B, T, ·) instead of (T, B, ·).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        x: (T_x, B, input_size); targets: (T_y, B, output_size); y0: (B, output_size) ->
        (T_y, B, output_size) (sequences batch first with ``batch_first``).

    Examples:
        >>> model = EncoderDecoder(3, 16, 2, cell="gru", reverse_input=True)
        >>> y = model(torch.zeros(9, 4, 3), steps=5)
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "gru",
                 num_layers: int = 1, dropout: float = 0.0, reverse_input: bool = False,
                 batch_first: bool = False, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.reverse_input, self.batch_first = reverse_input, batch_first
        self.encoder = recurrent_layer(cell, input_size, hidden_size, num_layers, dropout, device="meta", dtype=dtype)
        self.decoder = SequenceToSequence(output_size, hidden_size, output_size, cell, num_layers, dropout,
                                          device="meta", dtype=dtype)
        materialise(self, device)

    def reset_parameters(self) -> None:
        """Redraw encoder and decoder (torch's initialisations)."""
        self.encoder.reset_parameters()
        self.decoder.reset_parameters()

    def encode(self, x: Tensor) -> Any:
        """The encoder's final state, after reading ``x`` (reversed if ``reverse_input``)."""
        check_shapes("EncoderDecoder", x=(x, "B T I" if self.batch_first else "T B I"), I=self.input_size)
        x = time_first(x, self.batch_first)
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
            y0 = x.new_zeros(x.shape[0 if self.batch_first else 1], self.output_size)
        outputs, _ = unroll(InputFeedback(self.decoder, self.output_size), steps, y0=y0,
                            targets=time_first(targets, self.batch_first), mode=mode, teacher_prob=teacher_prob,
                            feedback=feedback, temperature=temperature, generator=generator, state=state)
        return time_first(outputs, self.batch_first)


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
        batch_first: targets and the output are (B, T, ·) instead of (T, B, ·).
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shapes:
        v: (B, input_size); targets: (T, B, output_size) -> (T, B, output_size)
        (batch first with ``batch_first``).

    Examples:
        >>> model = VectorToSequence(4, 16, 1)
        >>> y = model(torch.zeros(2, 4), steps=6)
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, cell: str = "gru",
                 num_layers: int = 1, condition: str = "both", batch_first: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        check_choice("VectorToSequence", "condition", condition, CONDITIONS)
        check_positive_int("VectorToSequence", input_size=input_size)
        self.input_size, self.output_size, self.condition = input_size, output_size, condition
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.batch_first = batch_first
        extra = input_size if condition in ("input", "both") else 0
        factory = {"device": "meta", "dtype": dtype}
        self.decoder = SequenceToSequence(extra + output_size, hidden_size, output_size, cell, num_layers, **factory)
        conditioned = condition in ("initial", "both")
        self.init = nn.Linear(input_size, num_layers * hidden_size, **factory) if conditioned else None
        materialise(self, device)

    def reset_parameters(self) -> None:
        """Redraw the decoder and the initial-state layer (torch's initialisations)."""
        self.decoder.reset_parameters()
        if self.init is not None:
            self.init.reset_parameters()

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
        check_dtype("VectorToSequence", self.decoder.head.weight.dtype, v=v, y0=y0)
        targets = time_first(targets, self.batch_first)
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
        return time_first(outputs, self.batch_first)
