r"""DNC memory management: usage, allocation, temporal links and read modes.

Graves et al. (2016), "Hybrid computing using a neural network with dynamic external
memory", Nature 538, Methods ("Dynamic memory allocation", "Temporal memory linkage",
"Read weighting"). Besides content lookup (`memnets.functional.content_weights`, shared
with the NTM), a DNC's heads address the $N$ memory slots in two more ways:

* **dynamic allocation**: a usage $u_t \in [0, 1]^N$ per slot, raised by writing and
  lowered by the free gates of the read heads, from which the write head is steered to the
  least used slots (`retention_vector`, `usage_update`, `allocation_weights`,
  `write_weighting`);
* **temporal links**: a precedence weighting $p_t$ (where was written last) and a link
  matrix $L_t[i, j]$ (was slot $i$ written right after slot $j$?), which let the read heads
  step forward or backward through the order of writes (`precedence_update`,
  `link_update`, `directional_weights`, `read_weighting`).

All functions take already-activated parameters (gates in $[0, 1]$, weightings with
non-negative entries summing to at most 1, read modes on the simplex) and are pure: no
parameters, no state, no in-place operations on their inputs. One write head, as in the
paper.

Shapes: ``B`` batch, ``R`` read heads, ``N`` memory slots.

Each public function validates its inputs with `check_shapes` and then calls a private,
unchecked twin (``_usage_update``, ...) that holds the arithmetic; `memnets.DNCCell`
validates once at its boundary and calls the twins on its per-step hot path.
"""

from __future__ import annotations

import torch
from torch import Tensor

from memnets._checks import check_int, check_shapes

__all__ = [
    "retention_vector",
    "usage_update",
    "allocation_weights",
    "write_weighting",
    "precedence_update",
    "link_update",
    "directional_weights",
    "read_weighting",
    "sparse_link_update",
    "sparse_directional_weights",
]

#: Floor of the usage inside the allocation's product (as in DeepMind's reference code):
#: $\hat u = \epsilon + (1 - \epsilon)\, u$ keeps every factor of
#: $\prod_{i<j} \hat u[\phi_i]$ strictly positive, so the product's gradient is the plain
#: quotient formula and finite even where many slots have usage exactly 0. It moves any
#: allocation weight by at most $\epsilon$.
_EPSILON = 1e-6


# ------------------------------------------------------------------------- usage


def _retention_vector(read_weights: Tensor, free_gates: Tensor) -> Tensor:
    """Unchecked `retention_vector`: (B,R,N), (B,R) -> (B,N)."""
    return torch.prod(1.0 - free_gates.unsqueeze(-1) * read_weights, dim=1)


def retention_vector(read_weights: Tensor, free_gates: Tensor) -> Tensor:
    r"""Memory retention: how much of each slot the read heads leave allocated.

    Graves et al. (2016), Methods, "Dynamic memory allocation". With the free gate
    $f^i_t \in [0, 1]$ of read head $i$ and its previous read weighting $w^{r,i}_{t-1}$:

    $$\psi_t = \prod_{i=1}^{R} \big(\mathbf 1 - f^i_t\, w^{r,i}_{t-1}\big).$$

    A free gate of 1 releases the slots that head has just read; a free gate of 0 keeps
    them.

    Args:
        read_weights: the read weightings $w^r_{t-1}$ of the previous step, one per head.
        free_gates: the free gates $f_t$, one per read head.

    Returns:
        The retention vector $\psi_t \in [0, 1]^N$.

    Shapes:
        read_weights: (B, R, N); free_gates: (B, R) -> (B, N).

    Examples:
        >>> retention_vector(torch.tensor([[[1.0, 0.0]]]), torch.tensor([[0.5]])).tolist()
        [[0.5, 1.0]]
    """
    dims = check_shapes("retention_vector", read_weights=(read_weights, "B R N"))
    check_shapes("retention_vector", free_gates=(free_gates, "B R"), B=dims["B"], R=dims["R"])
    return _retention_vector(read_weights, free_gates)


def _usage_update(usage: Tensor, write_weights: Tensor, read_weights: Tensor, free_gates: Tensor) -> Tensor:
    """Unchecked `usage_update`: (B,N), (B,N), (B,R,N), (B,R) -> (B,N)."""
    # u + w - u * w = u + w (1 - u)
    written = torch.addcmul(usage, write_weights, 1.0 - usage)
    return written * _retention_vector(read_weights, free_gates)


