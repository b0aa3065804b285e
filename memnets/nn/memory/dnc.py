r"""The Differentiable Neural Computer: an LSTM controller with dynamically allocated memory.

Graves et al. (2016), "Hybrid computing using a neural network with dynamic external
memory", Nature 538, Methods. The successor of the Neural Turing Machine (`memnets.NTM`):
content lookup as the NTM's, plus a write head that allocates free slots from a usage
vector and read heads that follow the temporal order of writes through a link matrix,
instead of the NTM's circular shifts.

The maths lives in `memnets.functional`: `content_weights`, `memory_read` and
`memory_write` (shared with the NTM) and the DNC's own functions (`usage_update`,
`allocation_weights`, `write_weighting`, `link_update`, `precedence_update`,
`directional_weights`, `read_weighting`); the controller is `memnets.LSTMCell`. The
modules here own the parameters and the state.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from memnets._checks import check_dtype, check_int, check_positive_int, check_shapes
from memnets.functional.addressing import _content_weights
from memnets.functional.dnc import (
    _allocation_weights,
    _directional_weights,
    _link_update,
    _precedence_update,
    _read_weighting,
    _sparse_directional_weights,
    _sparse_link_update,
    _usage_update,
    _write_weighting,
)
from memnets.functional.memory import _memory_read, _memory_write
from memnets.nn.memory.ntm import _autocast_off
from memnets.nn.memory._unroll import MemoryCell, MemorySequence, stack_states
from memnets.nn.recurrent import LSTMCell
from memnets.nn.registry import register_model

__all__ = ["DNCState", "DNCInterface", "DNCCell", "DNC", "READ_MODES"]

#: The read modes, in the order of the last axis of `DNCInterface.read_modes`
#: (the paper's $\pi[1], \pi[2], \pi[3]$).
READ_MODES = ("backward", "content", "forward")


class DNCState(NamedTuple):
    r"""The recurrent state of a DNC between two steps (Graves et al. 2016, Methods).

    Attributes:
        controller: the LSTM controller's ``(h, c)``, each (B, controller_size).
        memory: the memory matrix $M_t$, (B, N, W).
        read_vectors: what each read head read at this step, $r_t$, (B, R, W).
        usage: the usage $u_t$ of each slot, (B, N).
        link: the temporal link matrix $L_t$, (B, N, N); $L_t[i, j]$ is the degree to
            which slot $i$ was written right after slot $j$. With ``link_sparsity=K``:
            the $K$ stored entries of each row, (B, N, K).
        precedence: the precedence weighting $p_t$ (where the last write went), (B, N).
        read_weights: each read head's weighting $w^r_t$, (B, R, N).
        write_weights: the write head's weighting $w^w_t$, (B, N).
        link_indices: with ``link_sparsity=K``, the columns of the entries in ``link``,
            (B, N, K) long; otherwise an empty (B, N, 0) long tensor.

    With R read heads. All are what a caller plots to see how memory was managed; the
    weightings, usage, link matrix and precedence are also the next step's inputs.
    """

    controller: tuple[Tensor, Tensor]
    memory: Tensor
    read_vectors: Tensor
    usage: Tensor
    link: Tensor
    precedence: Tensor
    read_weights: Tensor
    write_weights: Tensor
    link_indices: Tensor


class DNCInterface(NamedTuple):
    r"""The interface vector $\xi_t$, split and activated (Graves et al. 2016, Methods).

    Attributes:
        read_keys: $k^{r,i}_t$, (B, R, W), unconstrained.
        read_strengths: $\beta^{r,i}_t = \mathrm{oneplus}(\cdot) \ge 1$, (B, R).
        write_key: $k^w_t$, (B, 1, W), unconstrained.
        write_strength: $\beta^w_t \ge 1$, (B, 1).
        erase: the erase vector $e_t = \sigma(\cdot) \in [0, 1]^W$, (B, 1, W).
        write_vector: $v_t$, (B, 1, W), unconstrained.
        free_gates: $f^i_t = \sigma(\cdot)$, (B, R), or ``None`` without allocation.
        allocation_gate: $g^a_t = \sigma(\cdot)$, (B,), or ``None`` without allocation.
        write_gate: $g^w_t = \sigma(\cdot)$, (B,).
        read_modes: $\pi^i_t = \mathrm{softmax}(\cdot)$ over `READ_MODES`, (B, R, 3),
            or ``None`` without temporal links.
    """

    read_keys: Tensor
    read_strengths: Tensor
    write_key: Tensor
    write_strength: Tensor
    erase: Tensor
    write_vector: Tensor
    free_gates: Tensor | None
    allocation_gate: Tensor | None
    write_gate: Tensor
    read_modes: Tensor | None


def _oneplus(x: Tensor) -> Tensor:
    """$\\mathrm{oneplus}(x) = 1 + \\log(1 + e^x)$, the paper's activation of the strengths."""
    return 1.0 + F.softplus(x)


