r"""Optimisers used by the algorithmic tasks."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

__all__ = ["GravesRMSprop", "make_optimizer"]

#: Graves (2013)'s defaults: decay ℵ, momentum ℶ and the constant ϵ inside the root.
_GRAVES_DECAY = 0.95
_GRAVES_EPSILON = 1e-4


class GravesRMSprop(torch.optim.Optimizer):
    r"""The centred RMSprop of Graves (2013), "Generating sequences with recurrent neural networks", eqs. (38)-(41).

    $$n_i = \aleph n_i + (1 - \aleph)\,\epsilon_i^2, \qquad g_i = \aleph g_i + (1 - \aleph)\,\epsilon_i$$
    $$\Delta_i = \beth \Delta_i - \gimel \frac{\epsilon_i}{\sqrt{n_i - g_i^2 + \daleth}}, \qquad w_i = w_i + \Delta_i$$

    with $\epsilon_i$ the gradient, $\aleph$ = ``decay`` (0.95), $\beth$ = ``momentum``
    (0.9), $\gimel$ = ``lr`` (Graves uses 1e-4) and $\daleth$ = ``eps`` (1e-4). It differs
    from ``torch.optim.RMSprop(centered=True)`` only in where the constant sits: inside
    the square root here, added after it there.

    Args:
        params: the parameters to optimise.
        lr: learning rate $\gimel$.
        decay: the moving-average decay $\aleph$.
        momentum: $\beth$.
        eps: $\daleth$, added inside the square root.
        weight_decay: L2 penalty added to the gradient.

    Examples:
        >>> opt = GravesRMSprop(torch.nn.Linear(2, 2).parameters(), lr=1e-4)
    """

    def __init__(
        self,
        params: Iterable[Tensor],
        lr: float = 1e-4,
        decay: float = _GRAVES_DECAY,
        momentum: float = 0.9,
        eps: float = _GRAVES_EPSILON,
        weight_decay: float = 0.0,
    ):
        if not lr > 0:
            raise ValueError(f"GravesRMSprop: expected lr > 0, got {lr}")
        if not 0 <= decay < 1:
            raise ValueError(f"GravesRMSprop: expected 0 <= decay < 1, got {decay}")
        if not 0 <= momentum < 1:
            raise ValueError(f"GravesRMSprop: expected 0 <= momentum < 1, got {momentum}")
        if not eps > 0:
            raise ValueError(f"GravesRMSprop: expected eps > 0, got {eps}")
        super().__init__(params, dict(lr=lr, decay=decay, momentum=momentum, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            decay, momentum, lr, eps = group["decay"], group["momentum"], group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["square_avg"] = torch.zeros_like(p)
                    state["grad_avg"] = torch.zeros_like(p)
                    state["delta"] = torch.zeros_like(p)
                n, g, delta = state["square_avg"], state["grad_avg"], state["delta"]
                n.mul_(decay).addcmul_(grad, grad, value=1 - decay)
                g.mul_(decay).add_(grad, alpha=1 - decay)
                denom = (n - g * g).clamp_min_(0).add_(eps).sqrt_()
                delta.mul_(momentum).addcdiv_(grad, denom, value=-lr)
                p.add_(delta)
        return loss


def make_optimizer(name: str, params: Iterable[Tensor], lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0, adam_beta2: float = 0.999,
                   adam_beta1: float = 0.9, rmsprop_eps: float = _GRAVES_EPSILON) -> torch.optim.Optimizer:
    r"""Build the optimiser a `TrainConfig` names.

    Args:
        name: ``"adam"``, ``"amsgrad"`` (Adam with the AMSGrad maximum of Reddi, Kale &
            Kumar 2018), ``"rmsprop"`` (`GravesRMSprop`) or ``"sgd"``.
        params: the parameters.
        lr: learning rate.
        momentum: momentum for RMSprop and SGD.
        weight_decay: L2 penalty.
        adam_beta2: the decay $\beta_2$ of Adam's second-moment average (Kingma & Ba 2015;
            0.999 there and in ``torch.optim.Adam``).
        adam_beta1: the decay $\beta_1$ of Adam's first-moment (momentum) average (0.9 there).
        rmsprop_eps: `GravesRMSprop`'s constant inside the square root (Graves' $10^{-4}$
            here; `TrainConfig` passes its own default, $10^{-8}$, which suits a loss
            averaged over bits).
    """
    for beta_name, beta in (("adam_beta1", adam_beta1), ("adam_beta2", adam_beta2)):
        if not 0 <= beta < 1:
            raise ValueError(f"make_optimizer: expected 0 <= {beta_name} < 1, got {beta!r}")
    if name in ("adam", "amsgrad"):
        return torch.optim.Adam(params, lr=lr, betas=(adam_beta1, adam_beta2), weight_decay=weight_decay,
                                amsgrad=name == "amsgrad")
    if name == "rmsprop":
        return GravesRMSprop(params, lr=lr, momentum=momentum, eps=rmsprop_eps, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"make_optimizer: expected 'adam', 'amsgrad', 'rmsprop' or 'sgd', got {name!r}")
