r"""The Neural Turing Machine: a recurrent controller with an addressable external memory.

Graves, Wayne & Danihelka (2014), "Neural Turing Machines", arXiv:1410.5401, §3, with the
implementation choices that Collier & Beel (2018), "Implementing Neural Turing Machines",
found to train reliably: an LSTM controller, memory initialised to a small constant,
learned initial read vectors and weightings.

The maths lives in `memnets.functional` (addressing and memory access) and
`memnets.functional.lstm_update` (the controller, through `memnets.LSTMCell`);
the modules here own the parameters and the state.
"""

from __future__ import annotations

import contextlib
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from memnets._checks import check_choice, check_dtype, check_int, check_positive_int, check_shapes
from memnets.functional.addressing import _circular_shift, _content_weights, _interpolate, _sharpen
from memnets.functional.memory import _memory_read, _memory_write
from memnets.nn.memory._unroll import MemoryCell, MemorySequence, stack_states
from memnets.nn.recurrent.cells import LSTMCell
from memnets.nn.registry import register_model

__all__ = ["NTMState", "NTMCell", "NTM", "CONTROLLERS", "MEMORY_INITS", "WEIGHTING_INITS"]

#: Controllers understood by `NTMCell` and `NTM`.
CONTROLLERS = ("lstm", "feedforward")

#: Initial-memory schemes (Collier & Beel 2018, §3): a small constant, a learned
#: matrix, or a fixed random matrix.
MEMORY_INITS = ("constant", "learned", "random")

#: Value of every memory entry under ``memory_init="constant"``; Collier & Beel (2018)
#: found this initialisation to learn fastest and most reliably.
_MEMORY_CONSTANT = 1e-6

#: Standard deviation of the Gaussian under ``memory_init="random"`` (before the tanh),
#: as in Collier & Beel (2018).
_RANDOM_MEMORY_STD = 0.5

#: Under ``weighting_init="first_slot"``, the share of each head's initial weighting on
#: slot 0 (the rest spread evenly over the other slots).
_FIRST_SLOT_FOCUS = 0.9

#: Ways of initialising the learned initial weightings $w_0 = \mathrm{softmax}(b_w)$.
WEIGHTING_INITS = ("random", "first_slot")

#: Head parameters per head besides the key and the shift: beta, gamma, g.
_SCALARS_PER_HEAD = 3


class NTMState(NamedTuple):
    r"""The recurrent state of an NTM between two steps.

    Attributes:
        controller: the LSTM controller's ``(h, c)``, each (B, controller_size), or
            ``None`` for a feed-forward controller.
        memory: the memory matrix $M_t$, (B, N, W).
        read_vectors: what each read head read at this step, $r_t$, (B, R, W).
        read_weights: each read head's weighting $w_t$ over the slots, (B, R, N).
        write_weights: each write head's weighting $w_t$ over the slots, (B, Hw, N).

    With R read heads and Hw write heads. The weightings are what a caller plots to see
    where each head attended; they are also the $w_{t-1}$ of the next step's
    interpolation (eq. 7).
    """

    controller: tuple[Tensor, Tensor] | None
    memory: Tensor
    read_vectors: Tensor
    read_weights: Tensor
    write_weights: Tensor


def _autocast_off(device_type: str):
    """A context that turns autocast off where it is on (keeps the addressing in float32)."""
    if torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


