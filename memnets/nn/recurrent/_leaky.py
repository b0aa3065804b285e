r"""The leaky-integrator RNN over a whole sequence as one autograd function with a hand-derived
backward.

torch has no kernel for leaky integrators, so the time loop runs in Python; this function
keeps it to three operations per step (the hidden matrix product, the nonlinearity and
one ``lerp``) and records no autograd graph: the backward is the chain rule written out
once, with every factor that does not depend on the recurrence computed for all steps at
once. The maths is that of `memnets.functional.gates.leaky_update` (Jaeger et al. 2007),
and the tests check this function against it (values and gradients, ``gradcheck`` in
float64). With $a_t = x_t W_{ih}^\top + b + h_{t-1} W_{hh}^\top$:

$$u_t = \phi(a_t), \qquad h_t = h_{t-1} + \alpha \odot (u_t - h_{t-1}).$$

Backward, with $\bar h_t$ the whole gradient reaching $h_t$:

$$\bar a_t = \bar h_t \odot \alpha \odot \phi'(a_t),\qquad
  \bar h_{t-1} = \partial L / \partial h_{t-1} + (1 - \alpha) \odot \bar h_t + \bar a_t W_{hh},$$
$$\bar W_{hh} = \sum_t \bar a_t^\top h_{t-1},\qquad \bar\alpha = \sum_t \bar h_t \odot (u_t - h_{t-1}),$$

with $\phi'(a) = 1 - u^2$ for tanh and $[u > 0]$ for ReLU. It is first-order only
(``once_differentiable``); ``fused=False`` keeps the autograd loop of the cell.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from memnets.nn.recurrent._serial import ACTIVATIONS_OUT, serial_loop

__all__ = ["leaky_rnn_sequence"]

_tanh_backward = torch.ops.aten.tanh_backward  # (g, y) -> g·(1 - y²)


class _LeakyRNNSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw: Tensor, h0: Tensor, weight_hh: Tensor, alpha: Tensor, nonlinearity: str):
        steps, batch, hidden = xw.shape[0], h0.shape[0], h0.shape[-1]
        activation = ACTIVATIONS_OUT[nonlinearity]
        w_hh_t = weight_hh.t()
        hs = xw.new_empty(steps + 1, batch, hidden)
        targets = xw.new_empty(steps, batch, hidden)  # u_t = phi(a_t)
        hs[0] = h0
        pre = xw.new_empty(batch, hidden)
        h_t, u_t = hs.unbind(0), targets.unbind(0)
        with serial_loop(xw.device, batch * hidden * hidden):
            for t, x_t in enumerate(xw.unbind(0)):
                torch.addmm(x_t, h_t[t], w_hh_t, out=pre)
                activation(pre, u_t[t])
                torch.lerp(h_t[t], u_t[t], alpha, out=h_t[t + 1])
        ctx.nonlinearity = nonlinearity
        ctx.save_for_backward(hs, targets, weight_hh, alpha)
        # copies: the saved buffer stays intact when a caller modifies an output in place
        return hs[1:].clone(), hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, grad_h_n: Tensor):
        hs, targets, weight_hh, alpha = ctx.saved_tensors
        steps, batch, hidden = targets.shape
        # d a_t / d h_t per unit of h-gradient, for all steps at once
        if ctx.nonlinearity == "tanh":
            slope = _tanh_backward(alpha.expand_as(targets), targets)
        else:
            slope = (targets > 0).to(targets.dtype).mul_(alpha)
        keep = 1 - alpha
        grad_a = targets.new_empty(steps, batch, hidden)
        grad_h = targets.new_empty(steps, batch, hidden)  # the whole gradient of h_t
        grad_a_t, grad_h_t, slope_t, grad_out_t = grad_a.unbind(0), grad_h.unbind(0), slope.unbind(0), grad_out.unbind(0)
        torch.add(grad_out_t[-1], grad_h_n, out=grad_h_t[-1])
        with serial_loop(grad_a.device, batch * hidden * hidden):
            for t in range(steps - 1, -1, -1):
                dh = grad_h_t[t]
                torch.mul(dh, slope_t[t], out=grad_a_t[t])
                if t:
                    torch.addmm(torch.addcmul(grad_out_t[t - 1], dh, keep), grad_a_t[t], weight_hh, out=grad_h_t[t - 1])
        grad_h0 = torch.addmm(dh * keep, grad_a_t[0], weight_hh)
        grad_w_hh = grad_alpha = None
        if ctx.needs_input_grad[2]:
            grad_w_hh = torch.mm(hs[:-1].reshape(-1, hidden).t(), grad_a.view(-1, hidden)).t()
        if ctx.needs_input_grad[3]:
            grad_alpha = (grad_h * (targets - hs[:-1])).sum((0, 1))
            grad_alpha = grad_alpha.sum_to_size(alpha.shape)
        return grad_a, grad_h0, grad_w_hh, grad_alpha, None


def leaky_rnn_sequence(xw: Tensor, h0: Tensor, weight_hh: Tensor, alpha: Tensor,
                       nonlinearity: str = "tanh") -> tuple[Tensor, Tensor]:
    r"""Run the leaky-integrator RNN over a padded sequence.

    Args:
        xw: the input projections of every step, $x_t W_{ih}^\top + b_{ih} + b_{hh}$.
        h0: the initial state.
        weight_hh: $W_{hh}$.
        alpha: the per-unit rates $\alpha \in [0, 1]$.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).

    Returns:
        ``(outputs, h_n)``: the state of every step and the final state.

    Shapes:
        xw: (T, B, H) with T >= 1 (B may be 0); h0: (B, H); weight_hh: (H, H);
        alpha: (H,) -> outputs (T, B, H), h_n (B, H).
    """
    return _LeakyRNNSequence.apply(xw, h0, weight_hh, alpha, nonlinearity)
