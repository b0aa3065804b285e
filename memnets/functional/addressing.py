r"""NTM addressing: content focus, interpolation, circular shift and sharpening.

Graves, Wayne & Danihelka (2014), "Neural Turing Machines", §3.3. A head turns its
emitted parameters into a weighting $w_t$ over the $N$ memory slots in four stages:

$$w^c_t \xrightarrow{\;g_t\;} w^g_t \xrightarrow{\;s_t\;} \tilde w_t
  \xrightarrow{\;\gamma_t\;} w_t$$

`content_weights` (eqs. 5-6), `interpolate` (eq. 7), `circular_shift`
(eq. 8) and `sharpen` (eq. 9). All functions take already-activated parameters
(strengths $\beta \ge 0$, gates in $[0, 1]$, shift weights on the simplex, $\gamma \ge 1$),
handle many heads at once, and are pure: no parameters, no state, no in-place operations.

Shapes: ``B`` batch, ``H`` heads, ``N`` memory slots, ``W`` word size, ``S`` shift range
(``2S+1`` allowed offsets $-S..S$).

Each public function validates its inputs — shapes with `check_shapes`, one floating
dtype, and on CPU tensors the ranges above (finite, $\beta \ge 0$, gates in $[0, 1]$,
$\gamma \ge 1$; skipped on accelerators, where reading values back would force a device
synchronisation on every call) — and then calls a private, unchecked twin (``_content_weights``, ...) that holds the arithmetic.
`memnets.NTMCell` validates once at its boundary and calls the twins directly on
its per-step hot path, so the maths lives in exactly one place.
"""

from __future__ import annotations

import torch
from torch import Tensor

from memnets._checks import check_range, check_same_dtype, check_shapes

__all__ = ["content_weights", "interpolate", "circular_shift", "sharpen"]

#: Added to squared norms before the square root in the cosine similarity, so that the
#: similarity with an all-zero key or memory row is 0 (not NaN) and its gradient finite.
_EPSILON = 1e-6

#: Weights below this are raised to it before the logarithm in `sharpen`, so that
#: $w^\gamma$ and its gradients stay finite at $w = 0$. For weightings on the simplex
#: (max entry $\ge 1/N$) the clamp changes the result by less than float32 resolution.
_MIN_WEIGHT = 1e-16


# --------------------------------------------------------------------------- content


def _content_weights(memory: Tensor, keys: Tensor, strengths: Tensor) -> Tensor:
    """Unchecked `content_weights`: (B,N,W), (B,H,W), (B,H) -> (B,H,N)."""
    dots = torch.bmm(keys, memory.transpose(1, 2))  # k . M(i), (B, H, N)
    # 1 / sqrt(|u|^2 + eps): finite value and gradient at u = 0.
    inv_memory_norm = torch.rsqrt((memory * memory).sum(-1) + _EPSILON)  # (B, N)
    inv_key_norm = torch.rsqrt((keys * keys).sum(-1) + _EPSILON)  # (B, H)
    scale = (strengths * inv_key_norm).unsqueeze(-1)  # beta / |k|, (B, H, 1)
    return torch.softmax(dots * scale * inv_memory_norm.unsqueeze(1), dim=-1)


