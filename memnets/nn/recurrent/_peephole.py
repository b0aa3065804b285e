r"""The peephole LSTM over a whole sequence as one autograd function with a hand-derived backward.

torch has no kernel for the peephole LSTM (Gers & Schmidhuber 2000), so its time loop
runs in Python either way; what this function saves is autograd's bookkeeping: the
forward loop records no graph, and the backward loop is the chain rule written out once,
with every factor that does not depend on the recurrence computed for all steps at once.
The maths is that of `memnets.functional.gates.lstm_update` (``variant="peephole"``),
and the tests check this function against it (values and gradients, ``gradcheck`` in
float64). With $a = x_t W_{ih}^\top + b + h_{t-1} W_{hh}^\top$ split into i, f, g, o:

$$i = \sigma(a_i + p_i \odot c_{t-1}),\ f = \sigma(a_f + p_f \odot c_{t-1}),\ g = \tanh(a_g),$$
$$c_t = f \odot c_{t-1} + i \odot g,\ o = \sigma(a_o + p_o \odot c_t),\ h_t = o \odot \tanh(c_t).$$

Backward, with $\bar h_t$ and $\bar c_t$ the gradients reaching step t:

$$\bar a_o = \bar h_t \odot \tanh(c_t) \odot o(1 - o),\quad
  \bar c = \bar c_t + \bar h_t \odot o \odot (1 - \tanh^2 c_t) + \bar a_o \odot p_o,$$
$$\bar a_i = \bar c \odot g \odot i(1 - i),\ \bar a_f = \bar c \odot c_{t-1} \odot f(1 - f),\
  \bar a_g = \bar c \odot i \odot (1 - g^2),$$
$$\bar c_{t-1} = \bar c \odot f + \bar a_i \odot p_i + \bar a_f \odot p_f,\quad
  \bar h_{t-1} = \bar a W_{hh}.$$

It is first-order only (``once_differentiable``); `memnets.LSTM` with ``fused=False``
keeps the autograd loop, which also has second derivatives.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["peephole_lstm_sequence"]


class _PeepholeLSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, peephole: Tensor):
        steps = xw.shape[0]
        hidden = h0.shape[-1]
        p_i, p_f, p_o = peephole.unbind(0)
        w_hh_t = weight_hh.t()
        i_all, f_all, g_all, o_all = (xw.new_empty(steps, *h0.shape) for _ in range(4))  # after their nonlinearities
        cells = xw.new_empty(steps + 1, *c0.shape)
        hs = xw.new_empty(steps + 1, *h0.shape)
        cells[0], hs[0] = c0, h0
        for t in range(steps):
            c, i, f, g, o = cells[t], i_all[t], f_all[t], g_all[t], o_all[t]
            a_i, a_f, a_g, a_o = torch.addmm(xw[t], hs[t], w_hh_t).split(hidden, dim=-1)
            torch.sigmoid(torch.addcmul(a_i, p_i, c), out=i)
            torch.sigmoid(torch.addcmul(a_f, p_f, c), out=f)
            torch.tanh(a_g, out=g)
            c_new = torch.addcmul(f * c, i, g, out=cells[t + 1])
            torch.sigmoid(torch.addcmul(a_o, p_o, c_new), out=o)
            torch.mul(o, torch.tanh(c_new), out=hs[t + 1])
        ctx.save_for_backward(i_all, f_all, g_all, o_all, cells, hs, weight_hh, peephole)
        return hs[1:], hs[-1], cells[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, grad_h_n: Tensor, grad_c_n: Tensor):
        i, f, g, o, cells, hs, weight_hh, peephole = ctx.saved_tensors
        steps, hidden = i.shape[0], hs.shape[-1]
        p_i, p_f, p_o = peephole.unbind(0)
        # every factor that does not depend on the recurrence, for all steps at once
        tanh_c = torch.tanh(cells[1:])
        d_o = tanh_c * o * (1 - o)  # d h / d a_o, per unit of h-gradient
        d_c = o * (1 - tanh_c * tanh_c)  # d h / d c through tanh
        d_i = g * i * (1 - i)
        d_f = cells[:-1] * f * (1 - f)
        d_g = i * (1 - g * g)
        grad_a = i.new_empty(*i.shape[:-1], 4 * hidden)
        dh_prev, dc = grad_h_n, grad_c_n
        for t in range(steps - 1, -1, -1):
            ga = grad_a[t]
            da_i, da_f, da_g, da_o = ga.split(hidden, dim=-1)  # views: the results are written into them
            dh = grad_out[t] + dh_prev
            torch.mul(dh, d_o[t], out=da_o)
            dc = torch.addcmul(torch.addcmul(dc, dh, d_c[t]), da_o, p_o)
            torch.mul(dc, d_i[t], out=da_i)
            torch.mul(dc, d_f[t], out=da_f)
            torch.mul(dc, d_g[t], out=da_g)
            dh_prev = torch.mm(ga, weight_hh)
            dc = torch.addcmul(torch.addcmul(dc * f[t], da_i, p_i), da_f, p_f)
        flat_a = grad_a.reshape(-1, grad_a.shape[-1])
        grad_w_hh = torch.mm(flat_a.t(), hs[:-1].reshape(-1, hidden))
        c_prev, c_new = cells[:-1].reshape(-1, hidden), cells[1:].reshape(-1, hidden)
        a_i, a_f, _, a_o = flat_a.split(hidden, dim=-1)
        grad_peephole = torch.stack([(a_i * c_prev).sum(0), (a_f * c_prev).sum(0), (a_o * c_new).sum(0)])
        return grad_a, dh_prev, dc, grad_w_hh, grad_peephole


def peephole_lstm_sequence(xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor,
                           peephole: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""Run one layer and direction of the peephole LSTM over a padded sequence.

    Args:
        xw: the input projections of every step, $x_t W_{ih}^\top + b_{ih} + b_{hh}$.
        h0: the initial hidden state.
        c0: the initial cell state.
        weight_hh: $W_{hh}$, gate blocks i, f, g, o.
        peephole: $(p_i, p_f, p_o)$.

    Returns:
        ``(outputs, h_n, c_n)``: the hidden state of every step and the final states.

    Shapes:
        xw: (T, B, 4·H) with T >= 1; h0, c0: (B, H); weight_hh: (4·H, H); peephole:
        (3, H) -> outputs (T, B, H), h_n and c_n (B, H).
    """
    return _PeepholeLSTMSequence.apply(xw, h0, c0, weight_hh, peephole)