def usage_update(usage: Tensor, write_weights: Tensor, read_weights: Tensor, free_gates: Tensor) -> Tensor:
    r"""Usage update: writing raises a slot's usage, freeing after a read lowers it.

    Graves et al. (2016), Methods, "Dynamic memory allocation". With $\psi_t$ the
    retention vector (`retention_vector`) of the free gates $f_t$ and the previous read
    weightings $w^r_{t-1}$:

    $$\psi_t = \prod_{i=1}^{R} \big(\mathbf 1 - f^i_t\, w^{r,i}_{t-1}\big), \qquad
      u_t = \big(u_{t-1} + w^w_{t-1} - u_{t-1} \circ w^w_{t-1}\big) \circ \psi_t.$$

    Entries stay in $[0, 1]$ when the inputs are in range.

    Args:
        usage: the usage $u_{t-1}$ of the previous step.
        write_weights: the previous write weighting $w^w_{t-1}$.
        read_weights: the previous read weightings $w^r_{t-1}$, one per read head.
        free_gates: the free gates $f_t$, one per read head.

    Returns:
        The usage $u_t$.

    Shapes:
        usage, write_weights: (B, N); read_weights: (B, R, N); free_gates: (B, R) -> (B, N).

    Examples:
        >>> u = usage_update(torch.tensor([[0.5, 0.0]]), torch.tensor([[0.0, 1.0]]),
        ...                  torch.tensor([[[1.0, 0.0]]]), torch.tensor([[1.0]]))
        >>> u.tolist()
        [[0.0, 1.0]]
    """
    dims = check_shapes(
        "usage_update", usage=(usage, "B N"), write_weights=(write_weights, "B N"), read_weights=(read_weights, "B R N")
    )
    check_shapes("usage_update", free_gates=(free_gates, "B R"), B=dims["B"], R=dims["R"])
    return _usage_update(usage, write_weights, read_weights, free_gates)


# -------------------------------------------------------------------- allocation


def _allocation_weights(usage: Tensor) -> Tensor:
    """Unchecked `allocation_weights`: (B,N) -> (B,N)."""
    usage = _EPSILON + (1.0 - _EPSILON) * usage
    # phi: slots in ascending usage; a stable sort puts the lower index first among ties.
    sorted_usage, order = torch.sort(usage, dim=-1, stable=True)
    # Exclusive cumulative product prod_{i<j} u[phi_i] (1 for j = 0).
    before = torch.cumprod(torch.cat([torch.ones_like(sorted_usage[..., :1]), sorted_usage[..., :-1]], dim=-1), dim=-1)
    sorted_allocation = (1.0 - sorted_usage) * before
    # Back to slot order: a[phi_j] = sorted_allocation[j].
    return torch.zeros_like(sorted_allocation).scatter(-1, order, sorted_allocation)


def allocation_weights(usage: Tensor) -> Tensor:
    r"""Allocation weighting: a soft pointer to the least used memory slots.

    Graves et al. (2016), Methods, "Dynamic memory allocation". With $\phi_t$ the slot
    indices sorted by ascending usage ($\phi_t[1]$ the least used slot):

    $$a_t[\phi_t[j]] = \big(1 - u_t[\phi_t[j]]\big) \prod_{i=1}^{j-1} u_t[\phi_t[i]].$$

    A slot with usage 0 that comes first in the order gets weight 1; if every slot is
    fully used the weighting is 0. Ties are broken by slot index (a stable sort: the
    lower index comes first), so the result is deterministic.

    The product uses $\hat u = \epsilon + (1 - \epsilon) u$ with $\epsilon$ =
    ``_EPSILON`` (as DeepMind's reference implementation does), so every factor is
    positive and the gradient finite where many slots have usage exactly 0; the result
    differs from the formula above by at most $\epsilon$ per entry.

    **Gradient through the sort.** As in the paper, the gradient flows through the usage
    values along the current order, and the order itself is treated as a constant: the
    discontinuities where two slots swap places are ignored ("we ignore these
    discontinuities when calculating the gradient, as they do not seem to be relevant to
    learning", Methods).

    Args:
        usage: the usage $u_t \in [0, 1]^N$.

    Returns:
        The allocation weighting $a_t$ (non-negative, summing to at most 1).

    Shapes:
        usage: (B, N) -> (B, N).

    Examples:
        >>> a = allocation_weights(torch.tensor([[1.0, 0.0, 0.5]]))
        >>> [round(v, 3) for v in a[0].tolist()]
        [0.0, 1.0, 0.0]
    """
    check_shapes("allocation_weights", usage=(usage, "B N"))
    return _allocation_weights(usage)