def content_weights(memory: Tensor, keys: Tensor, strengths: Tensor) -> Tensor:
    r"""Content-based weighting: a softmax over slots of the key's scaled cosine similarity.

    Graves et al. (2014), §3.3.1, eqs. (5)-(6). For each head with key $k_t$ and key
    strength $\beta_t$:

    $$w^c_t(i) = \frac{\exp\big(\beta_t K[k_t, M_t(i)]\big)}
                      {\sum_j \exp\big(\beta_t K[k_t, M_t(j)]\big)},
      \qquad K[u, v] = \frac{u \cdot v}{\lVert u \rVert\, \lVert v \rVert}.$$

    Norms are computed as $\sqrt{\lVert u \rVert^2 + \epsilon}$ with
    $\epsilon$ = ``_EPSILON``, so a zero key or a zero memory row gives similarity 0 and
    finite gradients instead of NaN.

    Args:
        memory: the memory matrix $M_t$, one row per slot.
        keys: the key vectors $k_t$, one per head.
        strengths: the key strengths $\beta_t \ge 0$, one per head.

    Returns:
        The content weightings $w^c_t$ (each row non-negative, summing to 1).

    Shapes:
        memory: (B, N, W); keys: (B, H, W); strengths: (B, H) -> (B, H, N).

    Examples:
        >>> memory = torch.eye(4).expand(2, 4, 4)
        >>> w = content_weights(memory, torch.eye(4)[None, :2].expand(2, 2, 4), torch.full((2, 2), 10.0))
        >>> w.argmax(-1)[0].tolist()
        [0, 1]
    """
    dims = check_shapes("content_weights", memory=(memory, "B N W"), keys=(keys, "B H W"))
    check_shapes("content_weights", strengths=(strengths, "B H"), B=dims["B"], H=dims["H"])
    check_same_dtype("content_weights", memory=memory, keys=keys, strengths=strengths)
    check_range("content_weights", 0.0, None, strengths=strengths)
    return _content_weights(memory, keys, strengths)


# ----------------------------------------------------------------------- interpolate


def _interpolate(w_content: Tensor, w_prev: Tensor, gate: Tensor) -> Tensor:
    """Unchecked `interpolate`: (B,H,N), (B,H,N), (B,H) -> (B,H,N)."""
    # lerp(start, end, g) = start + g * (end - start) = g * w_c + (1 - g) * w_prev
    return torch.lerp(w_prev, w_content, gate.unsqueeze(-1))


def interpolate(w_content: Tensor, w_prev: Tensor, gate: Tensor) -> Tensor:
    r"""Interpolation gate: blend the content weighting with the previous weighting.

    Graves et al. (2014), §3.3.2, eq. (7):

    $$w^g_t = g_t\, w^c_t + (1 - g_t)\, w_{t-1}.$$

    Args:
        w_content: the content weighting $w^c_t$.
        w_prev: the head's weighting at the previous step $w_{t-1}$.
        gate: the interpolation gate $g_t \in [0, 1]$, one per head.

    Returns:
        The gated weighting $w^g_t$ (on the simplex when both inputs are).

    Shapes:
        w_content, w_prev: (B, H, N); gate: (B, H) -> (B, H, N).

    Examples:
        >>> w = interpolate(torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[0.0, 1.0]]]), torch.tensor([[0.25]]))
        >>> w.tolist()
        [[[0.25, 0.75]]]
    """
    dims = check_shapes("interpolate", w_content=(w_content, "B H N"), w_prev=(w_prev, "B H N"))
    check_shapes("interpolate", gate=(gate, "B H"), B=dims["B"], H=dims["H"])
    check_same_dtype("interpolate", w_content=w_content, w_prev=w_prev, gate=gate)
    check_range("interpolate", 0.0, 1.0, gate=gate)
    return _interpolate(w_content, w_prev, gate)


# --------------------------------------------------------------------------- shift


def _circular_shift(w: Tensor, shift: Tensor) -> Tensor:
    """Unchecked `circular_shift`: (B,H,N), (B,H,2S+1) -> (B,H,N)."""
    # roll(w, k)[..., i] = w[..., (i - k) mod N]; the loop runs over the 2S+1 offsets only.
    # Rolls and fused multiply-adds are several times faster on CPU than one gather.
    S = shift.shape[-1] // 2
    out = w * shift[..., S : S + 1]
    for k in range(1, S + 1):
        out = torch.addcmul(out, torch.roll(w, k, dims=-1), shift[..., S + k : S + k + 1])
        out = torch.addcmul(out, torch.roll(w, -k, dims=-1), shift[..., S - k : S - k + 1])
    return out


