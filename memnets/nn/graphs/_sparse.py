r"""A sparse product with a typed adjacency, built once per forward pass and reused by every step.

With one weight matrix per edge type and sum (or mean) aggregation, the messages a node
receives are a sparse matrix product: transform every node once per type, $(h W_k)$,
and sum over incoming edges,

$$m_v = \sum_{(u, v, k) \in E} w_{uv}\, (h_u W_k)
      = \big(A\, \mathrm{rearrange}(h W, \text{V (K C)} \to \text{(V K) C})\big)_v,$$

where $A$ is the V × (V·K) matrix with $A_{v, uK + k} = w_{uv}$ for an edge from $u$ to
$v$ of type $k$. That costs |V|·K·C² for the transform and |E|·C for the product,
instead of |E|·C² for per-edge matrix products, and never materialises an |E| × C tensor.
`TypedAdjacency` holds $A$ in CSR form and, for the backward pass, $A^\top$ in CSR
form too; both are built with one sort each and shared by every propagation step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["TypedAdjacency", "csr_matmul", "typed_adjacency"]

#: Edges per chunk when the gradient with respect to the edge weights is accumulated
#: (bounds that pass's temporary memory to chunk × C numbers).
_EDGE_CHUNK = 1 << 16


def _csr(crow: Tensor, col: Tensor, values: Tensor, size: tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta" (emitted once by torch)
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _stable_order(keys: Tensor, bound: int) -> Tensor:
    """The permutation that sorts ``keys`` (values in [0, bound)) stably; 32-bit keys sort faster."""
    if bound <= torch.iinfo(torch.int32).max:
        keys = keys.int()
    return torch.sort(keys, stable=True).indices


def _crow(rows: Tensor, num_rows: int) -> Tensor:
    counts = torch.bincount(rows, minlength=num_rows)
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


@dataclass
class TypedAdjacency:
    """The V_dst × V_src sparse matrix of a graph's (typed) edges, in CSR form both ways.

    Attributes:
        source: the column of each edge (its typed source slot u·K + k), in edge order.
        target: the row of each edge (its target node), in edge order.
        values: the edge values in edge order (a weight, or 1/in-degree for a mean), or
            ``None`` for all ones; may require grad.
        matrix: $A$ as a ``torch.sparse_csr`` tensor with detached values.
        matrix_t: $A^\\top$ in CSR form, or ``None`` when no backward pass is needed.
        perm_t: for each entry of ``matrix_t``, its edge id.
    """

    source: Tensor
    target: Tensor
    values: Tensor | None
    matrix: Tensor
    matrix_t: Tensor | None


def typed_adjacency(
    source: Tensor,
    target: Tensor,
    num_sources: int,
    num_targets: int,
    values: Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    with_transpose: bool = True,
) -> TypedAdjacency:
    """Build `TypedAdjacency` from edge lists (one stable sort per direction).

    Args:
        source: column of each edge, in ``[0, num_sources)``.
        target: row of each edge, in ``[0, num_targets)``.
        num_sources: number of columns (V·K for K edge types).
        num_targets: number of rows (V).
        values: optional edge values (E,); ``None`` means ones.
        dtype: dtype of the matrix values when ``values`` is ``None``.
        with_transpose: also build $A^\\top$ (needed for the backward pass).

    Shapes:
        source, target, values: (E,).
    """
    flat = values.detach() if values is not None else torch.ones(source.numel(), dtype=dtype, device=source.device)
    order = _stable_order(target, num_targets)
    matrix = _csr(_crow(target, num_targets), source[order], flat[order], (num_targets, num_sources))
    matrix_t = None
    if with_transpose:
        order_t = _stable_order(source, num_sources)
        matrix_t = _csr(_crow(source, num_sources), target[order_t], flat[order_t], (num_sources, num_targets))
    return TypedAdjacency(source=source, target=target, values=values, matrix=matrix, matrix_t=matrix_t)


def _spmm(matrix: Tensor, dense: Tensor) -> Tensor:
    # On CPU the row-parallel "reduce" kernel is faster than the default CSR product (same sums).
    if matrix.device.type == "cpu":
        return torch.sparse.mm(matrix, dense, "sum")
    return torch.sparse.mm(matrix, dense)


class _CSRMatmul(torch.autograd.Function):
    """``A @ x`` with gradients for ``x`` (via the stored $A^\\top$) and for A's values."""

    @staticmethod
    def forward(ctx, values: Tensor | None, x: Tensor, adjacency: TypedAdjacency) -> Tensor:
        ctx.adjacency = adjacency
        ctx.save_for_backward(x if values is not None and values.requires_grad else None)
        return _spmm(adjacency.matrix, x)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        adjacency: TypedAdjacency = ctx.adjacency
        grad = grad.contiguous()
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:
            if adjacency.matrix_t is None:
                raise RuntimeError("csr_matmul: the adjacency was built without its transpose (with_transpose=False)")
            grad_x = _spmm(adjacency.matrix_t, grad)
        if ctx.needs_input_grad[0]:
            # d out[t] / d w_e = x[s] for an edge e from s to t.
            parts = []
            for start in range(0, adjacency.source.numel(), _EDGE_CHUNK):
                s = adjacency.source[start:start + _EDGE_CHUNK]
                t = adjacency.target[start:start + _EDGE_CHUNK]
                parts.append((grad[t] * x[s]).sum(-1))
            grad_values = torch.cat(parts) if parts else grad.new_zeros(0)
        return grad_values, grad_x, None


def csr_matmul(adjacency: TypedAdjacency, x: Tensor) -> Tensor:
    """$A x$: sum over each target's incoming edges of value × source row.

    Differentiable in ``x`` and in ``adjacency.values``; nothing of size |E| × C is stored.

    Shapes:
        x: (num_sources, C) -> (num_targets, C).
    """
    return _CSRMatmul.apply(adjacency.values, x, adjacency)
