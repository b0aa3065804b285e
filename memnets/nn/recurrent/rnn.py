r"""Sequence models: stacked, optionally bidirectional Elman RNN, LSTM and GRU.

`RNN`, `LSTM` and `GRU` have the constructor arguments, the
``forward(input, hx=None)`` signature and returns, and the ``state_dict`` keys of
``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU`` (``PackedSequence`` input
included), so a state dict moves between the two libraries in both directions and the
outputs agree. On top of torch they offer the LSTM ``variant`` of `LSTMCell` and
Graves-style skip connections (``skip_connections=True``).

Two paths compute the same function. The gate-core path is the definition: every layer
and direction runs the same time loop, the input projection of all time steps is one
matrix product, and each step does only the hidden matrix product and the gated update
of `memnets.functional.gates`. Where torch has a fused kernel for the configuration
(vanilla LSTM, GRU, Elman RNN), `forward` calls that kernel instead, as ``torch.nn``
does; ``fused=False`` forces the gate-core path.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, _VF, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence

from memnets._checks import check_dtype, check_positive_int, check_probability, check_shapes
from memnets.functional.gates import (
    GRU_NUM_GATES,
    RNN_NUM_GATES,
    SATURATED,
    _activation,
    _gru_update_unchecked,
    _lstm_update_unchecked,
    lstm_num_gates,
    rnn_update,
)
from memnets.nn._init import uniform_
from memnets.nn.recurrent._peephole import peephole_lstm_sequence
from memnets.nn.recurrent._serial import autocast_on
from memnets.nn.recurrent.cells import _PEEPHOLE_ROWS

__all__ = ["RNN", "LSTM", "GRU"]

#: torch's mode names, kept so code that inspects ``module.mode`` keeps working.
_MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
#: LSTM variants the fused LSTM kernel computes exactly, through the weights of
#: `_as_vanilla_lstm` (the peephole variant needs the cell inside its gates: gate core only).
_FUSED_LSTM_VARIANTS = ("vanilla", "coupled", "no_forget")
#: torch's fused kernels, by mode: what ``torch.nn.LSTM/GRU/RNN`` call.
_FUSED_KERNELS = {"LSTM": _VF.lstm, "GRU": _VF.gru, "RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu}

# A step maps (projected input x_t, state tuple) to the new state tuple; state[0] is h.
_Step = Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]]


def _as_vanilla_lstm(variant: str, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None,
                     bias_hh: Tensor | None, weight_peephole: Tensor | None = None) -> list[Tensor]:
    r"""The weights of a vanilla LSTM (i, f, g, o; both biases) that computes a variant exactly.

    * ``coupled`` (blocks f, g, o): $i = 1 - f = \sigma(-a_f)$, so the input-gate block is
      the negated forget block, $W_i = -W_f$, $b_i = -b_f$;
    * ``no_forget`` (blocks i, g, o): $f = 1$, a forget block with zero weights and a
      bias whose sigmoid is exactly 1 (`SATURATED`), so $c_t = c_{t-1} + i \odot g$.

    The result is built from the parameters with differentiable operations, so gradients
    reach them through the fused kernel's backward.

    Returns:
        ``[w_ih, w_hh, b_ih, b_hh]`` with 4·H rows each.
    """
    del weight_peephole  # not a variant the fused kernel can compute
    rows = weight_hh.shape[0] // lstm_num_gates(variant)
    if bias_ih is None:
        bias_ih = weight_ih.new_zeros(weight_ih.shape[0])
        bias_hh = weight_hh.new_zeros(weight_hh.shape[0])
    out = []
    for tensor, is_ih_bias in ((weight_ih, False), (weight_hh, False), (bias_ih, True), (bias_hh, False)):
        first, g, o = tensor.split(rows)
        if variant == "coupled":
            out.append(torch.cat([-first, first, g, o]))
        else:  # no_forget: first is the input gate
            forget = torch.zeros_like(first)
            if is_ih_bias:
                forget = forget + SATURATED
            out.append(torch.cat([first, forget, g, o]))
    return out


class _RNNBase(nn.Module):
    """The shared machinery of `RNN`, `LSTM` and `GRU`."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        nonlinearity: str = "tanh",
        variant: str = "vanilla",
        skip_connections: bool = False,
        fused: bool = True,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        if mode not in _MODES:
            raise ValueError(f"{where}: unknown mode {mode!r}, expected one of {_MODES}")
        check_positive_int(where, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        for name, flag in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional),
                           ("skip_connections", skip_connections), ("fused", fused)):
            if not isinstance(flag, bool):
                raise TypeError(f"{where}: {name} should be of type bool, got: {type(flag).__name__}")
        check_probability(where, dropout=dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{where}: dropout acts between stacked layers, so it needs num_layers > 1, "
                f"got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = 0
        self.nonlinearity = nonlinearity
        self.variant = variant
        self.skip_connections = skip_connections
        #: Take torch's fused kernel where it serves the configuration (see `uses_fused_kernel`);
        #: ``False`` forces the gate-core path. May be changed at any time.
        self.fused = fused
        if mode == "LSTM":
            num_gates = lstm_num_gates(variant)
        else:
            num_gates = GRU_NUM_GATES if mode == "GRU" else RNN_NUM_GATES
        self._num_gates = num_gates

        factory = {"device": device, "dtype": dtype}
        num_directions = 2 if bidirectional else 1
        gate_size = num_gates * hidden_size
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else num_directions * hidden_size
            if skip_connections and layer > 0:
                layer_input += input_size
            for direction in range(num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if mode == "LSTM" and variant == "peephole":
                    shapes["weight_peephole"] = (_PEEPHOLE_ROWS, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, nn.Parameter(torch.empty(shape, **factory)))
                    names.append(kind + suffix)
                self._all_weights.append(names)
        self.reset_parameters()

    # ----------------------------------------------------------------- torch API
    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters of each layer and direction, in torch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Does nothing: there is no cuDNN weight buffer to compact (kept for torch compatibility)."""

    def reset_parameters(self) -> None:
        """Draw every weight from $\\mathcal{U}(-1/\\sqrt{H}, 1/\\sqrt{H})$, as torch does."""
        uniform_(self, self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if self.mode == "LSTM" and self.variant != "vanilla":
            s += f", variant={self.variant!r}"
        if self.skip_connections:
            s += ", skip_connections=True"
        return s

    # ------------------------------------------------------------------ forward
    def _state_names(self) -> tuple[str, ...]:
        return ("h_0", "c_0") if self.mode == "LSTM" else ("h_0",)

    def forward(self, input, hx=None):
        where = type(self).__name__
        num_directions = 2 if self.bidirectional else 1
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            check_shapes(where, **{"input.data": (data, "N I")}, I=self.input_size)
            sizes = batch_sizes.tolist()
            batch, batched = sizes[0], True
            x = data
        else:
            if not isinstance(input, Tensor):
                raise ValueError(f"{where}: expected input to be a torch.Tensor or a PackedSequence, "
                                 f"got {type(input).__name__}")
            order = "B T I" if self.batch_first else "T B I"
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{where}: expected input of shape ({order.replace(' ', ', ')}) with I={self.input_size} "
                    f"or unbatched (T, I), got rank {input.dim()} with shape {tuple(input.shape)}"
                )
            batched = input.dim() == 3
            if batched:
                dims = check_shapes(where, input=(input, order), I=self.input_size)
                x = input.transpose(0, 1) if self.batch_first else input
            else:
                dims = check_shapes(where, input=(input, "T I"), I=self.input_size)
                dims["B"] = 1
                x = input.unsqueeze(1)
            batch, sizes, sorted_indices, unsorted_indices = dims["B"], None, None, None
        check_dtype(where, self.weight_ih_l0.dtype, input=x)
        if x.shape[0] == 0:
            raise ValueError(f"{where}: expected a sequence of length T >= 1, got T = 0 (input shape "
                             f"{tuple(input.shape)})")

        states = self._initial_states(hx, batch, batched, num_directions * self.num_layers, x, sorted_indices)
        if self.uses_fused_kernel:
            output, finals = self._run_fused(x, batch_sizes if packed else None, states)
        else:
            output, finals = self._run(x, sizes, states)

        if sorted_indices is not None:
            finals = tuple(s.index_select(1, unsorted_indices) for s in finals)
        if packed:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        elif not batched:
            output = output.squeeze(1)
            finals = tuple(s.squeeze(1) for s in finals)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (finals if self.mode == "LSTM" else finals[0])

    def _initial_states(self, hx, batch, batched, num_states, like, sorted_indices) -> tuple[Tensor, ...]:
        """Validate ``hx`` and return the batched, sorted initial states, each (L·D, B, H)."""
        where = type(self).__name__
        names = self._state_names()
        if hx is None:
            zeros = like.new_zeros(num_states, batch, self.hidden_size)
            return tuple(zeros for _ in names)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{where}: expected hx to be a tuple (h_0, c_0) of two tensors, "
                                 f"got {type(hx).__name__}")
            given = tuple(hx)
        else:
            given = (hx,)
        pattern = "LD B H" if batched else "LD H"
        out = []
        for name, state in zip(names, given):
            check_shapes(where, **{name: (state, pattern)}, LD=num_states, B=batch, H=self.hidden_size)
            check_dtype(where, like.dtype, **{name: state})
            if not batched:
                state = state.unsqueeze(1)
            if sorted_indices is not None:
                state = state.index_select(1, sorted_indices)
            out.append(state)
        return tuple(out)

    @property
    def uses_fused_kernel(self) -> bool:
        """Whether `forward` runs torch's fused kernel (see the class docstring's *Speed*).

        True when ``fused`` is set and the configuration is one torch's kernels compute: an
        LSTM variant other than ``"peephole"`` (the coupled and no-forget LSTMs run in the
        vanilla kernel through `_as_vanilla_lstm`). With skip connections the kernel runs
        one layer at a time, each layer fed the network input beside the layer below.
        """
        return self.fused and self.variant in _FUSED_LSTM_VARIANTS

    @property
    def uses_peephole_sequence(self) -> bool:
        """Whether the peephole LSTM runs padded sequences through
        `memnets.nn.recurrent._peephole.peephole_lstm_sequence` (a hand-derived backward,
        first-order only) instead of the autograd loop: ``fused`` and ``variant="peephole"``,
        with or without skip connections."""
        return self.fused and self.variant == "peephole"

    def _run_fused(self, x: Tensor, batch_sizes: Tensor | None, states: tuple[Tensor, ...]):
        """All layers and directions in torch's fused kernel (oneDNN/ATen on CPU, cuDNN on GPU).

        Without skip connections, one call with the arguments ``torch.nn.LSTM/GRU/RNN``
        pass: the weights of every layer and direction in torch's flat order, time-major
        input or packed data. With skip connections, one single-layer call per layer on
        the layers' inputs of `_run` (the network input beside the dropped-out layer
        below), the output every layer's states, as there.
        """
        if not self.skip_connections:
            return self._fused_layers(x, batch_sizes, states, 0, self.num_layers)
        num_directions = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input, layer_outputs = x, []
        for layer in range(self.num_layers):
            rows = slice(layer * num_directions, (layer + 1) * num_directions)
            out, last = self._fused_layers(layer_input, batch_sizes, tuple(s[rows] for s in states), layer, 1)
            layer_outputs.append(out)
            for k, s in enumerate(last):
                finals[k].append(s)
            if layer < self.num_layers - 1:
                layer_input = self._next_layer_input(x, out)
        return torch.cat(layer_outputs, dim=-1), tuple(torch.cat(f, dim=0) for f in finals)

    def _fused_layers(self, x: Tensor, batch_sizes: Tensor | None, states: tuple[Tensor, ...], first: int,
                      num_layers: int):
        """Layers ``first .. first + num_layers - 1`` (every direction) in one call of the fused kernel;
        ``states`` holds their initial states, (num_layers·D, B, H) each."""
        kernel = _FUSED_KERNELS[self.mode]
        hx = states if self.mode == "LSTM" else states[0]
        num_directions = 2 if self.bidirectional else 1
        indices = range(first * num_directions, (first + num_layers) * num_directions)
        if self.mode == "LSTM" and self.variant != "vanilla":
            weights = [w for index in indices for w in _as_vanilla_lstm(self.variant, **self._weights(index))]
            has_biases = True
        else:
            weights = [getattr(self, name) for index in indices for name in self._all_weights[index]]
            has_biases = self.bias
        dropout = self.dropout if num_layers > 1 else 0.0
        options = (has_biases, num_layers, dropout, self.training, self.bidirectional)
        if batch_sizes is None:
            result = kernel(x, hx, weights, *options, False)
        else:
            result = kernel(x, batch_sizes, hx, weights, *options)
        return result[0], tuple(result[1:])

    def _run(self, x: Tensor, sizes: list[int] | None, states: tuple[Tensor, ...]):
        """All layers and directions on time-major (T, B, I) input or packed (N, I) data,
        through the gate core (`memnets.functional.gates`)."""
        num_directions = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[] for _ in states]
        layer_input, layer_outputs = x, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(num_directions):
                index = layer * num_directions + direction
                out, last = self._run_direction(layer_input, sizes, tuple(s[index] for s in states), index,
                                                reverse=direction == 1)
                outputs.append(out)
                for k, s in enumerate(last):
                    finals[k].append(s)
            out = torch.cat(outputs, dim=-1) if num_directions == 2 else outputs[0]
            layer_outputs.append(out)
            if layer < self.num_layers - 1:
                layer_input = self._next_layer_input(x, out)
        output = torch.cat(layer_outputs, dim=-1) if self.skip_connections else layer_outputs[-1]
        return output, tuple(torch.stack(f, dim=0) for f in finals)

    def _next_layer_input(self, x: Tensor, out: Tensor) -> Tensor:
        """The input of the layer above ``out`` (a layer's output, every direction): ``out``
        after dropout (in training), beside the network input ``x`` with skip connections.
        Both paths (`_run` and `_run_fused`) stack their layers through it, so they draw the
        same dropout masks."""
        if self.dropout > 0 and self.training:
            out = F.dropout(out, p=self.dropout, training=True)
        return torch.cat([x, out], dim=-1) if self.skip_connections else out

    def _weights(self, index: int) -> dict[str, Tensor | None]:
        """The parameters of layer/direction ``index`` by kind (``weight_ih``, ``bias_hh``, ...)."""
        kinds = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_peephole")
        names = {name.split("_l")[0]: name for name in self._all_weights[index]}
        return {kind: getattr(self, names[kind]) if kind in names else None for kind in kinds}

    def compile_step(self, **options: Any) -> None:
        """Compile the one-step update of the gate-core path with ``torch.compile``, in place.

        The time loop stays eager. It serves the gate-core path (``fused=False``, and
        packed sequences of the peephole LSTM); a module that `uses_fused_kernel` runs
        torch's kernel, and a peephole LSTM that `uses_peephole_sequence` its own autograd
        function, neither of which calls the step.

        Every layer, direction and time step calls the same step function (hidden matrix
        product and gated update, the weights passed as arguments), so one small graph
        serves every step and every sequence length, where compiling `forward`
        would trace the unrolled sequence once per length. Parameters and ``state_dict``
        keys are unchanged. The training loop's ``--compile`` calls it through
        `memnets.training.compilation.compile_steps`, also for models that contain
        this module (e.g. `LSTMBaseline`).

        Args:
            **options: passed to ``torch.compile`` (``mode``, ``backend``, ``dynamic``, ...).

        Examples:
            >>> lstm = LSTM(3, 4)
            >>> lstm.compile_step(backend="eager")
        """
        self._step = torch.compile(self._step, **options)

    def _step(self, xw: Tensor, state: tuple[Tensor, ...], w_hh_t: Tensor, b_hh: Tensor | None,
              peephole: Tensor | None) -> tuple[Tensor, ...]:
        r"""The one-step update ``state -> state`` of one layer/direction (``state[0]`` is h).

        ``xw`` is the projected input of step t: $x_t W_{ih}^\top$ plus both biases
        for RNN and LSTM, plus ``b_ih`` only for the GRU (whose reset gate multiplies the
        hidden projection with its bias ``b_hh``).
        """
        if self.mode == "GRU":
            (h,) = state
            gh = torch.mm(h, w_hh_t) if b_hh is None else torch.addmm(b_hh, h, w_hh_t)
            return (_gru_update_unchecked(xw, gh, h),)
        if self.mode == "LSTM":
            h, c = state
            return _lstm_update_unchecked(torch.addmm(xw, h, w_hh_t), c, self.variant, peephole)
        nonlinearity = "relu" if self.mode == "RNN_RELU" else "tanh"
        return (rnn_update(torch.addmm(xw, state[0], w_hh_t), nonlinearity),)

    def _step_function(self, weights: dict[str, Tensor | None]) -> _Step:
        """`_step` with the weights of one layer/direction bound: ``step(xw_t, state) -> state``."""
        w_hh_t, b_hh, peephole = weights["weight_hh"].t(), weights["bias_hh"], weights["weight_peephole"]
        step = self._step  # the compiled step after compile_step

        def bound(xw: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
            return step(xw, state, w_hh_t, b_hh, peephole)

        return bound

    def _run_direction(
        self,
        x: Tensor,
        sizes: list[int] | None,
        init: tuple[Tensor, ...],
        index: int,
        reverse: bool,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """One layer in one direction: ``(output, final states)``.

        ``x`` is (T, B, I) with ``sizes=None``, or packed data (N, I) whose time step t
        holds the first ``sizes[t]`` sequences (``sizes`` non-increasing). For packed
        data the forward direction sets a sequence's final state aside when it ends,
        and the reverse direction starts each sequence at its own last step from its
        initial state. The input projection of all steps is one matrix product before
        the loop; each step does the hidden matrix product and the gated update.
        """
        weights = self._weights(index)
        w_ih, b_ih, b_hh = weights["weight_ih"], weights["bias_ih"], weights["bias_hh"]
        # RNN and LSTM add both biases to the input projection, once for all steps.
        input_bias = b_ih if self.mode == "GRU" or b_ih is None else b_ih + b_hh
        flat = x.reshape(-1, x.shape[-1])
        xw = torch.mm(flat, w_ih.t()) if input_bias is None else torch.addmm(input_bias, flat, w_ih.t())
        if self.uses_peephole_sequence and sizes is None and not autocast_on(x.device):
            xw = xw.view(x.shape[0], x.shape[1], w_ih.shape[0])
            out, h_n, c_n = peephole_lstm_sequence(xw.flip(0) if reverse else xw, init[0], init[1],
                                                   weights["weight_hh"], weights["weight_peephole"])
            return (out.flip(0) if reverse else out), (h_n, c_n)
        step = self._step_function(weights)
        if sizes is None:
            inputs = xw.view(x.shape[0], x.shape[1], w_ih.shape[0]).unbind(0)
            sizes = [x.shape[1]] * x.shape[0]
        else:
            inputs = xw.split(sizes)
        steps = len(sizes)
        outputs: list[Tensor | None] = [None] * steps
        ended: list[tuple[Tensor, ...]] = []
        if reverse:
            current = sizes[-1]
            state = tuple(s[:current] for s in init)
            order = range(steps - 1, -1, -1)
        else:
            current = sizes[0]
            state = init
            order = range(steps)
        for t in order:
            size = sizes[t]
            if size != current:
                if size < current:  # forward: sequences current-1 .. size end here
                    ended.append(tuple(s[size:current] for s in state))
                    state = tuple(s[:size] for s in state)
                else:  # reverse: sequences current .. size-1 start here
                    state = tuple(torch.cat([s, s0[current:size]]) for s, s0 in zip(state, init))
                current = size
            state = step(inputs[t], state)
            outputs[t] = state[0]
        if ended:
            state = tuple(torch.cat([s, *(e[k] for e in reversed(ended))]) for k, s in enumerate(state))
        output = torch.stack(outputs) if x.dim() == 3 else torch.cat(outputs)
        return output, state


class RNN(_RNNBase):
    r"""A stacked Elman RNN, a drop-in replacement for ``torch.nn.RNN``.

    Elman (1990), "Finding structure in time". For each layer $l$ and time step $t$:

    $$h^l_t = \phi(W^l_{ih} x^l_t + b^l_{ih} + W^l_{hh} h^l_{t-1} + b^l_{hh}),$$

    with $x^1_t = x_t$ and $x^l_t = \delta(h^{l-1}_t)$ for $l > 1$ ($\delta$ is
    dropout in training, the identity otherwise); bidirectional layers run a second set
    of weights (suffix ``_reverse``) from the end of the sequence backwards and
    concatenate both directions. The update is [`rnn_update`][memnets.functional.gates.rnn_update].

    With ``skip_connections=True`` (Graves 2013, "Generating sequences with recurrent
    neural networks", eqs. 1-3) every layer also sees the network input,
    $x^l_t = [x_t, \delta(h^{l-1}_t)]$, and the output concatenates every layer,
    $y_t = [h^1_t, \dots, h^L_t]$, so a linear read-out of $y_t$ is Graves'
    $b_y + \sum_l W_{h^l y} h^l_t$.

    Speed: the gate core (`memnets.functional.gates`) is the definition of the update.
    Where torch has a kernel for the configuration -- `RNN`, `GRU` and the vanilla `LSTM`, any
    ``num_layers``, ``bidirectional``, ``dropout``, packed sequences -- `forward` calls
    it (``torch._VF.rnn_tanh``, ``rnn_relu``, ``gru``, ``lstm`` with the flat weight
    list, as ``torch.nn`` does: oneDNN or ATen on the CPU, cuDNN on the GPU; with skip
    connections one single-layer call per layer); the tests
    prove both paths equal in outputs and gradients. ``fused=False`` (or setting the
    attribute ``module.fused = False``) forces the gate-core path; `uses_fused_kernel`
    says which path `forward` takes. Dropout between layers draws its masks differently
    on the two paths (same distribution, other random numbers). The coupled and
    no-forget LSTMs run in the vanilla kernel with rewritten weights ($i = \sigma(-a_f)$;
    a forget gate held at exactly 1). The peephole LSTM, which no torch kernel computes,
    runs padded sequences through one autograd function with a hand-derived backward
    (`uses_peephole_sequence`; first derivatives only, ``fused=False`` for second ones).

    Args:
        input_size: features of the input (I).
        hidden_size: features of each layer's hidden state (H).
        num_layers: stacked layers (L).
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).
        bias: if ``False``, no $b_{ih}$, $b_{hh}$.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·) (not h_n).
        dropout: dropout probability on each layer's output except the last, in training.
        bidirectional: run every layer in both directions (D = 2).
        device: device of the parameters.
        dtype: dtype of the parameters.
        skip_connections: Graves' input-to-all-layers and all-layers-to-output skips
            (keyword only; ``False`` is exactly ``torch.nn.RNN``).
        fused: take torch's fused kernel where it serves the configuration (keyword
            only); ``False`` forces the gate-core path. See *Speed* below.

    Shapes:
        input: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I);
        hx and h_n: (L·D, B, H), or (L·D, H) unbatched;
        output: (T, B, D·H) ((T, B, L·D·H) with skip connections), batch first or
        unbatched like the input.
        Parameters, as in torch: ``weight_ih_l{k}`` (H, I_k), ``weight_hh_l{k}`` (H, H),
        ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,), with ``_reverse`` for the second
        direction; I_0 = I, I_k = D·H (+ I with skip connections).

    Examples:
        >>> rnn = RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(torch.randn(5, 3, 10))    # (5, 3, 20), (2, 3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        skip_connections: bool = False,
        fused: bool = True,
    ) -> None:
        _activation(nonlinearity, "RNN")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, nonlinearity=nonlinearity, skip_connections=skip_connections, fused=fused)

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the RNN over a sequence.

        Args:
            input: the sequence, (T, B, I), (B, T, I) with ``batch_first=True``,
                unbatched (T, I), or a ``torch.nn.utils.rnn.PackedSequence``.
            hx: the initial state h_0, (L·D, B, H) or (L·D, H) unbatched; zeros when ``None``.

        Returns:
            ``(output, h_n)``: the last layer's hidden state at every step (every
                layer's, concatenated, with skip connections), in the layout of the
                input (a ``PackedSequence`` for packed input), and the final hidden
                state of every layer and direction.
        """
        return super().forward(input, hx)


class LSTM(_RNNBase):
    r"""A stacked LSTM, a drop-in replacement for ``torch.nn.LSTM``, with LSTM variants.

    Hochreiter & Schmidhuber (1997), with the forget gate of Gers et al. (2000). For each
    layer $l$ and time step $t$, with $a = W^l_{ih} x^l_t + b^l_{ih} + W^l_{hh}
    h^l_{t-1} + b^l_{hh}$ split in torch's order i, f, g, o:

    $$i = \sigma(a_i),\quad f = \sigma(a_f),\quad g = \tanh(a_g),\quad o = \sigma(a_o),$$

    $$c^l_t = f \odot c^l_{t-1} + i \odot g, \qquad h^l_t = o \odot \tanh(c^l_t),$$

    with $x^1_t = x_t$ and $x^l_t = \delta(h^{l-1}_t)$ (dropout between layers in
    training). ``variant`` selects the update of [`LSTMCell`][memnets.nn.recurrent.cells.LSTMCell]
    (``"peephole"`` adds ``weight_peephole_l{k}`` (3, H) parameters; ``"coupled"`` and
    ``"no_forget"`` have three gate blocks). The update is
    [`lstm_update`][memnets.functional.gates.lstm_update]. ``skip_connections=True`` adds the skips of
    Graves (2013), as in [`RNN`][memnets.nn.recurrent.rnn.RNN].

    Args:
        input_size: features of the input (I).
        hidden_size: features of each layer's hidden and cell state (H).
        num_layers: stacked layers (L).
        bias: if ``False``, no $b_{ih}$, $b_{hh}$.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·) (not h_n, c_n).
        dropout: dropout probability on each layer's output except the last, in training.
        bidirectional: run every layer in both directions (D = 2).
        proj_size: must be 0 (LSTM projections are not implemented); kept so that
            torch's positional arguments line up.
        device: device of the parameters.
        dtype: dtype of the parameters.
        variant: ``"vanilla"`` (torch's LSTM), ``"peephole"``, ``"coupled"`` or
            ``"no_forget"`` (keyword only).
        skip_connections: Graves' input-to-all-layers and all-layers-to-output skips
            (keyword only; ``False`` is exactly ``torch.nn.LSTM``).
        fused: take torch's fused kernel where it serves the configuration (keyword
            only); ``False`` forces the gate-core path. See *Speed* in `RNN`.

    Shapes:
        input: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I);
        hx = (h_0, c_0) and (h_n, c_n): each (L·D, B, H), or (L·D, H) unbatched;
        output: (T, B, D·H) ((T, B, L·D·H) with skip connections).
        Parameters, as in torch: ``weight_ih_l{k}`` (G·H, I_k), ``weight_hh_l{k}``
        (G·H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,), ``_reverse`` for the second
        direction, G = 4 (3 for coupled and no_forget).

    Examples:
        >>> lstm = LSTM(10, 20, num_layers=2, batch_first=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10))   # (3, 5, 20), (2, 3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        variant: str = "vanilla",
        skip_connections: bool = False,
        fused: bool = True,
    ) -> None:
        if proj_size != 0:
            raise ValueError(f"LSTM: expected proj_size=0 (memnets has no projected LSTM), got proj_size={proj_size}")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, variant=variant, skip_connections=skip_connections, fused=fused)

    def forward(
        self, input: Tensor | PackedSequence, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor | PackedSequence, tuple[Tensor, Tensor]]:
        """Run the LSTM over a sequence.

        Args:
            input: the sequence, (T, B, I), (B, T, I) with ``batch_first=True``,
                unbatched (T, I), or a ``torch.nn.utils.rnn.PackedSequence``.
            hx: the initial state ``(h_0, c_0)``, each (L·D, B, H) or (L·D, H)
                unbatched; zeros when ``None``.

        Returns:
            ``(output, (h_n, c_n))``: the last layer's hidden state at every step
                (every layer's, concatenated, with skip connections), in the layout of
                the input (a ``PackedSequence`` for packed input), and the final hidden
                and cell states of every layer and direction.
        """
        return super().forward(input, hx)


