r"""Real-time recurrent learning (RTRL) for small Elman networks: exact forward-mode gradients.

Williams & Zipser (1989), "A learning algorithm for continually running fully recurrent
neural networks". Instead of storing the trajectory and back-propagating (BPTT), RTRL
carries the sensitivities $P_t = \partial h_t / \partial \theta$ forward in time, so the
gradient of each step's loss is available at that step — on-line learning with memory
independent of the sequence length, at a cost of $O(H^2 (H + I))$ memory and
$O(H^4)$ time per step. For the Elman update
$h_t = \phi(a_t)$, $a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$:

$$P^{W_{hh}}_t[i, j, k] = \phi'(a_t)_i \Bigl(\delta_{ij}\, h_{t-1,k}
   + \sum_m W_{hh}[i, m]\, P^{W_{hh}}_{t-1}[m, j, k]\Bigr),$$

and likewise for $W_{ih}$ (with $x_{t,k}$ in place of $h_{t-1,k}$) and the biases (with
1). The gradient of the loss $\ell_t$ of step $t$ is
$\sum_i \frac{\partial \ell_t}{\partial h_{t,i}} P_t[i, \cdot]$; with the weights held
fixed over the sequence the summed gradient equals BPTT's exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from memnets._checks import check_shapes
from memnets.functional.gates import rnn_update

__all__ = ["RealTimeRecurrentLearning", "RTRLResult", "rtrl_gradients"]

_DERIVATIVES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "tanh": lambda pre, h: 1.0 - h * h,
    "relu": lambda pre, h: (pre > 0).to(pre.dtype),
}


class RealTimeRecurrentLearning:
    r"""On-line RTRL for an Elman cell with a readout: call `step` once per time step.

    The cell must have ``torch.nn.RNNCell``'s parameters (``weight_ih`` (H, I),
    ``weight_hh`` (H, H), optional ``bias_ih``, ``bias_hh``) and its ``nonlinearity``
    (``"tanh"`` or ``"relu"``); `torch.nn.RNNCell` and `memnets.RNNCell` both
    do. Each `step` computes $h_t$, the loss of the step, and **adds** the exact
    gradient of that loss to the ``.grad`` of the cell's and the readout's parameters —
    so an optimiser can step at every time step (Williams & Zipser's on-line mode) or
    once per sequence (then the gradient is BPTT's).

    Args:
        cell: the Elman cell.
        readout: maps $h_t$ (B, H) to the prediction (any module, trained by local
            autograd: it has no temporal dependence).
        loss_fn: ``loss_fn(prediction, target) -> scalar`` of one step.

    Examples:
        >>> cell, head = torch.nn.RNNCell(2, 4), torch.nn.Linear(4, 1)
        >>> learner = RealTimeRecurrentLearning(cell, head, torch.nn.functional.mse_loss)
        >>> learner.reset(batch_size=3)
        >>> loss = learner.step(torch.randn(3, 2), torch.randn(3, 1))
    """

    def __init__(self, cell: nn.Module, readout: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor]):
        w_ih, w_hh = getattr(cell, "weight_ih", None), getattr(cell, "weight_hh", None)
        if not (isinstance(w_ih, Tensor) and isinstance(w_hh, Tensor) and w_hh.dim() == 2
                and w_hh.shape[0] == w_hh.shape[1] == w_ih.shape[0]):
            raise ValueError(
                "RealTimeRecurrentLearning: expected an Elman cell with weight_ih (H, I) and weight_hh (H, H), "
                f"got {type(cell).__name__} with weight_hh of shape "
                f"{None if w_hh is None else tuple(w_hh.shape)}"
            )
        self.nonlinearity = getattr(cell, "nonlinearity", "tanh")
        if self.nonlinearity not in _DERIVATIVES:
            raise ValueError(f"RealTimeRecurrentLearning: expected nonlinearity in {sorted(_DERIVATIVES)}, "
                             f"got {self.nonlinearity!r}")
        self.cell, self.readout, self.loss_fn = cell, readout, loss_fn
        self.hidden_size, self.input_size = cell.weight_hh.shape[0], cell.weight_ih.shape[1]
        self.h: Tensor | None = None
        self.sensitivities: dict[str, Tensor] = {}

    def _biases(self) -> list[str]:
        return [name for name in ("bias_ih", "bias_hh") if isinstance(getattr(self.cell, name, None), Tensor)]

    def reset(self, batch_size: int, h0: Tensor | None = None) -> None:
        """Start a new sequence: $h_0$ (zeros by default) and zero sensitivities."""
        H, n_in = self.hidden_size, self.input_size
        w = self.cell.weight_hh
        if h0 is None:
            h0 = w.new_zeros(batch_size, H)
        check_shapes("RealTimeRecurrentLearning", h0=(h0, "B H"), B=batch_size, H=H)
        self.h = h0.detach()
        self.sensitivities = {
            "weight_ih": w.new_zeros(batch_size, H, H, n_in),
            "weight_hh": w.new_zeros(batch_size, H, H, H),
        }
        if self._biases():
            self.sensitivities["bias"] = w.new_zeros(batch_size, H, H)

    @torch.no_grad()
    def _advance(self, x: Tensor) -> Tensor:
        cell, h_prev, P = self.cell, self.h, self.sensitivities
        pre = x @ cell.weight_ih.T + h_prev @ cell.weight_hh.T
        for name in self._biases():
            pre = pre + getattr(cell, name)
        h = rnn_update(pre, self.nonlinearity)
        d = _DERIVATIVES[self.nonlinearity](pre, h)  # (B, H)
        B, H = h.shape
        diag = torch.arange(H, device=h.device)
        new = {}
        for name, direct in (("weight_hh", h_prev), ("weight_ih", x)):
            # sum_m W_hh[i, m] P[b, m, j, k] as one batched matmul, then the delta_ij term
            carried = torch.matmul(cell.weight_hh, P[name].reshape(B, H, -1)).reshape(P[name].shape)
            carried[:, diag, diag, :] += direct[:, None, :]
            new[name] = carried * d[:, :, None, None]
        if "bias" in P:
            carried = torch.matmul(cell.weight_hh, P["bias"])
            carried[:, diag, diag] += 1.0
            new["bias"] = carried * d[:, :, None]
        self.sensitivities = new
        self.h = h
        return h

    def step(self, x: Tensor, target: Tensor | None = None) -> Tensor:
        """Advance one step; if ``target`` is given, add this step's loss gradient to ``.grad``.

        Returns:
            The step's loss (detached), or $h_t$ when no target is given.

        Shapes:
            x: (B, input_size) -> loss () or h (B, H).
        """
        if self.h is None:
            raise ValueError("RealTimeRecurrentLearning: call reset(batch_size) before step()")
        check_shapes("RealTimeRecurrentLearning", x=(x, "B I"), B=self.h.shape[0], I=self.input_size)
        h = self._advance(x)
        if target is None:
            return h
        h_leaf = h.detach().requires_grad_(True)
        readout_params = [p for p in self.readout.parameters() if p.requires_grad]
        with torch.enable_grad():
            loss = self.loss_fn(self.readout(h_leaf), target)
            grads = torch.autograd.grad(loss, [h_leaf, *readout_params], allow_unused=True)
        g_h = grads[0]
        for p, g in zip(readout_params, grads[1:]):
            if g is not None:
                p.grad = g.clone() if p.grad is None else p.grad + g
        P = self.sensitivities
        updates = {
            "weight_hh": torch.einsum("bi,bijk->jk", g_h, P["weight_hh"]),
            "weight_ih": torch.einsum("bi,bijk->jk", g_h, P["weight_ih"]),
        }
        if "bias" in P:
            bias_grad = torch.einsum("bi,bij->j", g_h, P["bias"])
            for name in self._biases():
                updates[name] = bias_grad
        for name, g in updates.items():
            p = getattr(self.cell, name)
            if p.requires_grad:
                p.grad = g.clone() if p.grad is None else p.grad + g
        return loss.detach()


@dataclass
class RTRLResult:
    """What `rtrl_gradients` returns.

    Attributes:
        loss: the summed loss over the sequence.
        gradients: parameter name -> gradient, for the cell (``weight_ih``, ...) and the
            readout (``readout.weight``, ...).
        h: the final hidden state.
    """

    loss: Tensor
    gradients: dict[str, Tensor]
    h: Tensor


def rtrl_gradients(cell: nn.Module, readout: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor],
                   inputs: Tensor, targets: Tensor, h0: Tensor | None = None) -> RTRLResult:
    r"""The gradient of $\sum_t \ell(\mathrm{readout}(h_t), y^*_t)$ by RTRL, without touching ``.grad``.

    Args:
        cell: an Elman cell (see `RealTimeRecurrentLearning`).
        readout: the per-step readout.
        loss_fn: the per-step loss.
        inputs: $x_1, \dots, x_T$.
        targets: $y^*_1, \dots, y^*_T$.
        h0: the initial state (zeros by default).

    Returns:
        An `RTRLResult`.

    Shapes:
        inputs: (T, B, I); targets: (T, B, ...); h0: (B, H).

    Examples:
        >>> cell, head = torch.nn.RNNCell(2, 4), torch.nn.Linear(4, 1)
        >>> result = rtrl_gradients(cell, head, torch.nn.functional.mse_loss,
        ...                         torch.randn(6, 3, 2), torch.randn(6, 3, 1))
    """
    dims = check_shapes("rtrl_gradients", inputs=(inputs, "T B I"))
    if targets.dim() < 2 or tuple(targets.shape[:2]) != (dims["T"], dims["B"]):
        raise ValueError(f"rtrl_gradients: expected targets of shape ({dims['T']}, {dims['B']}, ...), "
                         f"got {tuple(targets.shape)}")
    params = {f"readout.{n}": p for n, p in readout.named_parameters()}
    params.update({n: p for n, p in cell.named_parameters()})
    saved = {n: p.grad for n, p in params.items()}
    for p in params.values():
        p.grad = None
    try:
        learner = RealTimeRecurrentLearning(cell, readout, loss_fn)
        learner.reset(dims["B"], h0)
        total = inputs.new_zeros(())
        for t in range(dims["T"]):
            total = total + learner.step(inputs[t], targets[t])
        gradients = {n: (p.grad if p.grad is not None else torch.zeros_like(p)) for n, p in params.items()}
        return RTRLResult(loss=total, gradients=gradients, h=learner.h)
    finally:
        for n, p in params.items():
            p.grad = saved[n]