def _write_weighting(allocation: Tensor, content: Tensor, allocation_gate: Tensor, write_gate: Tensor) -> Tensor:
    """Unchecked `write_weighting`: (B,N), (B,N), (B,), (B,) -> (B,N)."""
    return write_gate.unsqueeze(-1) * torch.lerp(content, allocation, allocation_gate.unsqueeze(-1))


def write_weighting(allocation: Tensor, content: Tensor, allocation_gate: Tensor, write_gate: Tensor) -> Tensor:
    r"""Write weighting: a gated blend of allocation and content addressing.

    Graves et al. (2016), Methods, "Write weighting". With the allocation gate
    $g^a_t \in [0, 1]$ and the write gate $g^w_t \in [0, 1]$:

    $$w^w_t = g^w_t \big[g^a_t\, a_t + (1 - g^a_t)\, c^w_t\big].$$

    A write gate of 0 writes nowhere; an allocation gate of 1 writes to fresh slots, of 0
    where the write key points.

    Args:
        allocation: the allocation weighting $a_t$ (`allocation_weights`).
        content: the write head's content weighting $c^w_t$ (`content_weights`).
        allocation_gate: $g^a_t$.
        write_gate: $g^w_t$.

    Returns:
        The write weighting $w^w_t$.

    Shapes:
        allocation, content: (B, N); allocation_gate, write_gate: (B,) -> (B, N).

    Examples:
        >>> w = write_weighting(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]),
        ...                     torch.tensor([0.75]), torch.tensor([1.0]))
        >>> w.tolist()
        [[0.75, 0.25]]
    """
    dims = check_shapes("write_weighting", allocation=(allocation, "B N"), content=(content, "B N"))
    check_shapes(
        "write_weighting", allocation_gate=(allocation_gate, "B"), write_gate=(write_gate, "B"), B=dims["B"]
    )
    return _write_weighting(allocation, content, allocation_gate, write_gate)


# ---------------------------------------------------------------- temporal links


def _precedence_update(precedence: Tensor, write_weights: Tensor) -> Tensor:
    """Unchecked `precedence_update`: (B,N), (B,N) -> (B,N)."""
    return (1.0 - write_weights.sum(-1, keepdim=True)) * precedence + write_weights


def precedence_update(precedence: Tensor, write_weights: Tensor) -> Tensor:
    r"""Precedence weighting: how much each slot was the last one written to.

    Graves et al. (2016), Methods, "Temporal memory linkage", with $p_0 = 0$:

    $$p_t = \Big(1 - \sum_i w^w_t[i]\Big)\, p_{t-1} + w^w_t.$$

    A full write ($\sum_i w^w_t[i] = 1$) replaces the precedence by the write weighting;
    no write leaves it unchanged.

    Args:
        precedence: the precedence weighting $p_{t-1}$.
        write_weights: the write weighting $w^w_t$ of this step.

    Returns:
        The precedence weighting $p_t$.

    Shapes:
        precedence, write_weights: (B, N) -> (B, N).

    Examples:
        >>> precedence_update(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.5]])).tolist()
        [[0.5, 0.5]]
    """
    check_shapes("precedence_update", precedence=(precedence, "B N"), write_weights=(write_weights, "B N"))
    return _precedence_update(precedence, write_weights)


def _link_update(link: Tensor, precedence: Tensor, write_weights: Tensor) -> Tensor:
    """Unchecked `link_update`: (B,N,N), (B,N), (B,N) -> (B,N,N)."""
    w_i = write_weights.unsqueeze(-1)  # (B, N, 1): rows
    w_j = write_weights.unsqueeze(-2)  # (B, 1, N): columns
    new = torch.addcmul((1.0 - w_i - w_j) * link, w_i, precedence.unsqueeze(-2))
    # Zero the diagonal of the fresh tensor (not an input), cheaper than a masked copy.
    new.diagonal(dim1=-2, dim2=-1).zero_()
    return new