def _check_flag(where: str, **flags: Any) -> None:
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{where}: {name} should be of type bool, got: {type(value).__name__}")


@register_model
class DNCCell(MemoryCell):
    r"""One step of a Differentiable Neural Computer: ``(x_t, state) -> (logits_t, state)``.

    Graves et al. (2016), Nature, Methods; one write head and $R$ read heads. The
    controller (`memnets.LSTMCell`) reads the input and the previous read vectors,
    $h_t = \mathrm{LSTM}([x_t; r^1_{t-1}; \dots; r^R_{t-1}])$, and one linear layer emits the
    interface vector $\xi_t = W_\xi h_t$, split (einops) and activated as in the paper
    (`DNCInterface`: oneplus strengths, sigmoid gates and erase vector, softmax read
    modes, unconstrained keys and write vector). Then, in the paper's order:

    $$u_t = (u_{t-1} + w^w_{t-1} - u_{t-1} \circ w^w_{t-1}) \circ
      \textstyle\prod_i (\mathbf 1 - f^i_t w^{r,i}_{t-1}), \qquad
      a_t = \mathrm{alloc}(u_t),$$

    $$w^w_t = g^w_t\big[g^a_t a_t + (1 - g^a_t)\, \mathcal C(M_{t-1}, k^w_t, \beta^w_t)\big],
      \qquad M_t = M_{t-1} \circ (E - w^w_t e_t^\top) + w^w_t v_t^\top,$$

    $$L_t[i, j] = (1 - w^w_t[i] - w^w_t[j]) L_{t-1}[i, j] + w^w_t[i]\, p_{t-1}[j],
      \qquad p_t = \big(1 - \textstyle\sum_i w^w_t[i]\big) p_{t-1} + w^w_t,$$

    $$f^i_t = L_t w^{r,i}_{t-1},\quad b^i_t = L_t^\top w^{r,i}_{t-1},\quad
      w^{r,i}_t = \pi^i_t[1] b^i_t + \pi^i_t[2]\, \mathcal C(M_t, k^{r,i}_t, \beta^{r,i}_t)
      + \pi^i_t[3] f^i_t,$$

    $$r^i_t = M_t^\top w^{r,i}_t, \qquad y_t = W_y [h_t; r^1_t; \dots; r^R_t] + b_y,$$

    with $\mathcal C$ the content weighting (`memnets.functional.content_weights`) and
    $L_t$'s diagonal kept at zero. The read-out $W_y[h_t; r_t]$ is the paper's
    $W_y h_t + W_r r_t$ as one layer. Unlike the NTM, the reads see the memory *after*
    this step's write. The state starts at zero (memory, usage, links, weightings, read
    vectors and the controller), as in the paper.

    **Switching parts off.** ``allocation=False`` drops the free gates and the
    allocation gate from the interface: the write weighting is the content weighting
    alone, $w^w_t = g^w_t c^w_t$, and the usage is neither updated nor used (it stays 0).
    ``temporal_links=False`` drops the read modes: the link matrix and precedence are
    neither updated nor used (they stay 0) and $w^{r,i}_t = c^{r,i}_t$. With both off
    the DNC is a content-only memory: write where the write key points, read where the
    read keys point. ``link_sparsity=K`` keeps the link matrix row-sparse, $K$ entries per
    row (Rae et al. 2016; `memnets.functional.sparse_link_update`): $O(NK)$ memory
    instead of $O(N^2)$, exact for $K = N$.

    **Cost of the link matrix.** $L_t$ holds $N^2$ numbers per sequence, and every step
    makes a new one: training keeps two $N \times N$ tensors per sample and step for the
    backward pass, about $8 N^2$ bytes in float32 (measured: 0.6 MiB at N = 256,
    8.2 MiB at N = 1024), besides $O(N^2)$ work per step. It is practical up to a few
    hundred slots (N = 256 trains at 70 % of the speed of N = 64 on a CPU; N = 1024 at
    5 %); beyond that, use ``link_sparsity`` (0.6 MiB per sample and step at N = 1024,
    K = 8) or switch the links off (``temporal_links=False``). The docs page gives the
    measurements.

    Args:
        input_size: input channels.
        output_size: output channels (logits $y_t$).
        controller_size: hidden units of the LSTM controller.
        memory_size: memory slots (N in the paper).
        word_size: size of each memory word (W in the paper).
        num_read_heads: read heads (R in the paper).
        allocation: use dynamic memory allocation (usage, free gates, allocation gate).
        temporal_links: use the temporal link matrix and the read modes.
        link_sparsity: ``None`` (the full $N \times N$ link matrix) or $K$, the entries
            kept per row of a row-sparse link matrix ($1 \le K \le N$).

    Shapes:
        x_t: (B, input_size) -> logits_t (B, output_size); the state as in `DNCState`.

    Examples:
        >>> cell = DNCCell(9, 8, controller_size=32, memory_size=16, word_size=8, num_read_heads=2)
        >>> logits, state = cell(torch.zeros(4, 9))
        >>> logits.shape, state.link.shape, state.read_weights.shape
        (torch.Size([4, 8]), torch.Size([4, 16, 16]), torch.Size([4, 2, 16]))
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        controller_size: int = 100,
        memory_size: int = 64,
        word_size: int = 20,
        num_read_heads: int = 4,
        allocation: bool = True,
        temporal_links: bool = True,
        link_sparsity: int | None = None,
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
        )
        _check_flag(where, allocation=allocation, temporal_links=temporal_links)
        if link_sparsity is not None:
            check_positive_int(where, link_sparsity=link_sparsity)
            if link_sparsity > memory_size:
                raise ValueError(
                    f"{where}: expected link_sparsity at most memory_size={memory_size}, got {link_sparsity}"
                )
        self.input_size = input_size
        self.output_size = output_size
        self.controller_size = controller_size
        self.memory_size = memory_size
        self.word_size = word_size
        self.num_read_heads = num_read_heads
        self.allocation = allocation
        self.temporal_links = temporal_links
        self.link_sparsity = link_sparsity

        R, W = num_read_heads, word_size
        # The interface vector's parts, in the paper's order; absent parts are left out.
        sizes = {
            "read_keys": R * W,
            "read_strengths": R,
            "write_key": W,
            "write_strength": 1,
            "erase": W,
            "write_vector": W,
            "free_gates": R if allocation else 0,
            "allocation_gate": 1 if allocation else 0,
            "write_gate": 1,
            "read_modes": 3 * R if temporal_links else 0,
        }
        self._interface_names = [name for name, size in sizes.items() if size > 0]
        self._interface_sizes = [sizes[name] for name in self._interface_names]
        self.interface_size = sum(self._interface_sizes)

        self.controller = LSTMCell(input_size + R * W, controller_size)
        self.interface = nn.Linear(controller_size, self.interface_size)
        self.output = nn.Linear(controller_size + R * W, output_size)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (torch's defaults of each layer)."""
        self.controller.reset_parameters()
        self.interface.reset_parameters()
        self.output.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, output_size={self.output_size}, "
            f"controller_size={self.controller_size}, memory_size={self.memory_size}, "
            f"word_size={self.word_size}, num_read_heads={self.num_read_heads}, "
            f"allocation={self.allocation}, temporal_links={self.temporal_links}, "
            f"link_sparsity={self.link_sparsity}"
        )

    # ------------------------------------------------------------------ state

    def initial_state(self, batch_size: int) -> DNCState:
        """The state before the first step: everything zero (Graves et al. 2016).

        Args:
            batch_size: B (0 is allowed).

        Returns:
            A `DNCState` on the module's device and dtype. The zeros are broadcast views
            (the (B, N, N) link matrix costs no memory until the first write); nothing
            writes in place.
        """
        check_int(type(self).__name__ + ".initial_state", minimum=0, batch_size=batch_size)
        B, N, W, R = batch_size, self.memory_size, self.word_size, self.num_read_heads
        zero = self.interface.weight.new_zeros(())
        hidden = zero.expand(B, self.controller_size)
        K = N if self.link_sparsity is None else self.link_sparsity
        index_columns = 0 if self.link_sparsity is None else K
        return DNCState(
            controller=(hidden, hidden),
            memory=zero.expand(B, N, W),
            read_vectors=zero.expand(B, R, W),
            usage=zero.expand(B, N),
            link=zero.expand(B, N, K),
            precedence=zero.expand(B, N),
            read_weights=zero.expand(B, R, N),
            write_weights=zero.expand(B, N),
            link_indices=torch.zeros((), dtype=torch.long, device=zero.device).expand(B, N, index_columns),
        )

    def check_state(self, state: DNCState, batch_size: int, where: str | None = None) -> DNCState:
        """Validate a state's shapes and dtype; raise ``ValueError`` naming expected and received."""
        where = where or type(self).__name__
        if not isinstance(state, tuple) or len(state) != len(DNCState._fields):
            raise ValueError(f"{where}: expected state to be a DNCState, got {type(state).__name__}")
        state = DNCState(*state)
        if not (isinstance(state.controller, tuple) and len(state.controller) == 2):
            raise ValueError(
                f"{where}: expected the controller state (h, c) of the LSTM controller, got "
                f"{type(state.controller).__name__}"
            )
        h, c = state.controller
        check_shapes(
            where,
            h=(h, "B C"),
            c=(c, "B C"),
            memory=(state.memory, "B N W"),
            read_vectors=(state.read_vectors, "B R W"),
            usage=(state.usage, "B N"),
            link=(state.link, "B N K"),
            link_indices=(state.link_indices, "B N J"),
            precedence=(state.precedence, "B N"),
            read_weights=(state.read_weights, "B R N"),
            write_weights=(state.write_weights, "B N"),
            B=batch_size,
            C=self.controller_size,
            N=self.memory_size,
            W=self.word_size,
            R=self.num_read_heads,
            K=self.memory_size if self.link_sparsity is None else self.link_sparsity,
            J=0 if self.link_sparsity is None else self.link_sparsity,
        )
        dtype = self.interface.weight.dtype
        check_dtype(where, dtype, h=h, c=c, **{name: getattr(state, name) for name in DNCState._fields[1:-1]})
        if state.link_indices.dtype != torch.long:
            raise ValueError(f"{where}: expected link_indices of dtype torch.int64, got {state.link_indices.dtype}")
        return state

    # ------------------------------------------------------------------ step

    def interface_vector(self, hidden: Tensor) -> DNCInterface:
        r"""Split and activate the interface vector $\xi_t = W_\xi h_t + b_\xi$ (unchecked).

        Args:
            hidden: the controller output $h_t$, (B, controller_size).

        Returns:
            The activated parts as a `DNCInterface`.
        """
        return self._activate(self.interface(hidden))

    def _activate(self, xi: Tensor) -> DNCInterface:
        """Split the raw interface vector (B, interface_size) and apply the paper's activations."""
        parts = dict(zip(self._interface_names, xi.split(self._interface_sizes, dim=-1)))
        R = self.num_read_heads
        sigmoid = torch.sigmoid
        return DNCInterface(
            read_keys=rearrange(parts["read_keys"], "b (r w) -> b r w", r=R),
            read_strengths=_oneplus(parts["read_strengths"]),
            write_key=rearrange(parts["write_key"], "b w -> b 1 w"),
            write_strength=_oneplus(parts["write_strength"]),
            erase=rearrange(sigmoid(parts["erase"]), "b w -> b 1 w"),
            write_vector=rearrange(parts["write_vector"], "b w -> b 1 w"),
            free_gates=sigmoid(parts["free_gates"]) if self.allocation else None,
            allocation_gate=rearrange(sigmoid(parts["allocation_gate"]), "b 1 -> b") if self.allocation else None,
            write_gate=rearrange(sigmoid(parts["write_gate"]), "b 1 -> b"),
            read_modes=torch.softmax(rearrange(parts["read_modes"], "b (r m) -> b r m", r=R, m=3), dim=-1)
            if self.temporal_links
            else None,
        )

    def _step(self, x: Tensor, state: DNCState) -> tuple[Tensor, DNCState]:
        """One unchecked step; returns the controller output $h_t$ and the new state."""
        controller_in = torch.cat([x, rearrange(state.read_vectors, "b r w -> b (r w)")], dim=-1)
        hidden, cell = self.controller(controller_in, state.controller)
        # Under autocast (--amp bf16) the controller and the read-out run in low precision, but
        # the memory management stays in the dtype of the memory (the parameters'), as in the NTM.
        raw = self.interface(hidden)
        with _autocast_off(x.device.type):
            return self._memory_step(hidden, cell, raw.to(state.memory.dtype), state)

    def _memory_step(self, hidden: Tensor, cell: Tensor, raw: Tensor, state: DNCState) -> tuple[Tensor, DNCState]:
        """The memory part of one step, from the raw interface vector."""
        xi = self._activate(raw)
        write_content = rearrange(_content_weights(state.memory, xi.write_key, xi.write_strength), "b 1 n -> b n")
        if self.allocation:
            usage = _usage_update(state.usage, state.write_weights, state.read_weights, xi.free_gates)
            write_weights = _write_weighting(
                _allocation_weights(usage), write_content, xi.allocation_gate, xi.write_gate
            )
        else:
            usage = state.usage
            write_weights = xi.write_gate.unsqueeze(-1) * write_content
        memory = _memory_write(state.memory, rearrange(write_weights, "b n -> b 1 n"), xi.erase, xi.write_vector)

        read_content = _content_weights(memory, xi.read_keys, xi.read_strengths)
        link_indices = state.link_indices
        if self.temporal_links and self.link_sparsity is not None:
            link, link_indices = _sparse_link_update(
                state.link, state.link_indices, state.precedence, write_weights, self.link_sparsity
            )
            precedence = _precedence_update(state.precedence, write_weights)
            forward, backward = _sparse_directional_weights(link, link_indices, state.read_weights)
            read_weights = _read_weighting(backward, read_content, forward, xi.read_modes)
        elif self.temporal_links:
            link = _link_update(state.link, state.precedence, write_weights)
            precedence = _precedence_update(state.precedence, write_weights)
            forward, backward = _directional_weights(link, state.read_weights)
            read_weights = _read_weighting(backward, read_content, forward, xi.read_modes)
        else:
            link, precedence = state.link, state.precedence
            read_weights = read_content
        reads = _memory_read(memory, read_weights)
        return hidden, DNCState(
            (hidden, cell), memory, reads, usage, link, precedence, read_weights, write_weights, link_indices
        )


