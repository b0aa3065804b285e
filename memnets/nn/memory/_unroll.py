"""The time loop shared by the memory networks (`NTM`, `DNC`): one cell, unrolled.

A memory cell offers ``initial_state(B)``, ``check_state(state, B, where)``,
``_step(x_t, state) -> (hidden, state)`` (unchecked; what ``compile_step`` compiles) and
``_readout(hidden, reads)``, which works on (B, ·) and on (T, B, ·) alike, so the read-out
runs once over the whole sequence after the loop.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from einops import rearrange
from torch import Tensor, nn

from memnets._checks import check_dtype, check_shapes


def unroll(
    cell: nn.Module, x: Tensor, state: Any, *, batch_first: bool, dtype: torch.dtype, where: str, keep_states: bool
) -> tuple[Tensor, Any, list[Any]]:
    """Run ``cell`` over the sequence ``x``; return ``(logits, last state, states)``.

    ``states`` holds the state after every step when ``keep_states``, else it is empty.

    Shapes:
        x: (T, B, C) (or (B, T, C) with ``batch_first``) -> logits (T, B, O) (or batch first).
    """
    dims = check_shapes(where, x=(x, "B T C") if batch_first else (x, "T B C"), C=cell.input_size)
    check_dtype(where, dtype, x=x)
    if batch_first:
        x = rearrange(x, "b t c -> t b c")
    batch = dims["B"]
    state = cell.initial_state(batch) if state is None else cell.check_state(state, batch, where)
    hiddens, reads, states = [], [], []
    for x_t in x.unbind(0):
        hidden, state = cell._step(x_t, state)
        hiddens.append(hidden)
        reads.append(state.read_vectors)
        if keep_states:
            states.append(state)
    if hiddens:
        logits = cell._readout(torch.stack(hiddens), torch.stack(reads))
    else:
        logits = x.new_zeros(0, batch, cell.output_size)
    if batch_first:
        logits = rearrange(logits, "t b c -> b t c")
    return logits, state, states


def stack_states(states: list[NamedTuple], where: str) -> NamedTuple:
    """The states of every step as one state of the same type, each tensor stacked in time.

    Fields that are tuples of tensors (an LSTM controller's ``(h, c)``) are stacked entry by
    entry; ``None`` fields stay ``None``.

    Raises:
        ValueError: for an empty list (a sequence of no steps).
    """
    if not states:
        raise ValueError(f"{where}: expected at least one time step, got T=0")

    def stack(parts: tuple[Any, ...]) -> Any:
        if parts[0] is None:
            return None
        if isinstance(parts[0], tuple):
            return tuple(torch.stack(entry) for entry in zip(*parts))
        return torch.stack(parts)

    return type(states[0])(*(stack(parts) for parts in zip(*states)))


class MemorySequence(nn.Module):
    """Base of the whole-sequence memory networks: a ``cell`` unrolled in time.

    A subclass sets ``self.cell``, ``self.batch_first``, ``self.input_size`` and
    ``self.output_size``; the cell's first parameter sets the dtype inputs must have.
    """

    cell: nn.Module
    batch_first: bool

    def extra_repr(self) -> str:
        return f"batch_first={self.batch_first}"

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (the cell's)."""
        self.cell.reset_parameters()

    def initial_state(self, batch_size: int) -> Any:
        """The state before the first step (the cell's ``initial_state``)."""
        return self.cell.initial_state(batch_size)

    def _unroll(self, x: Tensor, state: Any, keep_states: bool) -> tuple[Tensor, Any, list[Any]]:
        dtype = next(self.cell.parameters()).dtype
        return unroll(self.cell, x, state, batch_first=self.batch_first, dtype=dtype, where=type(self).__name__,
                      keep_states=keep_states)


class MemoryCell(nn.Module):
    """Base of the one-step memory cells (`NTMCell`, `DNCCell`).

    A subclass defines ``_step(x_t, state) -> (hidden, state)`` (unchecked),
    ``initial_state`` and ``check_state``, an ``output`` linear layer on
    ``[hidden, read vectors]``, ``input_size`` and ``_dtype()`` (its parameters' dtype).
    """

    output: nn.Linear
    input_size: int

    def compile_step(self, **options: Any) -> None:
        """Compile one step with ``torch.compile``, in place; the time loop around it stays eager.

        `forward` and the sequence model's time loop both call the compiled step: one small
        graph, reused at every time step and sequence length, where compiling the unrolled
        sequence would build one large graph per length. Like `torch.nn.Module.compile`, it
        leaves the parameters and ``state_dict`` keys as they are. The training loop's
        ``--compile`` calls it through `memnets.training.compilation.compile_steps`.

        Args:
            **options: passed to ``torch.compile`` (``mode``, ``backend``, ``dynamic``, ...).
        """
        self._step = torch.compile(self._step, **options)

    def _readout(self, hidden: Tensor, reads: Tensor) -> Tensor:
        """Logits from controller outputs and read vectors; works for (B, ·) and (T, B, ·)."""
        return self.output(torch.cat([hidden, rearrange(reads, "... r w -> ... (r w)")], dim=-1))

    def forward(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """One step.

        Args:
            x: the input $x_t$, in the dtype of the parameters.
            state: the previous state; ``None`` means `initial_state`.

        Returns:
            ``(logits, state)``: the output logits $y_t$ and the new state.

        Shapes:
            x: (B, input_size) -> logits (B, output_size).
        """
        where = type(self).__name__
        dims = check_shapes(where, x=(x, "B C"), C=self.input_size)
        check_dtype(where, self.output.weight.dtype, x=x)
        state = self.initial_state(dims["B"]) if state is None else self.check_state(state, dims["B"])
        hidden, state = self._step(x, state)
        return self._readout(hidden, state.read_vectors), state
