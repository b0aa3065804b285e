r"""NTM memory access: the blurry read and the erase-then-add write.

Graves, Wayne & Danihelka (2014), "Neural Turing Machines", §3.1-3.2. Both operations
are driven by weightings over the $N$ memory slots (from
`memnets.functional.addressing`), handle many heads at once and are pure: the
memory passed in is never modified, a new memory is returned.

Shapes: ``B`` batch, ``H`` heads, ``N`` memory slots, ``W`` word size.

Each public function validates its inputs with `check_shapes` and
then calls a private, unchecked twin (``_memory_read``, ``_memory_write``) that holds the
arithmetic; `memnets.NTMCell` calls the twins on its per-step hot path.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

from memnets._checks import check_range, check_same_dtype, check_shapes

__all__ = ["memory_read", "memory_write"]


def _memory_read(memory: Tensor, w: Tensor) -> Tensor:
    """Unchecked `memory_read`: (B,N,W), (B,H,N) -> (B,H,W)."""
    return torch.bmm(w, memory)  # sum_i w(i) M(i), (B, H, W)


def memory_read(memory: Tensor, w: Tensor) -> Tensor:
    r"""Read from memory: the weighted sum of the slots, one read vector per head.

    Graves et al. (2014), §3.1, eq. (2):

    $$r_t = \sum_i w_t(i)\, M_t(i).$$

    Args:
        memory: the memory matrix $M_t$, one row per slot.
        w: the read weightings $w_t$, one per head.

    Returns:
        The read vectors $r_t$.

    Shapes:
        memory: (B, N, W); w: (B, H, N) -> (B, H, W).

    Examples:
        >>> memory = torch.arange(6.0).reshape(1, 3, 2)
        >>> memory_read(memory, torch.tensor([[[0.0, 1.0, 0.0]]])).tolist()
        [[[2.0, 3.0]]]
    """
    dims = check_shapes("memory_read", memory=(memory, "B N W"))
    check_shapes("memory_read", w=(w, "B H N"), B=dims["B"], N=dims["N"])
    check_same_dtype("memory_read", memory=memory, w=w)
    return _memory_read(memory, w)


def _memory_write(memory: Tensor, w: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Unchecked `memory_write`: (B,N,W), (B,H,N), (B,H,W), (B,H,W) -> (B,N,W)."""
    if w.shape[1] == 1:
        # One head: M + w (a - e * M), two fused multiply-adds.
        return torch.addcmul(memory, rearrange(w, "b 1 n -> b n 1"), torch.addcmul(add, erase, memory, value=-1.0))
    # Several heads, applied in order, in closed form (no loop over heads):
    #   M_H = M_0 * P_0 + sum_h (w_h a_h^T) * P_{h+1},  P_h = prod_{j >= h} (1 - w_j e_j^T),  P_H = 1.
    keep = 1.0 - torch.einsum("bhn,bhw->bhnw", w, erase)  # (B, H, N, W)
    suffix = keep.flip(1).cumprod(1).flip(1)  # P_h for h = 0..H-1
    after = torch.cat([suffix[:, 1:], torch.ones_like(suffix[:, :1])], dim=1)  # P_{h+1}
    return memory * suffix[:, 0] + torch.einsum("bhn,bhw,bhnw->bnw", w, add, after)


def memory_write(memory: Tensor, w: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    r"""Write to memory: each head erases, then adds, at the slots it attends to.

    Graves et al. (2014), §3.2, eqs. (3)-(4). One head with weighting $w_t$, erase vector
    $e_t \in [0, 1]^W$ and add vector $a_t$ updates every slot $i$ as

    $$\tilde M_t(i) = M_{t-1}(i) \odot \big(\mathbf 1 - w_t(i)\, e_t\big), \qquad
      M_t(i) = \tilde M_t(i) + w_t(i)\, a_t.$$

    **Several heads are applied in order**: head 1 erases and adds, then head 2 erases and
    adds on the result, and so on, $M^{(h)} = M^{(h-1)} \odot (\mathbf 1 - w^h e^{h\top})
    + w^h a^{h\top}$. This is computed in closed form without a loop over heads:

    $$M_t = M_{t-1} \odot \prod_{h=1}^{H} (\mathbf 1 - w^h e^{h\top})
      + \sum_{h=1}^{H} (w^h a^{h\top}) \odot \prod_{j > h} (\mathbf 1 - w^j e^{j\top}).$$

    The paper's text instead applies all erases first (their product, which commutes) and
    then all adds, $M_t = M_{t-1} \odot \prod_h (\mathbf 1 - w^h e^{h\top}) + \sum_h w^h
    a^{h\top}$. The two agree for one write head; with several, here a later head's erase
    also erases what an earlier head added at the same slots, as in a sequence of writes
    to a real memory. (Collier & Beel's 2018 reference implementation also writes head
    by head.)

    Args:
        memory: the memory $M_{t-1}$ before the write.
        w: the write weightings $w_t$, one per head, in the order they are applied.
        erase: the erase vectors $e_t$, entries in $[0, 1]$.
        add: the add vectors $a_t$.

    Returns:
        The memory $M_t$ after all heads have written (a new tensor).

    Shapes:
        memory: (B, N, W); w: (B, H, N); erase, add: (B, H, W) -> (B, N, W).

    Examples:
        >>> memory = torch.ones(1, 2, 3)
        >>> w = torch.tensor([[[1.0, 0.0]]])
        >>> memory_write(memory, w, torch.ones(1, 1, 3), torch.full((1, 1, 3), 5.0)).tolist()
        [[[5.0, 5.0, 5.0], [1.0, 1.0, 1.0]]]
    """
    dims = check_shapes("memory_write", memory=(memory, "B N W"))
    check_shapes(
        "memory_write",
        w=(w, "B H N"),
        erase=(erase, "B H W"),
        add=(add, "B H W"),
        B=dims["B"],
        N=dims["N"],
        W=dims["W"],
    )
    check_same_dtype("memory_write", memory=memory, w=w, erase=erase, add=add)
    check_range("memory_write", 0.0, 1.0, erase=erase)
    return _memory_write(memory, w, erase, add)
