r"""Gradient flow through time: Pascanu et al.'s regulariser and a vanishing-gradient diagnostic.

Bengio, Simard & Frasconi (1994) and Hochreiter (1991) showed that the gradient of a loss
at step $T$ with respect to an earlier state, $\partial L_T / \partial h_k =
\partial L_T / \partial h_T \prod_{t=k+1}^{T} \partial h_t / \partial h_{t-1}$, shrinks
or grows exponentially in $T - k$ for an Elman network. `state_gradient_norms`
measures $\lVert \partial L_T / \partial h_k \rVert$ against $k$ for any cell, and
`plot_gradient_norms` draws it (RNN vs LSTM vs GRU).

Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural
networks", §3.3, eq. (10), penalise a change of the back-propagated gradient's norm from
one step to the previous:

$$\Omega = \sum_k \Omega_k = \sum_k \left(
  \frac{\bigl\lVert \frac{\partial L}{\partial h_{k+1}} \frac{\partial h_{k+1}}{\partial h_k} \bigr\rVert}
       {\bigl\lVert \frac{\partial L}{\partial h_{k+1}} \bigr\rVert} - 1 \right)^2 .$$

As in the paper, $\partial L / \partial h_{k+1}$ is held constant when $\Omega$ is
differentiated, and so are the states at which the one-step Jacobians are taken: the
gradient of $\Omega$ flows through the Jacobians' dependence on the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from einops import rearrange
from torch import Tensor, nn

from memnets._checks import check_shapes

__all__ = [
    "unroll_states",
    "state_gradients",
    "gradient_flow_penalty",
    "gradient_flow_regularizer",
    "state_gradient_norms",
    "plot_gradient_norms",
]

#: Steps whose gradient norm is below this are left out of Ω (no gradient reaches them).
_EPSILON = 1e-12
#: Smallest value drawn on the log axis of `plot_gradient_norms`.
_PLOT_FLOOR = 1e-30


def _flat(state: Any) -> Tensor:
    """A cell state (a tensor, or a tuple such as LSTM's (h, c)) as one (B, S) tensor."""
    if isinstance(state, Tensor):
        return state
    return torch.cat(list(state), dim=-1)


def unroll_states(cell: Callable[[Tensor, Any], Any], inputs: Tensor, state: Any = None) -> list[Any]:
    r"""Run a cell over a sequence and keep every state $h_0, h_1, \dots, h_T$.

    Args:
        cell: ``cell(x_t, state) -> state`` (``torch.nn.RNNCell``, ``GRUCell``,
            ``LSTMCell`` and their memnets twins).
        inputs: $x_1, \dots, x_T$.
        state: $h_0$; zeros (``None``) by default — then $h_0$ is ``None`` in the list.

    Returns:
        The T + 1 states, as the cell returns them.

    Shapes:
        inputs: (T, B, I).
    """
    check_shapes("unroll_states", inputs=(inputs, "T B I"))
    states = [state]
    for x_t in inputs:
        state = cell(x_t, state)
        states.append(state)
    return states


def state_gradients(loss: Tensor, states: Sequence[Tensor]) -> list[Tensor]:
    r"""$\partial L / \partial h_t$ for each state in ``states`` (total derivatives, graph kept).

    Args:
        loss: the scalar loss.
        states: tensors on the path to ``loss``.

    Returns:
        One gradient per state (zeros where the loss does not depend on it).
    """
    grads = torch.autograd.grad(loss, list(states), retain_graph=True, allow_unused=True)
    return [torch.zeros_like(s) if g is None else g for s, g in zip(states, grads)]


def gradient_flow_penalty(step: Callable[[Tensor, Tensor], Tensor], inputs: Tensor, states: Tensor,
                          grads: Tensor) -> Tensor:
    r"""Pascanu et al.'s $\Omega$ from the states and the back-propagated gradients.

    The one-step Jacobians $\partial h_t / \partial h_{t-1}$ of all steps are applied in
    one batched call (time folded into the batch): $v_t = g_t\,\partial h_t / \partial
    h_{t-1}$, then $\Omega = \frac{1}{B} \sum_b \sum_t (\lVert v_t \rVert / \lVert g_t
    \rVert - 1)^2$ over the steps with $g_t \ne 0$. Differentiable with respect to the
    parameters of ``step``.

    Args:
        step: ``step(x_t, h_prev) -> h_t`` for a batch of steps (a tensor state).
        inputs: $x_1, \dots, x_T$.
        states: $h_0, \dots, h_T$ (used as constants).
        grads: $g_t = \partial L / \partial h_t$ for t = 1..T (used as constants).

    Returns:
        The scalar $\Omega$.

    Shapes:
        inputs: (T, B, I); states: (T + 1, B, H); grads: (T, B, H).

    Examples:
        >>> cell = torch.nn.RNNCell(2, 3)
        >>> omega = gradient_flow_penalty(cell, torch.zeros(4, 1, 2), torch.zeros(5, 1, 3), torch.ones(4, 1, 3))
    """
    dims = check_shapes("gradient_flow_penalty", inputs=(inputs, "T B I"), grads=(grads, "T B H"))
    check_shapes("gradient_flow_penalty", states=(states, "T1 B H"), T1=dims["T"] + 1, B=dims["B"], H=dims["H"])
    h_prev = rearrange(states[:-1].detach(), "t b h -> (t b) h").requires_grad_(True)
    x = rearrange(inputs, "t b i -> (t b) i")
    g = rearrange(grads.detach(), "t b h -> (t b) h")
    with torch.enable_grad():
        h_new = step(x, h_prev)
        (v,) = torch.autograd.grad(h_new, h_prev, grad_outputs=g, create_graph=True)
    g_norm = g.norm(dim=-1)
    valid = g_norm > _EPSILON
    ratio = v.norm(dim=-1) / g_norm.clamp_min(_EPSILON)
    terms = torch.where(valid, (ratio - 1.0) ** 2, torch.zeros_like(ratio))
    return terms.sum() / dims["B"]


def gradient_flow_regularizer(cell: nn.Module, inputs: Tensor, loss_fn: Callable[[Tensor], Tensor],
                              state: Tensor | None = None) -> tuple[Tensor, Tensor]:
    r"""Run a cell, compute the task loss and Pascanu et al.'s $\Omega$; return both.

    Train on ``loss + lam * omega`` (Pascanu et al. combine it with gradient clipping).

    Args:
        cell: a cell with a tensor state, ``cell(x_t, h) -> h`` (Elman, GRU, leaky).
        inputs: $x_1, \dots, x_T$.
        loss_fn: ``loss_fn(hs) -> scalar`` from the states $h_1, \dots, h_T$ (T, B, H).
        state: $h_0$ (zeros by default).

    Returns:
        ``(loss, omega)``.

    Shapes:
        inputs: (T, B, I); state: (B, H).

    Examples:
        >>> cell, head = torch.nn.RNNCell(2, 8), torch.nn.Linear(8, 1)
        >>> loss, omega = gradient_flow_regularizer(cell, torch.randn(10, 4, 2),
        ...                                         lambda hs: head(hs[-1]).pow(2).mean())
        >>> (loss + 0.1 * omega).backward()
    """
    dims = check_shapes("gradient_flow_regularizer", inputs=(inputs, "T B I"))
    if dims["T"] < 1:
        raise ValueError("gradient_flow_regularizer: expected at least one step, got T = 0")
    hidden = getattr(cell, "hidden_size", None)
    if state is None:
        if hidden is None:
            raise ValueError("gradient_flow_regularizer: pass state=h0 for a cell without hidden_size")
        state = inputs.new_zeros(dims["B"], hidden)
    states = unroll_states(cell, inputs, state)
    if not isinstance(states[-1], Tensor):
        raise ValueError("gradient_flow_regularizer: expected a cell with a tensor state (Elman, GRU, leaky), "
                         f"got a state of type {type(states[-1]).__name__}")
    hs = torch.stack(states[1:])
    loss = loss_fn(hs)
    grads = torch.stack(state_gradients(loss, states[1:]))
    omega = gradient_flow_penalty(lambda x, h: cell(x, h), inputs, torch.stack(states), grads)
    return loss, omega


def state_gradient_norms(cell: nn.Module, inputs: Tensor, loss_fn: Callable[[Tensor], Tensor],
                         state: Any = None) -> Tensor:
    r"""$\lVert \partial L_T / \partial s_k \rVert$ for k = 0..T: how far back the gradient reaches.

    $L_T$ depends on the final hidden state only; $s_k$ is the whole recurrent state after
    step $k$ (for an LSTM both $h_k$ and $c_k$). The norm is taken per sequence and
    averaged over the batch.

    Args:
        cell: ``cell(x_t, state) -> state`` (RNNCell, LSTMCell, GRUCell, ...).
        inputs: $x_1, \dots, x_T$.
        loss_fn: ``loss_fn(h_T) -> scalar`` of the final hidden state (B, H) (for an LSTM,
            $h_T$ of the pair).
        state: $s_0$; zeros by default.

    Returns:
        The T + 1 norms, index k for $s_k$.

    Shapes:
        inputs: (T, B, I) -> (T + 1,).

    Examples:
        >>> norms = state_gradient_norms(torch.nn.RNNCell(1, 16), torch.randn(50, 8, 1),
        ...                              lambda h: h.sum())
    """
    dims = check_shapes("state_gradient_norms", inputs=(inputs, "T B I"))
    if dims["T"] < 1:
        raise ValueError("state_gradient_norms: expected at least one step, got T = 0")
    with torch.enable_grad():
        if state is None:
            hidden = getattr(cell, "hidden_size", None)
            if hidden is None:
                raise ValueError("state_gradient_norms: pass state=s0 for a cell without hidden_size")
            zeros = inputs.new_zeros(dims["B"], hidden)
            state = (zeros, zeros.clone()) if isinstance(cell, nn.LSTMCell) or _is_lstm(cell) else zeros
        state = _requires_grad(state)
        states = unroll_states(cell, inputs, state)
        final = states[-1]
        loss = loss_fn(final if isinstance(final, Tensor) else final[0])
        leaves = [t for s in states for t in ((s,) if isinstance(s, Tensor) else tuple(s))]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads)]
    per_state = len(leaves) // len(states)
    norms = []
    for k in range(len(states)):
        g = torch.cat(grads[k * per_state:(k + 1) * per_state], dim=-1)
        norms.append(g.norm(dim=-1).mean())
    return torch.stack(norms).detach()