class GRU(_RNNBase):
    r"""A stacked GRU, a drop-in replacement for ``torch.nn.GRU``.

    Cho et al. (2014), in torch's formulation (gate order r, z, n). For each layer $l$
    and time step $t$:

    $$r = \sigma(W_{ir} x^l_t + b_{ir} + W_{hr} h^l_{t-1} + b_{hr}),\quad
      z = \sigma(W_{iz} x^l_t + b_{iz} + W_{hz} h^l_{t-1} + b_{hz}),$$

    $$n = \tanh(W_{in} x^l_t + b_{in} + r \odot (W_{hn} h^l_{t-1} + b_{hn})),\qquad
      h^l_t = (1 - z) \odot n + z \odot h^l_{t-1},$$

    with $x^1_t = x_t$ and $x^l_t = \delta(h^{l-1}_t)$ (dropout between layers in
    training). The update is [`gru_update`][memnets.functional.gates.gru_update].
    ``skip_connections=True`` adds the skips of Graves (2013), as in [`RNN`][memnets.nn.recurrent.rnn.RNN].

    Args:
        input_size: features of the input (I).
        hidden_size: features of each layer's hidden state (H).
        num_layers: stacked layers (L).
        bias: if ``False``, no $b_{ih}$, $b_{hh}$.
        batch_first: input and output are (B, T, ·) instead of (T, B, ·) (not h_n).
        dropout: dropout probability on each layer's output except the last, in training.
        bidirectional: run every layer in both directions (D = 2).
        device: device of the parameters.
        dtype: dtype of the parameters.
        skip_connections: Graves' input-to-all-layers and all-layers-to-output skips
            (keyword only; ``False`` is exactly ``torch.nn.GRU``).
        fused: take torch's fused kernel where it serves the configuration (keyword
            only); ``False`` forces the gate-core path. See *Speed* in `RNN`.

    Shapes:
        input: (T, B, I), (B, T, I) with ``batch_first``, or unbatched (T, I);
        hx and h_n: (L·D, B, H), or (L·D, H) unbatched;
        output: (T, B, D·H) ((T, B, L·D·H) with skip connections).
        Parameters, as in torch: ``weight_ih_l{k}`` (3·H, I_k), ``weight_hh_l{k}``
        (3·H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3·H,), ``_reverse`` for the second
        direction.

    Examples:
        >>> gru = GRU(10, 20, bidirectional=True)
        >>> output, h_n = gru(torch.randn(5, 3, 10))    # (5, 3, 40), (2, 3, 20)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        skip_connections: bool = False,
        fused: bool = True,
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device, dtype, skip_connections=skip_connections, fused=fused)

    def forward(
        self, input: Tensor | PackedSequence, hx: Tensor | None = None
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the GRU over a sequence.

        Args:
            input: the sequence, (T, B, I), (B, T, I) with ``batch_first=True``,
                unbatched (T, I), or a ``torch.nn.utils.rnn.PackedSequence``.
            hx: the initial state h_0, (L·D, B, H) or (L·D, H) unbatched; zeros when ``None``.

        Returns:
            ``(output, h_n)``: the last layer's hidden state at every step (every
                layer's, concatenated, with skip connections), in the layout of the
                input (a ``PackedSequence`` for packed input), and the final hidden
                state of every layer and direction.
        """
        return super().forward(input, hx)