def circular_shift(w: Tensor, shift: Tensor) -> Tensor:
    r"""Rotational shift: a circular convolution of the weighting with the shift weights.

    Graves et al. (2014), §3.3.2, eq. (8), with the offsets $k \in \{-S, \dots, S\}$ and
    indices modulo $N$:

    $$\tilde w_t(i) = \sum_{k=-S}^{S} s_t(k)\, w^g_t\big((i - k) \bmod N\big).$$

    ``shift[..., k + S]`` holds $s_t(k)$, so a positive offset moves the focus to higher
    slot indices: a one-hot shift at $k = +1$ moves a one-hot weighting from slot $i$ to
    slot $i + 1$ (and from slot $N - 1$ to slot 0). When $2S + 1 > N$ several offsets
    land on the same slot and their weights add, exactly as the sum above says.

    Args:
        w: the gated weighting $w^g_t$.
        shift: the shift weighting $s_t$ over the $2S + 1$ offsets (on the simplex).

    Returns:
        The shifted weighting $\tilde w_t$.

    Shapes:
        w: (B, H, N); shift: (B, H, 2S+1) -> (B, H, N).

    Examples:
        >>> w = torch.tensor([[[1.0, 0.0, 0.0, 0.0]]])
        >>> circular_shift(w, torch.tensor([[[0.0, 0.0, 1.0]]])).tolist()  # offset +1
        [[[0.0, 1.0, 0.0, 0.0]]]
    """
    dims = check_shapes("circular_shift", w=(w, "B H N"), shift=(shift, "B H K"))
    if dims["K"] % 2 != 1:
        raise ValueError(
            f"circular_shift: expected shift of shape (B, H, 2S+1) with an odd last dimension, "
            f"got {tuple(shift.shape)}"
        )
    check_same_dtype("circular_shift", w=w, shift=shift)
    check_range("circular_shift", 0.0, None, shift=shift)
    return _circular_shift(w, shift)


# --------------------------------------------------------------------------- sharpen


def _sharpen(w: Tensor, gamma: Tensor) -> Tensor:
    """Unchecked `sharpen`: (B,H,N), (B,H) -> (B,H,N)."""
    # w^gamma / sum_j w_j^gamma == softmax(gamma * log w): stable, and finite at w = 0.
    floor = max(_MIN_WEIGHT, torch.finfo(w.dtype).tiny)  # 1e-16 underflows in float16
    log_w = torch.log(w.clamp_min(floor))
    return torch.softmax(log_w * gamma.unsqueeze(-1), dim=-1)


def sharpen(w: Tensor, gamma: Tensor) -> Tensor:
    r"""Sharpening: raise the weighting to the power $\gamma$ and renormalise.

    Graves et al. (2014), §3.3.2, eq. (9):

    $$w_t(i) = \frac{\tilde w_t(i)^{\gamma_t}}{\sum_j \tilde w_t(j)^{\gamma_t}}.$$

    Computed in log space as $\mathrm{softmax}_i(\gamma_t \log \max(\tilde w_t(i), w_{\min}))$
    with $w_{\min}$ = ``_MIN_WEIGHT`` (or the dtype's smallest normal number, if larger,
    as in float16): the value equals eq. (9) wherever
    $\tilde w_t(i) \ge w_{\min}$, and value and gradients stay finite (never NaN) for
    weightings with exact zeros, even all-zero ones (which map to the uniform weighting).
    The gradient with respect to an entry below $w_{\min}$ is 0 (the derivative of
    $w^\gamma$ at 0 for $\gamma > 1$).

    Args:
        w: the shifted weighting $\tilde w_t$ (non-negative).
        gamma: the sharpening exponent $\gamma_t \ge 1$, one per head.

    Returns:
        The final weighting $w_t$ (non-negative, summing to 1).

    Shapes:
        w: (B, H, N); gamma: (B, H) -> (B, H, N).

    Examples:
        >>> w = sharpen(torch.tensor([[[0.5, 0.25, 0.25, 0.0]]]), torch.tensor([[2.0]]))
        >>> [round(v, 3) for v in w[0, 0].tolist()]
        [0.667, 0.167, 0.167, 0.0]
    """
    dims = check_shapes("sharpen", w=(w, "B H N"))
    check_shapes("sharpen", gamma=(gamma, "B H"), B=dims["B"], H=dims["H"])
    check_same_dtype("sharpen", w=w, gamma=gamma)
    check_range("sharpen", None, None, w=w)  # finite; no sign check (w sits on the simplex's boundary)
    check_range("sharpen", 1.0, None, gamma=gamma)
    return _sharpen(w, gamma)