def link_update(link: Tensor, precedence: Tensor, write_weights: Tensor) -> Tensor:
    r"""Temporal link matrix: $L_t[i, j]$, the degree to which slot $i$ was written after slot $j$.

    Graves et al. (2016), Methods, "Temporal memory linkage", with $L_0 = 0$:

    $$L_t[i, j] = \big(1 - w^w_t[i] - w^w_t[j]\big)\, L_{t-1}[i, j]
      + w^w_t[i]\, p_{t-1}[j], \qquad L_t[i, i] = 0.$$

    ``precedence`` is the *previous* step's $p_{t-1}$ (update the precedence with
    `precedence_update` after this). Rows and columns stay in $[0, 1]$ and each sums to at
    most 1 when the inputs are in range. The matrix has $N^2$ entries per sequence.

    Args:
        link: the link matrix $L_{t-1}$.
        precedence: the precedence weighting $p_{t-1}$.
        write_weights: the write weighting $w^w_t$ of this step.

    Returns:
        The link matrix $L_t$ (zero diagonal).

    Shapes:
        link: (B, N, N); precedence, write_weights: (B, N) -> (B, N, N).

    Examples:
        >>> link = link_update(torch.zeros(1, 2, 2), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]]))
        >>> link.tolist()  # slot 1 was written after slot 0
        [[[0.0, 0.0], [1.0, 0.0]]]
    """
    dims = check_shapes("link_update", link=(link, "B N N"))
    check_shapes(
        "link_update",
        precedence=(precedence, "B N"),
        write_weights=(write_weights, "B N"),
        B=dims["B"],
        N=dims["N"],
    )
    return _link_update(link, precedence, write_weights)


def _directional_weights(link: Tensor, read_weights: Tensor) -> tuple[Tensor, Tensor]:
    """Unchecked `directional_weights`: (B,N,N), (B,R,N) -> ((B,R,N), (B,R,N))."""
    forward = torch.bmm(read_weights, link.transpose(1, 2))  # (L w)_i = sum_j L[i, j] w_j
    backward = torch.bmm(read_weights, link)  # (L^T w)_i = sum_j L[j, i] w_j
    return forward, backward


def directional_weights(link: Tensor, read_weights: Tensor) -> tuple[Tensor, Tensor]:
    r"""Forward and backward weightings: one step along the order of writes from each read head.

    Graves et al. (2016), Methods, "Temporal memory linkage". For read head $i$ with its
    previous read weighting $w^{r,i}_{t-1}$:

    $$f^i_t = L_t\, w^{r,i}_{t-1}, \qquad b^i_t = L_t^\top w^{r,i}_{t-1}.$$

    If head $i$ read slot $j$, $f^i_t$ points to the slot written right after $j$ and
    $b^i_t$ to the slot written right before it.

    Args:
        link: the link matrix $L_t$.
        read_weights: the previous read weightings $w^r_{t-1}$, one per read head.

    Returns:
        ``(forward, backward)``: the weightings $f_t$ and $b_t$, one per read head.

    Shapes:
        link: (B, N, N); read_weights: (B, R, N) -> forward, backward: (B, R, N) each.

    Examples:
        >>> link = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])  # slot 1 written after slot 0
        >>> f, b = directional_weights(link, torch.tensor([[[1.0, 0.0]]]))
        >>> f.tolist(), b.tolist()
        ([[[0.0, 1.0]]], [[[0.0, 0.0]]])
    """
    dims = check_shapes("directional_weights", link=(link, "B N N"))
    check_shapes("directional_weights", read_weights=(read_weights, "B R N"), B=dims["B"], N=dims["N"])
    return _directional_weights(link, read_weights)


def _read_weighting(backward: Tensor, content: Tensor, forward: Tensor, modes: Tensor) -> Tensor:
    """Unchecked `read_weighting`: (B,R,N) x 3, (B,R,3) -> (B,R,N)."""
    pi = modes.unsqueeze(-2)  # (B, R, 1, 3)
    out = torch.addcmul(backward * pi[..., 0], content, pi[..., 1])
    return torch.addcmul(out, forward, pi[..., 2])


