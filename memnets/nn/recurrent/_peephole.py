r"""The peephole LSTM over a whole sequence as one autograd function with a hand-derived backward.

torch has no kernel for the peephole LSTM (Gers & Schmidhuber 2000), so its time loop
runs in Python either way; what this function saves is autograd's bookkeeping and most
of the per-step operations: the forward loop records no graph and writes every result
into preallocated buffers, and the backward loop is the chain rule written out once,
with every factor that does not depend on the recurrence computed for all steps at once.
The maths is that of `memnets.functional.gates.lstm_update` (``variant="peephole"``),
and the tests check this function against it (values and gradients, ``gradcheck`` in
float64). With $a = x_t W_{ih}^\top + b + h_{t-1} W_{hh}^\top$ split into i, f, g, o:

$$i = \sigma(a_i + p_i \odot c_{t-1}),\ f = \sigma(a_f + p_f \odot c_{t-1}),\ g = \tanh(a_g),$$
$$c_t = f \odot c_{t-1} + i \odot g,\ o = \sigma(a_o + p_o \odot c_t),\ h_t = o \odot \tanh(c_t).$$

Backward, with $\bar h_t$ the gradient reaching $h_t$ (from the output and from step
t + 1) and $\bar c_t$ the one reaching $c_t$ from step t + 1:

$$\bar a_o = \bar h_t \odot \delta_o,\quad \delta_o = \tanh(c_t) \odot o(1 - o),$$
$$\bar c = \bar c_t + \bar h_t \odot \kappa_t,\quad \kappa_t = o \odot (1 - \tanh^2 c_t) + \delta_o \odot p_o,$$
$$\bar a_i = \bar c \odot g \odot i(1 - i),\ \bar a_f = \bar c \odot c_{t-1} \odot f(1 - f),\
  \bar a_g = \bar c \odot i \odot (1 - g^2),$$
$$\bar c_{t-1} = \bar c \odot \phi_t,\quad \phi_t = f + g \odot i(1 - i) \odot p_i
  + c_{t-1} \odot f(1 - f) \odot p_f,\qquad \bar h_{t-1} = \bar a W_{hh} + \partial L / \partial h_{t-1}.$$

$\delta_o$, $\kappa_t$, $\phi_t$ and the three gate factors depend on the saved forward
values only, so they are computed for all steps before the loop, which is left with
five operations per step.

It is first-order only (``once_differentiable``); `memnets.LSTM` with ``fused=False``
keeps the autograd loop, which also has second derivatives.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from memnets.nn.recurrent._serial import serial_loop

__all__ = ["peephole_lstm_sequence"]

_sigmoid_backward = torch.ops.aten.sigmoid_backward  # (g, y) -> g·y(1 - y)
_tanh_backward = torch.ops.aten.tanh_backward  # (g, y) -> g·(1 - y²)
#: Gate blocks of the peephole LSTM's pre-activations: i, f, g, o.
_GATES = 4


class _PeepholeLSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, peephole: Tensor):
        steps, batch, hidden = xw.shape[0], h0.shape[0], h0.shape[-1]
        w_hh_t = weight_hh.t()
        p_if, p_o = peephole[:2], peephole[2]
        # the gates after their nonlinearities, (T, B, 4, H) in the order i, f, g, o
        gates = xw.new_empty(steps, batch, _GATES, hidden)
        cells = xw.new_empty(steps + 1, batch, hidden)
        hs = xw.new_empty(steps + 1, batch, hidden)
        tanh_c = xw.new_empty(steps, batch, hidden)
        cells[0], hs[0] = c0, h0
        gates.view(steps, batch, _GATES * hidden).copy_(xw)  # the input part, all steps at once
        # every per-step view made once, outside the loop; each step's pre-activations are
        # written into its slice of ``gates`` and activated in place
        gates_t = gates.view(steps, batch, _GATES * hidden).unbind(0)
        if_t, o_t = gates[:, :, :2].unbind(0), gates[:, :, 3].unbind(0)
        i_t, f_t, g_t = (gate.unbind(0) for gate in gates[:, :, :3].unbind(2))
        c_t, c_wide_t, h_t, tanh_c_t = cells.unbind(0), cells.unsqueeze(2).unbind(0), hs.unbind(0), tanh_c.unbind(0)
        with serial_loop(xw.device, batch * hidden * _GATES * hidden):
            for t in range(steps):
                c, c_new = c_t[t], c_t[t + 1]
                gates_t[t].addmm_(h_t[t], w_hh_t)
                if_t[t].addcmul_(p_if, c_wide_t[t]).sigmoid_()  # i, f = sigma(a + p c)
                g_t[t].tanh_()
                torch.mul(f_t[t], c, out=c_new)
                c_new.addcmul_(i_t[t], g_t[t])
                o_t[t].addcmul_(p_o, c_new).sigmoid_()  # o = sigma(a_o + p_o c_t)
                torch.tanh(c_new, out=tanh_c_t[t])
                torch.mul(o_t[t], tanh_c_t[t], out=h_t[t + 1])
        ctx.save_for_backward(gates, cells, hs, tanh_c, weight_hh, peephole)
        # copies: the saved buffers stay intact when a caller modifies an output in place
        return hs[1:].clone(), hs[-1].clone(), cells[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, grad_h_n: Tensor, grad_c_n: Tensor):
        gates, cells, hs, tanh_c, weight_hh, peephole = ctx.saved_tensors
        steps, batch, _, hidden = gates.shape
        i, f, g, o = gates.unbind(2)
        p_i, p_f, p_o = peephole.unbind(0)
        c_prev, c_next = cells[:-1], cells[1:]
        # every factor that does not depend on the recurrence, for all steps at once
        delta_o = _sigmoid_backward(tanh_c, o)
        kappa = _tanh_backward(o, tanh_c).addcmul_(delta_o, p_o)
        delta_ifg = gates.new_empty(steps, batch, 3, hidden)
        delta_i, delta_f, delta_g = delta_ifg.unbind(2)
        _sigmoid_backward.grad_input(g, i, grad_input=delta_i)
        _sigmoid_backward.grad_input(c_prev, f, grad_input=delta_f)
        _tanh_backward.grad_input(i, g, grad_input=delta_g)
        phi = torch.addcmul(f, delta_i, p_i).addcmul_(delta_f, p_f)

        grad_a = gates.new_empty(steps, batch, _GATES, hidden)
        grad_a_t = grad_a.view(steps, batch, _GATES * hidden).unbind(0)
        grad_ifg_t, grad_o_t = grad_a[:, :, :3].unbind(0), grad_a[:, :, 3].unbind(0)
        delta_o_t, kappa_t, delta_ifg_t, phi_t = delta_o.unbind(0), kappa.unbind(0), delta_ifg.unbind(0), phi.unbind(0)
        grad_out_t = grad_out.unbind(0)
        dh = grad_out_t[-1] + grad_h_n
        dc_next = grad_c_n.clone()  # the gradient reaching c_t from step t + 1
        dc = torch.empty_like(dc_next)  # the total gradient of c_t
        dc_wide = dc.unsqueeze(1)
        with serial_loop(grad_a.device, batch * hidden * _GATES * hidden):
            for t in range(steps - 1, -1, -1):
                torch.addcmul(dc_next, dh, kappa_t[t], out=dc)
                torch.mul(dh, delta_o_t[t], out=grad_o_t[t])
                torch.mul(dc_wide, delta_ifg_t[t], out=grad_ifg_t[t])
                dh = torch.addmm(grad_out_t[t - 1], grad_a_t[t], weight_hh) if t else torch.mm(grad_a_t[t], weight_hh)
                torch.mul(dc, phi_t[t], out=dc_next)

        grad_w_hh = grad_peephole = None
        if ctx.needs_input_grad[3]:
            grad_w_hh = torch.mm(hs[:-1].reshape(-1, hidden).t(), grad_a.view(-1, _GATES * hidden)).t()
        if ctx.needs_input_grad[4]:
            grad_peephole = torch.stack([(grad_a[:, :, 0] * c_prev).sum((0, 1)), (grad_a[:, :, 1] * c_prev).sum((0, 1)),
                                         (grad_a[:, :, 3] * c_next).sum((0, 1))])
        return grad_a.view(steps, batch, _GATES * hidden), dh, dc_next, grad_w_hh, grad_peephole


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
        xw: (T, B, 4·H) with T >= 1 (B may be 0); h0, c0: (B, H); weight_hh: (4·H, H);
        peephole: (3, H) -> outputs (T, B, H), h_n and c_n (B, H).
    """
    return _PeepholeLSTMSequence.apply(xw, h0, c0, weight_hh, peephole)
