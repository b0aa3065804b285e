r"""Truncated back-propagation through time, TBPTT($k_1$, $k_2$).

Williams & Peng (1990), "An efficient gradient-based algorithm for on-line training of
recurrent network trajectories"; the $k_1$/$k_2$ notation of Sutskever (2013), *Training
recurrent neural networks*, §2.8.6: run the network forward one step at a time and, every
$k_1$ steps, back-propagate the losses of those $k_1$ steps through the last $k_2 \ge k_1$
steps only. The state is carried across windows and detached where the window starts, so
memory is $O(k_2)$ however long the sequence.

* $k_1 = k_2 = k$: the common "chunked" TBPTT (state carried, detached every $k$ steps);
* $k_1 = k_2 = T$: full BPTT;
* $k_2 - k_1 \ge T - 1$: every window reaches back to the start, so the summed
  gradients of the windows equal full BPTT's (with a summed loss).

Windows that overlap ($k_2 > k_1$) recompute the overlapping steps from the detached
state saved at the window's start, so the forward cost is about $T k_2 / k_1$ steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from memnets._checks import check_shapes

__all__ = ["detach_state", "TBPTTResult", "truncated_bptt"]


def detach_state(state: Any) -> Any:
    """Detach a recurrent state: a tensor, ``None``, or a (named) tuple / list / dict of them.

    Examples:
        >>> h, c = detach_state((torch.ones(2, requires_grad=True), torch.zeros(2)))
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # NamedTuple
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    raise ValueError(f"detach_state: expected tensors, tuples, lists or dicts, got {type(state).__name__}")


@dataclass
class TBPTTResult:
    """What `truncated_bptt` returns.

    Attributes:
        loss: the sum of the windows' losses (a float).
        state: the final state, detached (carry it into the next call).
        updates: how many windows were back-propagated (and ``update`` calls made).
        window_losses: the loss of each window.
    """

    loss: float
    state: Any
    updates: int
    window_losses: list[float]


def _update_times(T: int, k1: int) -> list[int]:
    times = list(range(k1, T, k1))
    return times + [T] if T > 0 else []


def truncated_bptt(
    model: Callable[[Tensor, Any], tuple[Tensor, Any]],
    inputs: Tensor,
    targets: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    k1: int,
    k2: int | None = None,
    state: Any = None,
    update: Callable[[], None] | None = None,
) -> TBPTTResult:
    r"""Back-propagate through a long sequence in windows: TBPTT($k_1$, $k_2$).

    For update times $t_j = j k_1$ (and $T$; $t_0 = 0$), the window $j$ back-propagates

    $$\mathcal L_j = \ell\bigl(y_{[t_{j-1}, t_j)},\ y^*_{[t_{j-1}, t_j)}\bigr)$$

    through its own loss steps and the $k_2 - k_1$ steps before them, the steps
    $[\max(0, t_{j-1} - (k_2 - k_1)), t_j)$ — the last $k_2$ steps of a full window, so
    that $k_1 = k_2$ cuts the sequence into chunks of $k_1$ steps. The state at the
    window's start is detached. Gradients accumulate into ``.grad``; when ``update`` is given it is called
    after every window (e.g. clip, ``optimizer.step()``, ``optimizer.zero_grad()``), which
    is on-line TBPTT. Without ``update`` the accumulated gradient with $k_1 = k_2 = T$ is
    exactly full BPTT's.

    Args:
        model: ``model(x, state) -> (outputs, state)`` with torch's sequence convention
            (``state=None`` at the start); x (t, B, ...) -> outputs (t, B, ...).
        inputs: the whole input sequence.
        targets: the whole target sequence, aligned with the outputs.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` for one window's loss steps.
        k1: steps between updates ($k_1 \ge 1$).
        k2: steps back-propagated through ($k_2 \ge k_1$; default $k_1$).
        state: the initial state (carried from a previous call).
        update: called after each window's ``backward``.

    Returns:
        A `TBPTTResult` whose ``state`` continues the sequence.

    Shapes:
        inputs: (T, B, ...); targets: (T, B, ...).

    Examples:
        >>> rnn, head = torch.nn.GRU(1, 8), torch.nn.Linear(8, 1)
        >>> def model(x, h):
        ...     out, h = rnn(x, h)
        ...     return head(out), h
        >>> x = torch.randn(100, 4, 1)
        >>> result = truncated_bptt(model, x[:-1], x[1:], torch.nn.functional.mse_loss, k1=20)
    """
    k2 = k1 if k2 is None else k2
    for name, value in (("k1", k1), ("k2", k2)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"truncated_bptt: expected {name} to be a positive integer, got {value!r}")
    if k2 < k1:
        raise ValueError(f"truncated_bptt: expected k2 >= k1, got k1={k1}, k2={k2}")
    if inputs.dim() < 2 or targets.dim() < 2:
        raise ValueError(
            f"truncated_bptt: expected inputs and targets of shape (T, B, ...), got {tuple(inputs.shape)} "
            f"and {tuple(targets.shape)}"
        )
    check_shapes("truncated_bptt", inputs=(inputs[..., None].flatten(2), "T B C"),
                 targets=(targets[..., None].flatten(2), "T B D"))
    T = inputs.shape[0]
    times = _update_times(T, k1)
    starts = [max(0, previous - (k2 - k1)) for previous in [0] + times[:-1]]
    state = detach_state(state)
    saved = state  # detached state at starts[j]
    total, losses = 0.0, []
    for j, t in enumerate(times):
        s = starts[j]
        nxt = starts[j + 1] if j + 1 < len(times) else t
        previous = times[j - 1] if j > 0 else 0
        outputs, current, next_saved = [], saved, None
        for a, b in ((s, nxt), (nxt, t)):
            if b > a:
                out, current = model(inputs[a:b], current)
                outputs.append(out)
            if b == nxt:
                next_saved = detach_state(current)
        y = torch.cat(outputs, dim=0)
        loss = loss_fn(y[y.shape[0] - (t - previous):], targets[previous:t])
        loss.backward()
        if update is not None:
            update()
        value = float(loss.detach())
        losses.append(value)
        total += value
        saved = next_saved
        state = current
    return TBPTTResult(loss=total, state=detach_state(state), updates=len(times), window_losses=losses)