def read_weighting(backward: Tensor, content: Tensor, forward: Tensor, modes: Tensor) -> Tensor:
    r"""Read weighting: each read head's mix of its backward, content and forward weightings.

    Graves et al. (2016), Methods, "Read weighting". With the read mode
    $\pi^i_t \in \mathcal S_3$ of read head $i$ (softmax-activated):

    $$w^{r,i}_t = \pi^i_t[1]\, b^i_t + \pi^i_t[2]\, c^{r,i}_t + \pi^i_t[3]\, f^i_t.$$

    ``modes[..., 0]``, ``modes[..., 1]`` and ``modes[..., 2]`` weigh the backward, the
    content and the forward weighting, in the paper's order.

    Args:
        backward: the backward weightings $b_t$ (`directional_weights`).
        content: the read heads' content weightings $c^r_t$ (`content_weights`).
        forward: the forward weightings $f_t$.
        modes: the read modes $\pi_t$, each on the simplex.

    Returns:
        The read weightings $w^r_t$.

    Shapes:
        backward, content, forward: (B, R, N); modes: (B, R, 3) -> (B, R, N).

    Examples:
        >>> one = torch.tensor([[[1.0, 0.0]]])
        >>> w = read_weighting(one, one.flip(-1), one, torch.tensor([[[0.0, 1.0, 0.0]]]))
        >>> w.tolist()  # content mode only
        [[[0.0, 1.0]]]
    """
    dims = check_shapes(
        "read_weighting",
        backward=(backward, "B R N"),
        content=(content, "B R N"),
        forward=(forward, "B R N"),
    )
    check_shapes("read_weighting", modes=(modes, "B R 3"), B=dims["B"], R=dims["R"])
    return _read_weighting(backward, content, forward, modes)


# ------------------------------------------------------------ sparse temporal links


def _sparse_link_update(
    values: Tensor, indices: Tensor, precedence: Tensor, write_weights: Tensor, sparsity: int
) -> tuple[Tensor, Tensor]:
    """Unchecked `sparse_link_update`: (B,N,K) x 2, (B,N), (B,N), k -> ((B,N,K), (B,N,K))."""
    B, N, K = values.shape
    # Decay of every stored entry: (1 - w[i] - w[j]) L[i, j].
    w_cols = write_weights.gather(1, indices.flatten(1)).view(B, N, K)
    values = (1.0 - write_weights.unsqueeze(-1) - w_cols) * values
    # The new term w[i] p[j] on the k largest entries of w (rows) and of p (columns).
    w_val, w_idx = write_weights.topk(sparsity, dim=-1)  # (B, k)
    p_val, p_idx = precedence.topk(sparsity, dim=-1)
    rows = w_idx.unsqueeze(-1).expand(B, sparsity, K)
    dense = values.new_zeros(B, sparsity, N).scatter_add(-1, indices.gather(1, rows), values.gather(1, rows))
    dense = dense.scatter_add(
        -1, p_idx.unsqueeze(1).expand(B, sparsity, sparsity), w_val.unsqueeze(-1) * p_val.unsqueeze(1)
    )
    dense = dense.scatter(-1, w_idx.unsqueeze(-1), 0.0)  # L[i, i] = 0
    kept_val, kept_idx = dense.topk(K, dim=-1)  # each rebuilt row keeps its K largest entries
    return values.scatter(1, rows, kept_val), indices.scatter(1, rows, kept_idx)