@register_model
class NTMCell(MemoryCell):
    r"""One step of a Neural Turing Machine: ``(x_t, state) -> (logits_t, state)``.

    Graves, Wayne & Danihelka (2014), §3. At each step the controller reads the input
    and the previous read vectors, and one linear layer on its output $o_t$ emits the
    parameters of every head. Each head $h$ gets

    $$k^h = \tanh(\cdot),\quad \beta^h = \operatorname{softplus}(\cdot),\quad
      g^h = \sigma(\cdot),\quad s^h = \operatorname{softmax}(\cdot),\quad
      \gamma^h = 1 + \operatorname{softplus}(\cdot),$$

    and each write head also $e^h = \sigma(\cdot)$ and $a^h = \tanh(\cdot)$ (bounded
    adds keep the memory's scale in check; Collier & Beel 2018). Every head addresses the
    previous memory through the pipeline of eqs. (5)-(9),

    $$w^h_t = \operatorname{sharpen}\big(\operatorname{shift}\big(
      \operatorname{interpolate}(\operatorname{content}(M_{t-1}, k^h, \beta^h),
      w^h_{t-1}, g^h), s^h\big), \gamma^h\big),$$

    the read heads read $r_t = M_{t-1}^\top w^{\text{read}}_t$ (eq. 2), the write heads
    write in order (eqs. 3-4, `memory_write`), and

    $$o_t = \mathrm{controller}([x_t, r_{t-1}]), \qquad
      y_t = W_y [o_t, r_t] + b_y.$$

    Reads see the memory before this step's writes, as in Collier & Beel's reference
    implementation; all heads are addressed together in one batched call.

    Args:
        input_size: input channels.
        output_size: output channels (logits $y_t$).
        controller_size: hidden units of the controller.
        memory_size: memory slots (N in the paper).
        word_size: size of each memory word (M in the paper; W here).
        num_read_heads: read heads (R).
        num_write_heads: write heads (Hw), applied in order.
        shift_range: largest shift offset S; the shift weighting covers $-S..S$.
        controller: ``"lstm"`` (`memnets.LSTMCell`) or ``"feedforward"`` (one
            tanh layer; the read vectors are then the only recurrence).
        memory_init: ``"constant"`` (every entry $10^{-6}$), ``"learned"``
            ($\tanh$ of a trained matrix) or ``"random"`` ($\tanh$ of a fixed
            $\mathcal N(0, 0.5^2)$ matrix drawn at construction).
        weighting_init: how the learned initial weightings $w_0 = \mathrm{softmax}(b_w)$
            start: ``"random"`` (small uniform logits, a nearly flat weighting, as
            Collier & Beel's learned initialisation) or ``"first_slot"`` (logits that put
            90 % of every head's weight on slot 0, like a tape head at the start of its
            tape). With a constant memory, content addressing cannot break the symmetry
            between slots, so a flat start must first learn to focus; ``"first_slot"``
            lets the location-based addressing work from the first step.

    Shapes:
        x_t: (B, input_size) -> logits_t (B, output_size); the state as in
        `NTMState`.

    Examples:
        >>> cell = NTMCell(9, 8, controller_size=32, memory_size=16, word_size=8)
        >>> state = cell.initial_state(4)
        >>> logits, state = cell(torch.zeros(4, 9), state)
        >>> logits.shape, state.read_weights.shape
        (torch.Size([4, 8]), torch.Size([4, 1, 16]))
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        controller_size: int = 100,
        memory_size: int = 128,
        word_size: int = 20,
        num_read_heads: int = 1,
        num_write_heads: int = 1,
        shift_range: int = 1,
        controller: str = "lstm",
        memory_init: str = "constant",
        weighting_init: str = "first_slot",
    ):
        super().__init__()
        where = type(self).__name__
        check_positive_int(
            where,
            input_size=input_size,
            output_size=output_size,
            controller_size=controller_size,
            memory_size=memory_size,
            word_size=word_size,
            num_read_heads=num_read_heads,
            num_write_heads=num_write_heads,
        )
        check_int(where, minimum=0, shift_range=shift_range)
        check_choice(where, "controller", controller, CONTROLLERS)
        check_choice(where, "memory_init", memory_init, MEMORY_INITS)
        check_choice(where, "weighting_init", weighting_init, WEIGHTING_INITS)

        self.input_size = input_size
        self.output_size = output_size
        self.controller_size = controller_size
        self.memory_size = memory_size
        self.word_size = word_size
        self.num_read_heads = num_read_heads
        self.num_write_heads = num_write_heads
        self.shift_range = shift_range
        self.controller_type = controller
        self.memory_init = memory_init
        self.weighting_init = weighting_init

        self.num_heads = num_read_heads + num_write_heads
        self.num_shifts = 2 * shift_range + 1
        # Per head: key (W), beta, gamma, g, shift (2S+1).
        self.head_params = word_size + _SCALARS_PER_HEAD + self.num_shifts
        # Fused head layer output: [addressing of all heads | erase vectors | add vectors].
        self._split_sizes = [self.num_heads * self.head_params, num_write_heads * word_size,
                             num_write_heads * word_size]
        self._head_sizes = [word_size, 2, 1, self.num_shifts]

        controller_input = input_size + num_read_heads * word_size
        if controller == "lstm":
            self.controller = LSTMCell(controller_input, controller_size)
        else:
            self.controller = nn.Linear(controller_input, controller_size)
        self.heads = nn.Linear(controller_size, sum(self._split_sizes))
        self.output = nn.Linear(controller_size + num_read_heads * word_size, output_size)

        # Learned initial state (Collier & Beel 2018): read vectors tanh(b_r), weights softmax(b_w).
        self.initial_reads = nn.Parameter(torch.empty(num_read_heads, word_size))
        self.initial_weights = nn.Parameter(torch.empty(self.num_heads, memory_size))
        if memory_init == "learned":  # M_0 = tanh(L), L trained
            self.initial_memory_logits = nn.Parameter(torch.empty(memory_size, word_size))
        else:  # M_0 fixed, saved with the weights
            self.register_buffer("initial_memory_values", torch.empty(memory_size, word_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (and the fixed random memory)."""
        self.controller.reset_parameters()
        self.heads.reset_parameters()
        self.output.reset_parameters()
        # Glorot-uniform bounds of a (1 -> size) layer, as Collier & Beel's learned_init.
        for param in (self.initial_reads, self.initial_weights):
            bound = math.sqrt(6.0 / (1 + param.shape[-1]))
            nn.init.uniform_(param, -bound, bound)
        with torch.no_grad():
            if self.weighting_init == "first_slot":
                # softmax(b)_0 = e^a / (e^a + N - 1) = focus  <=>  a = log(focus (N - 1) / (1 - focus)).
                n = self.memory_size
                self.initial_weights.zero_()
                if n > 1:
                    self.initial_weights[:, 0] = math.log(_FIRST_SLOT_FOCUS * (n - 1) / (1 - _FIRST_SLOT_FOCUS))
            if self.memory_init == "constant":
                self.initial_memory_values.fill_(_MEMORY_CONSTANT)
            elif self.memory_init == "random":
                self.initial_memory_values.normal_(0.0, _RANDOM_MEMORY_STD).tanh_()
            else:
                bound = math.sqrt(6.0 / (1 + self.memory_size * self.word_size))
                self.initial_memory_logits.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, output_size={self.output_size}, memory_size={self.memory_size}, "
            f"word_size={self.word_size}, num_read_heads={self.num_read_heads}, "
            f"num_write_heads={self.num_write_heads}, shift_range={self.shift_range}, "
            f"controller={self.controller_type!r}, memory_init={self.memory_init!r}, "
            f"weighting_init={self.weighting_init!r}"
        )

    @property
    def initial_memory(self) -> Tensor:
        """The (N, W) memory $M_0$ every sequence starts from."""
        if self.memory_init == "learned":
            return torch.tanh(self.initial_memory_logits)
        return self.initial_memory_values

    # ------------------------------------------------------------------ state

    def initial_state(self, batch_size: int) -> NTMState:
        """The state before the first step: learned reads and weightings, initial memory.

        Args:
            batch_size: B.

        Returns:
            An `NTMState` whose tensors are on the module's device and dtype (the
            memory, reads and weightings are broadcast views; nothing writes in place).
        """
        check_int(type(self).__name__ + ".initial_state", minimum=0, batch_size=batch_size)
        weights = torch.softmax(self.initial_weights, dim=-1).expand(batch_size, -1, -1)
        read_weights, write_weights = weights.split([self.num_read_heads, self.num_write_heads], dim=1)
        if self.controller_type == "lstm":
            zeros = self.heads.weight.new_zeros(batch_size, self.controller_size)
            controller = (zeros, zeros)
        else:
            controller = None
        return NTMState(
            controller=controller,
            memory=self.initial_memory.expand(batch_size, -1, -1),
            read_vectors=torch.tanh(self.initial_reads).expand(batch_size, -1, -1),
            read_weights=read_weights,
            write_weights=write_weights,
        )

    def check_state(self, state: NTMState, batch_size: int, where: str | None = None) -> NTMState:
        """Validate a state's shapes; raise ``ValueError`` naming expected and received shapes."""
        where = where or type(self).__name__
        if not isinstance(state, tuple) or len(state) != len(NTMState._fields):
            raise ValueError(f"{where}: expected state to be an NTMState, got {type(state).__name__}")
        state = NTMState(*state)
        check_shapes(
            where,
            memory=(state.memory, "B N W"),
            read_vectors=(state.read_vectors, "B R W"),
            read_weights=(state.read_weights, "B R N"),
            write_weights=(state.write_weights, "B Hw N"),
            B=batch_size,
            N=self.memory_size,
            W=self.word_size,
            R=self.num_read_heads,
            Hw=self.num_write_heads,
        )
        dtype = self.heads.weight.dtype
        check_dtype(
            where,
            dtype,
            memory=state.memory,
            read_vectors=state.read_vectors,
            read_weights=state.read_weights,
            write_weights=state.write_weights,
        )
        if self.controller_type == "lstm":
            if not (isinstance(state.controller, tuple) and len(state.controller) == 2):
                raise ValueError(f"{where}: expected the controller state (h, c) of an LSTM controller, got "
                                 f"{type(state.controller).__name__}")
            h, c = state.controller
            check_shapes(where, h=(h, "B C"), c=(c, "B C"), B=batch_size, C=self.controller_size)
            check_dtype(where, dtype, h=h, c=c)
        elif state.controller is not None:
            raise ValueError(f"{where}: expected controller state None for a feed-forward controller, "
                             f"got {type(state.controller).__name__}")
        return state

    # ------------------------------------------------------------------ step

    def _step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One unchecked step; returns the controller output $o_t$ and the new state."""
        controller_in = torch.cat([x, rearrange(state.read_vectors, "b r w -> b (r w)")], dim=-1)
        if state.controller is None:
            # A feed-forward controller: one tanh layer.
            out = torch.tanh(self.controller(controller_in))
            controller = None
        else:
            out, cell = self.controller(controller_in, state.controller)
            controller = (out, cell)

        # Under autocast (--amp bf16) the controller and the read-out run in low precision, but
        # the addressing and the memory stay in float32: bf16 cosines and sharpening blur the focus.
        params = self.heads(out)
        address, erase, add = params.to(torch.promote_types(params.dtype, torch.float32)).split(self._split_sizes, -1)
        with _autocast_off(x.device.type):
            address = rearrange(address, "b (h p) -> b h p", h=self.num_heads)
            key, beta_gamma, gate, shift = address.split(self._head_sizes, dim=-1)
            beta, gamma = F.softplus(beta_gamma).unbind(-1)

            memory = state.memory
            w_prev = torch.cat([state.read_weights, state.write_weights], dim=1)
            w = _content_weights(memory, torch.tanh(key), beta)
            w = _interpolate(w, w_prev, torch.sigmoid(gate[..., 0]))
            w = _circular_shift(w, torch.softmax(shift, dim=-1))
            w = _sharpen(w, gamma + 1.0)
            read_weights, write_weights = w.split([self.num_read_heads, self.num_write_heads], dim=1)

            reads = _memory_read(memory, read_weights)
            memory = _memory_write(
                memory,
                write_weights,
                rearrange(torch.sigmoid(erase), "b (h w) -> b h w", h=self.num_write_heads),
                rearrange(torch.tanh(add), "b (h w) -> b h w", h=self.num_write_heads),
            )
        return out, NTMState(controller, memory, reads, read_weights, write_weights)


@register_model
class NTM(MemorySequence):
    r"""A Neural Turing Machine over whole sequences: `NTMCell` unrolled in time.

    Graves, Wayne & Danihelka (2014), §3 (see `NTMCell` for the equations of one
    step and the head parameterisation; docs page "Neural Turing Machine" for the whole
    addressing pipeline). Inputs and outputs follow `torch.nn.LSTM`: ``(T, B, ·)``,
    or ``(B, T, ·)`` with ``batch_first=True``; the state is an `NTMState`.

    Args:
        input_size: input channels.
        output_size: output channels (logits).
        controller_size: hidden units of the controller.
        memory_size: memory slots (N in the paper).
        word_size: size of each memory word (M in the paper; W here).
        num_read_heads: read heads (R).
        num_write_heads: write heads (Hw), applied in order.
        shift_range: largest shift offset S (offsets $-S..S$).
        batch_first: inputs and logits are (B, T, ·) instead of (T, B, ·).
        controller: ``"lstm"`` or ``"feedforward"``.
        memory_init: ``"constant"``, ``"learned"`` or ``"random"`` (see `NTMCell`).
        weighting_init: ``"first_slot"`` or ``"random"`` (see `NTMCell`).

    Shapes:
        x: (T, B, input_size) -> logits (T, B, output_size) (batch first: (B, T, ·)).

    Examples:
        >>> model = NTM(9, 8, controller_size=32, memory_size=16, word_size=8)
        >>> logits, state = model(torch.zeros(5, 2, 9))
        >>> logits.shape, state.memory.shape
        (torch.Size([5, 2, 8]), torch.Size([2, 16, 8]))
        >>> more, state = model(torch.zeros(3, 2, 9), state)  # continue the sequence
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        controller_size: int = 100,
        memory_size: int = 128,
        word_size: int = 20,
        num_read_heads: int = 1,
        num_write_heads: int = 1,
        shift_range: int = 1,
        batch_first: bool = False,
        controller: str = "lstm",
        memory_init: str = "constant",
        weighting_init: str = "first_slot",
    ):
        super().__init__()
        self.cell = NTMCell(
            input_size,
            output_size,
            controller_size=controller_size,
            memory_size=memory_size,
            word_size=word_size,
            num_read_heads=num_read_heads,
            num_write_heads=num_write_heads,
            shift_range=shift_range,
            controller=controller,
            memory_init=memory_init,
            weighting_init=weighting_init,
        )
        self.batch_first = bool(batch_first)
        self.input_size = input_size
        self.output_size = output_size

    def forward(self, x: Tensor, state: NTMState | None = None) -> tuple[Tensor, NTMState]:
        """Run the NTM over a sequence.

        Args:
            x: the inputs, (T, B, input_size) (or (B, T, input_size) with ``batch_first``).
            state: the state to start from; ``None`` means `initial_state`. A state
                returned by an earlier call continues that sequence.

        Returns:
            ``(logits, state)``: logits (T, B, output_size) (or batch first) and the
            `NTMState` after the last step.
        """
        logits, state, _ = self._unroll(x, state, keep_states=False)
        return logits, state

    def trace(self, x: Tensor, state: NTMState | None = None) -> tuple[Tensor, NTMState]:
        """Like `forward`, but return the state of every step, stacked in time.

        Meant for looking at (and plotting) where the heads attended over a sequence.

        Returns:
            ``(logits, states)``: ``states`` is an `NTMState` whose tensors have a
            leading time dimension: memory (T, B, N, W), read_weights (T, B, R, N), ...
            (the controller entry likewise, or ``None``). Always time first, whatever
            ``batch_first`` says.

        Examples:
            >>> model = NTM(9, 8, controller_size=16, memory_size=8, word_size=4)
            >>> _, states = model.trace(torch.zeros(5, 2, 9))
            >>> states.write_weights.shape
            torch.Size([5, 2, 1, 8])
        """
        logits, _, states = self._unroll(x, state, keep_states=True)
        return logits, stack_states(states, f"{type(self).__name__}.trace")