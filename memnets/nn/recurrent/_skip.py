r"""The Elman network with a skip connection through time over a whole sequence, as one autograd
function with a hand-derived backward.

torch has no kernel for a recurrence from $d$ steps back, so the time loop runs in
Python; this function keeps it to three operations per step forward (two matrix
products into one buffer and the nonlinearity) and two or three backward, and records no
autograd graph. The maths is that of `memnets.nn.recurrent.skip.SkipRNN` on the gate
core (`memnets.functional.gates.rnn_update`), and the tests check this function against
it (values and gradients, ``gradcheck`` in float64). With the states of the sequence in
one buffer, $s_0 \dots s_{d-1}$ the initial states (oldest first) and $s_{d+t} = h_t$:

$$a_t = x_t W_{ih}^\top + b + s_{t+d-1} W_{hh}^\top + s_t W_{skip}^\top,\qquad s_{t+d} = \phi(a_t).$$

Backward, from the last step down, with $\bar s$ the gradients of the buffer (the
output's and the final state's to begin with):

$$\bar a_t = \bar s_{t+d} \odot \phi'(a_t),\qquad \bar s_t \mathrel{+}= \bar a_t W_{skip},\qquad
  \bar s_{t+d-1} \mathrel{+}= \bar a_t W_{hh},$$

every contribution to $\bar s_{t+d}$ coming from later steps, so it is complete when step
t is reached; $\phi'(a) = 1 - s^2$ for tanh and $[s > 0]$ for ReLU. It is first-order
only (``once_differentiable``); ``fused=False`` keeps the autograd loop.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from memnets.nn.recurrent._serial import ACTIVATIONS_OUT, serial_loop

__all__ = ["skip_rnn_sequence"]


class _SkipRNNSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw: Tensor, state: Tensor, weight_hh: Tensor | None, weight_skip: Tensor, nonlinearity: str):
        steps, skip = xw.shape[0], state.shape[0]
        activation = ACTIVATIONS_OUT[nonlinearity]
        states = xw.new_empty(skip + steps, *state.shape[1:])
        states[:skip] = state
        s_t, x_t = states.unbind(0), xw.unbind(0)
        w_skip_t = weight_skip.t()
        w_hh_t = None if weight_hh is None else weight_hh.t()
        pre = xw.new_empty(state.shape[1:])
        with serial_loop(xw.device, 2 * states[0].numel() * states.shape[-1]):
            for t in range(steps):
                torch.addmm(x_t[t], s_t[t], w_skip_t, out=pre)
                if w_hh_t is not None:
                    pre.addmm_(s_t[t + skip - 1], w_hh_t)
                activation(pre, s_t[t + skip])
        ctx.nonlinearity = nonlinearity
        ctx.save_for_backward(states, weight_hh, weight_skip)
        # copies: the saved buffer stays intact when a caller modifies an output in place
        return states[skip:].clone(), states[steps:].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, grad_state: Tensor):
        states, weight_hh, weight_skip = ctx.saved_tensors
        skip = grad_state.shape[0]
        steps = states.shape[0] - skip
        hidden = states.shape[-1]
        grads = torch.zeros_like(states)  # the gradient of every state, filled from the end
        grads[skip:] += grad_out
        grads[steps:] += grad_state
        outputs = states[skip:]
        grad_a = torch.empty_like(outputs)
        g_t, a_t, s_t = grads.unbind(0), grad_a.unbind(0), outputs.unbind(0)
        with serial_loop(grads.device, 2 * states[0].numel() * hidden):
            if ctx.nonlinearity == "tanh":
                for t in range(steps - 1, -1, -1):
                    torch.ops.aten.tanh_backward.grad_input(g_t[t + skip], s_t[t], grad_input=a_t[t])
                    g_t[t].addmm_(a_t[t], weight_skip)
                    if weight_hh is not None:
                        g_t[t + skip - 1].addmm_(a_t[t], weight_hh)
            else:
                mask_t = (outputs > 0).to(outputs.dtype).unbind(0)
                for t in range(steps - 1, -1, -1):
                    torch.mul(g_t[t + skip], mask_t[t], out=a_t[t])
                    g_t[t].addmm_(a_t[t], weight_skip)
                    if weight_hh is not None:
                        g_t[t + skip - 1].addmm_(a_t[t], weight_hh)
        flat_a = grad_a.view(-1, hidden).t()
        grad_w_hh = grad_w_skip = None
        if weight_hh is not None and ctx.needs_input_grad[2]:
            grad_w_hh = torch.mm(flat_a, states[skip - 1:skip - 1 + steps].reshape(-1, hidden))
        if ctx.needs_input_grad[3]:
            grad_w_skip = torch.mm(flat_a, states[:steps].reshape(-1, hidden))
        return grad_a, grads[:skip], grad_w_hh, grad_w_skip, None


def skip_rnn_sequence(xw: Tensor, state: Tensor, weight_hh: Tensor | None, weight_skip: Tensor,
                      nonlinearity: str = "tanh") -> tuple[Tensor, Tensor]:
    r"""Run the Elman network with a skip connection of ``d = state.shape[0]`` steps.

    Args:
        xw: the input projections of every step, $x_t W_{ih}^\top + b_{ih} + b_{hh}$.
        state: the d states before the first step, oldest first.
        weight_hh: $W_{hh}$, or ``None`` without the short connection.
        weight_skip: $W_{skip}$.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).

    Returns:
        ``(outputs, state)``: the state of every step and the last d states, oldest first.

    Shapes:
        xw: (T, B, H) with T >= 1 (B may be 0); state: (d, B, H); weight_hh, weight_skip:
        (H, H) -> outputs (T, B, H), state (d, B, H).
    """
    return _SkipRNNSequence.apply(xw, state, weight_hh, weight_skip, nonlinearity)