def sparse_link_update(
    values: Tensor, indices: Tensor, precedence: Tensor, write_weights: Tensor, sparsity: int
) -> tuple[Tensor, Tensor]:
    r"""Row-sparse temporal link matrix: `link_update` keeping $K$ entries per row.

    The sparse link approximation of Rae et al. (2016), "Scaling memory-augmented neural
    networks with sparse reads and writes" (NeurIPS), for the DNC's link matrix: the
    precedence and the write weighting are cut to their $k$ largest entries
    ($\tilde p$, $\tilde w$) for the new term, and each row of $L$ is stored as its
    $K$ largest entries (``values[b, i, :]`` at the columns ``indices[b, i, :]``):

    $$L_t[i, j] \approx \operatorname{top}_K\Big(\big(1 - w^w_t[i] - w^w_t[j]\big)
      L_{t-1}[i, j] + \tilde w^w_t[i]\, \tilde p_{t-1}[j]\Big), \qquad L_t[i, i] = 0,$$

    where only the $k$ rows with $\tilde w^w_t[i] > 0$ are rebuilt (the others only
    decay). The memory is $O(NK)$ per sequence instead of $O(N^2)$, and a step costs
    $O(NK + kN)$. With $k = K = N$ it equals `link_update` exactly. The gradient flows
    through the kept entries (the choice of entries is treated as a constant, like the
    sort in `allocation_weights`).

    Args:
        values: the stored entries of $L_{t-1}$, $K$ per row.
        indices: their columns (long, in $[0, N)$).
        precedence: the precedence weighting $p_{t-1}$.
        write_weights: the write weighting $w^w_t$ of this step.
        sparsity: $k$, entries of $w^w_t$ and $p_{t-1}$ in the new term
            ($1 \le k \le N$).

    Returns:
        ``(values, indices)`` of $L_t$, $K$ per row.

    Shapes:
        values, indices: (B, N, K); precedence, write_weights: (B, N) -> (B, N, K) each.

    Examples:
        >>> values, indices = torch.zeros(1, 3, 1), torch.zeros(1, 3, 1, dtype=torch.long)
        >>> values, indices = sparse_link_update(values, indices, torch.tensor([[1.0, 0.0, 0.0]]),
        ...                                      torch.tensor([[0.0, 1.0, 0.0]]), 1)
        >>> values[0, 1].tolist(), indices[0, 1].tolist()  # slot 1 was written after slot 0
        ([1.0], [0])
    """
    where = "sparse_link_update"
    dims = check_shapes(
        where,
        values=(values, "B N K"),
        indices=(indices, "B N K"),
        precedence=(precedence, "B N"),
        write_weights=(write_weights, "B N"),
    )
    check_int(where, sparsity=sparsity)
    if sparsity > dims["N"] or dims["K"] > dims["N"]:
        raise ValueError(
            f"{where}: expected sparsity and K at most N={dims['N']}, got sparsity={sparsity}, K={dims['K']}"
        )
    if indices.dtype != torch.long:
        raise ValueError(f"{where}: expected indices of dtype torch.int64, got {indices.dtype}")
    return _sparse_link_update(values, indices, precedence, write_weights, sparsity)


def _sparse_directional_weights(values: Tensor, indices: Tensor, read_weights: Tensor) -> tuple[Tensor, Tensor]:
    """Unchecked `sparse_directional_weights`: (B,N,K) x 2, (B,R,N) -> ((B,R,N), (B,R,N))."""
    B, N, K = values.shape
    R = read_weights.shape[1]
    flat = indices.flatten(1).unsqueeze(1).expand(B, R, N * K)  # (B, R, N K)
    at_columns = read_weights.gather(-1, flat).view(B, R, N, K)  # w[indices[i, k]]
    forward = (values.unsqueeze(1) * at_columns).sum(-1)  # sum_k L[i, j_k] w[j_k]
    spread = (values.unsqueeze(1) * read_weights.unsqueeze(-1)).flatten(2)  # L[i, j_k] w[i]
    backward = read_weights.new_zeros(B, R, N).scatter_add(-1, flat, spread)
    return forward, backward


def sparse_directional_weights(values: Tensor, indices: Tensor, read_weights: Tensor) -> tuple[Tensor, Tensor]:
    r"""Forward and backward weightings from a row-sparse link matrix (`sparse_link_update`).

    The same as `directional_weights` for the matrix whose row $i$ holds ``values[b, i, :]``
    at the columns ``indices[b, i, :]`` (repeated columns add up):

    $$f^i_t = L_t\, w^{r,i}_{t-1}, \qquad b^i_t = L_t^\top w^{r,i}_{t-1},$$

    in $O(RNK)$ instead of $O(RN^2)$.

    Args:
        values: the stored entries of $L_t$, $K$ per row.
        indices: their columns (long).
        read_weights: the previous read weightings $w^r_{t-1}$, one per read head.

    Returns:
        ``(forward, backward)``, one weighting per read head.

    Shapes:
        values, indices: (B, N, K); read_weights: (B, R, N) -> forward, backward: (B, R, N) each.

    Examples:
        >>> values, indices = torch.tensor([[[0.0], [1.0]]]), torch.tensor([[[0], [0]]])
        >>> f, b = sparse_directional_weights(values, indices, torch.tensor([[[1.0, 0.0]]]))
        >>> f.tolist(), b.tolist()
        ([[[0.0, 1.0]]], [[[0.0, 0.0]]])
    """
    where = "sparse_directional_weights"
    dims = check_shapes(where, values=(values, "B N K"), indices=(indices, "B N K"))
    check_shapes(where, read_weights=(read_weights, "B R N"), B=dims["B"], N=dims["N"])
    if indices.dtype != torch.long:
        raise ValueError(f"{where}: expected indices of dtype torch.int64, got {indices.dtype}")
    return _sparse_directional_weights(values, indices, read_weights)
