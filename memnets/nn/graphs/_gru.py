r"""The GRU node update of the graph layers, fused: two products, in-place gates, a hand-derived backward.

The update is `memnets.functional.gru_update` applied to the pre-activations of a
`memnets.GRUCell` (torch's gate order r, z, n; Cho et al. 2014):

$$r = \sigma(W_{ir} m + b_{ir} + W_{hr} h + b_{hr}), \qquad
  z = \sigma(W_{iz} m + b_{iz} + W_{hz} h + b_{hz}),$$
$$n = \tanh\big(W_{in} m + b_{in} + r \odot (W_{hn} h + b_{hn})\big), \qquad
  h' = n + z \odot (h - n).$$

A graph layer applies it to every node at every propagation step, on |V| × C tensors
that are large next to the weights. Composed from autograd operators, each step keeps
about eight such tensors for the backward pass; recomputing them
(``torch.utils.checkpoint``) keeps two but runs the update three times (forward,
recomputation, backward). `fused_gru_update` keeps the same two, the inputs $m$ and
$h$, computes the gates in place in the buffers of the two products, and in the backward
pass recomputes them once and applies the derivatives written out below, so a step
allocates a few |V| × C buffers instead of a dozen. With $\delta = \partial L / \partial h'$:

$$\bar n = \delta \odot (1 - z) \odot (1 - n^2), \qquad
  \bar z = \delta \odot (h - n) \odot z \odot (1 - z), \qquad
  \bar r = \bar n \odot (W_{hn} h + b_{hn}) \odot r \odot (1 - r),$$
$$\bar g_i = [\bar r, \bar z, \bar n], \qquad \bar g_h = [\bar r, \bar z, \bar n \odot r],$$
$$\frac{\partial L}{\partial m} = \bar g_i W_{ih}, \qquad
  \frac{\partial L}{\partial h} = \bar g_h W_{hh} + \delta \odot z, \qquad
  \frac{\partial L}{\partial W_{ih}} = \bar g_i^\top m, \qquad
  \frac{\partial L}{\partial W_{hh}} = \bar g_h^\top h,$$

and the bias gradients are the column sums of $\bar g_i$ and $\bar g_h$. The tests check
outputs and gradients against `memnets.GRUCell` (so against `gru_update`, the
definition) and with ``gradcheck`` in float64; a change to the GRU maths that is not made
here too fails them. The backward pass is not itself differentiable (no double backward).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["fused_gru_update"]


def _pre(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return x @ weight.t() if bias is None else torch.addmm(bias, x, weight.t())


def _gates(m: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None):
    """``(gi, gh)``: the two products, with r, z, n written in place into ``gi``'s thirds;
    ``gh``'s last third stays the hidden pre-activation of n."""
    gi, gh = _pre(m, w_ih, b_ih), _pre(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = i_r.add_(h_r).sigmoid_()
    i_z.add_(h_z).sigmoid_()
    i_n.addcmul_(r, h_n).tanh_()
    return gi, gh


def _output(h: Tensor, z: Tensor, n: Tensor) -> Tensor:
    return torch.lerp(n, h, z)  # n + z (h - n), in one pass


class _FusedGRUUpdate(torch.autograd.Function):
    @staticmethod
    def forward(ctx, m, h, w_ih, w_hh, b_ih, b_hh):
        with torch.no_grad():
            gi, _ = _gates(m, h, w_ih, w_hh, b_ih, b_hh)
            _, z, n = gi.chunk(3, dim=1)
            out = _output(h, z, n)
        ctx.save_for_backward(m, h, w_ih, w_hh, b_ih, b_hh)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        m, h, w_ih, w_hh, b_ih, b_hh = ctx.saved_tensors
        grad = grad.contiguous()
        gi, gh = _gates(m, h, w_ih, w_hh, b_ih, b_hh)
        r, z, n = gi.chunk(3, dim=1)
        h_n = gh.chunk(3, dim=1)[2]
        d_gi = torch.empty_like(gi)
        d_r, d_z, d_n = d_gi.chunk(3, dim=1)
        grad_z = grad * z  # δ z: also the direct part of ∂L/∂h
        torch.sub(grad, grad_z, out=d_n)  # δ (1 - z)
        d_n.addcmul_(d_n, n * n, value=-1)  # · (1 - n²)
        torch.sub(h, n, out=d_z).mul_(grad_z)  # δ z (h - n)
        d_z.addcmul_(d_z, z, value=-1)  # · (1 - z)
        torch.mul(d_n, h_n, out=d_r).mul_(r)  # n̄ (W_hn h + b_hn) r
        d_r.addcmul_(d_r, r, value=-1)  # · (1 - r)
        d_gh = gh  # reuse the buffer: [r̄, z̄, n̄ r]
        g_r, g_z, g_n = d_gh.chunk(3, dim=1)
        g_r.copy_(d_r)
        g_z.copy_(d_z)
        torch.mul(d_n, r, out=g_n)
        grad_m = d_gi @ w_ih if ctx.needs_input_grad[0] else None
        grad_h = grad_z.addmm_(d_gh, w_hh) if ctx.needs_input_grad[1] else None
        grad_w_ih = d_gi.t() @ m if ctx.needs_input_grad[2] else None
        grad_w_hh = d_gh.t() @ h if ctx.needs_input_grad[3] else None
        grad_b_ih = d_gi.sum(0) if b_ih is not None and ctx.needs_input_grad[4] else None
        grad_b_hh = d_gh.sum(0) if b_hh is not None and ctx.needs_input_grad[5] else None
        return grad_m, grad_h, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def fused_gru_update(cell, m: Tensor, h: Tensor) -> Tensor:
    r"""$h' = \mathrm{GRU}(m, h)$ with the parameters of ``cell``, storing only $m$ and $h$.

    Equal to ``cell(m, h)`` for a `memnets.GRUCell` (or ``torch.nn.GRUCell``), outputs and
    gradients; see the module docstring for the equations and the memory it saves.

    Args:
        cell: the GRU cell whose ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` are used.
        m: the input (V, C_in), here the aggregated messages.
        h: the state (V, C).

    Shapes:
        m: (V, C_in); h: (V, C) -> (V, C).
    """
    bias_ih = getattr(cell, "bias_ih", None)
    bias_hh = getattr(cell, "bias_hh", None)
    if not torch.is_grad_enabled():
        gi, _ = _gates(m, h, cell.weight_ih, cell.weight_hh, bias_ih, bias_hh)
        _, z, n = gi.chunk(3, dim=1)
        return _output(h, z, n)
    return _FusedGRUUpdate.apply(m, h, cell.weight_ih, cell.weight_hh, bias_ih, bias_hh)