@register_model
class DNC(MemorySequence):
    r"""A Differentiable Neural Computer over whole sequences: `DNCCell` unrolled in time.

    Graves et al. (2016), "Hybrid computing using a neural network with dynamic external
    memory", Nature, Methods (see `DNCCell` for the equations of one step, the options
    and the cost of the $N^2$ link matrix; docs page "Differentiable Neural Computer").
    Inputs and outputs follow `torch.nn.LSTM`: ``(T, B, ·)``, or ``(B, T, ·)`` with
    ``batch_first=True``; the state is a `DNCState`.

    Args:
        input_size: input channels.
        output_size: output channels (logits).
        controller_size: hidden units of the LSTM controller.
        memory_size: memory slots (N in the paper).
        word_size: size of each memory word (W in the paper).
        num_read_heads: read heads (R in the paper).
        batch_first: inputs and logits are (B, T, ·) instead of (T, B, ·).
        allocation: use dynamic memory allocation (see `DNCCell`).
        temporal_links: use the temporal link matrix and read modes (see `DNCCell`).
        link_sparsity: ``None`` (full link matrix) or $K$ entries per row (see `DNCCell`).

    Shapes:
        x: (T, B, input_size) -> logits (T, B, output_size) (batch first: (B, T, ·)).

    Examples:
        >>> model = DNC(9, 8, controller_size=32, memory_size=16, word_size=8, num_read_heads=2)
        >>> logits, state = model(torch.zeros(5, 2, 9))
        >>> logits.shape, state.usage.shape
        (torch.Size([5, 2, 8]), torch.Size([2, 16]))
        >>> more, state = model(torch.zeros(3, 2, 9), state)  # continue the sequence
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        controller_size: int = 100,
        memory_size: int = 64,
        word_size: int = 20,
        num_read_heads: int = 4,
        batch_first: bool = False,
        allocation: bool = True,
        temporal_links: bool = True,
        link_sparsity: int | None = None,
    ):
        super().__init__()
        _check_flag(type(self).__name__, batch_first=batch_first)
        self.cell = DNCCell(
            input_size,
            output_size,
            controller_size=controller_size,
            memory_size=memory_size,
            word_size=word_size,
            num_read_heads=num_read_heads,
            allocation=allocation,
            temporal_links=temporal_links,
            link_sparsity=link_sparsity,
        )
        self.batch_first = batch_first
        self.input_size = input_size
        self.output_size = output_size

    def forward(self, x: Tensor, state: DNCState | None = None) -> tuple[Tensor, DNCState]:
        """Run the DNC over a sequence.

        Args:
            x: the inputs, (T, B, input_size) (or (B, T, input_size) with ``batch_first``),
                in the dtype of the parameters.
            state: the state to start from; ``None`` means `initial_state`. A state
                returned by an earlier call continues that sequence.

        Returns:
            ``(logits, state)``: logits (T, B, output_size) (or batch first) and the
            `DNCState` after the last step.
        """
        logits, state, _ = self._unroll(x, state, keep_states=False)
        return logits, state

    def trace(self, x: Tensor, state: DNCState | None = None) -> tuple[Tensor, DNCState]:
        """Like `forward`, but return the state of every step, stacked in time.

        Meant for looking at (and plotting) usage, allocation and links over a sequence.

        Returns:
            ``(logits, states)``: ``states`` is a `DNCState` whose tensors have a leading
            time dimension: memory (T, B, N, W), usage (T, B, N), link (T, B, N, N), ...
            (the controller's ``(h, c)`` likewise). Always time first, whatever
            ``batch_first`` says.

        Examples:
            >>> model = DNC(9, 8, controller_size=16, memory_size=8, word_size=4, num_read_heads=1)
            >>> _, states = model.trace(torch.zeros(5, 2, 9))
            >>> states.link.shape
            torch.Size([5, 2, 8, 8])
        """
        logits, _, states = self._unroll(x, state, keep_states=True)
        return logits, stack_states(states, f"{type(self).__name__}.trace")