def _is_lstm(cell: nn.Module) -> bool:
    return "lstm" in type(cell).__name__.lower()


def _requires_grad(state: Any) -> Any:
    if isinstance(state, Tensor):
        return state.detach().requires_grad_(True)
    return type(state)(s.detach().requires_grad_(True) for s in state)


def plot_gradient_norms(curves: Mapping[str, Tensor | Sequence[float]], path: str | Path,
                        title: str = r"$\|\partial L_T / \partial s_k\|$ against $T - k$") -> Path:
    """Plot gradient norms against the distance $T - k$ on a log scale and save a PNG.

    Curves labelled ``"name (variant)"`` share the colour of ``name``; the first is drawn
    solid, the others dashed.

    Args:
        curves: label -> the T + 1 norms from `state_gradient_norms`.
        path: where to write the PNG.
        title: the plot title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=100)
    colours: dict[str, str] = {}
    seen: dict[str, int] = {}
    for label, norms in curves.items():
        group = label.split(" (")[0]
        colours.setdefault(group, f"C{len(colours)}")
        seen[group] = seen.get(group, 0) + 1
        values = torch.as_tensor(norms, dtype=torch.float64).clamp_min(_PLOT_FLOOR)
        distance = torch.arange(len(values) - 1, -1, -1)
        ax.semilogy(distance.numpy(), values.numpy(), label=label, color=colours[group],
                    linestyle="-" if seen[group] == 1 else "--")
    ax.set_xlabel("distance T − k (steps back from the loss)")
    ax.set_ylabel("gradient norm")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
