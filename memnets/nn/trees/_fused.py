r"""The Child-Sum Tree-LSTM over a whole forest, fused: a few buffers, a hand-derived backward.

`ChildSumTreeLSTM` applies `memnets.functional.tree_lstm_update` level by level (Tai,
Socher & Manning 2015, eqs. (2)-(8)). For node $j$ with children $C(j)$, the node gates
in the order $i, u, o$ and the forget gate apart:

$$a_j = W x_j + b + U \tilde h_j, \quad \tilde h_j = \sum_{k \in C(j)} h_k, \qquad
  a^{(f)}_{jk} = W^{(f)} x_j + b^{(f)} + U^{(f)} h_k,$$
$$c_j = i_j \odot u_j + \sum_{k \in C(j)} f_{jk} \odot c_k, \qquad h_j = o_j \odot \tanh(c_j).$$

Composed from autograd operators (`memnets.nn.trees.LevelBatched`), every level records
a dozen graph nodes and allocates their outputs, and its backward pass concatenates the
gradients of the blocks it split. `child_sum_forest` writes every level in place into a
few forest-wide buffers ($c$, $h$, the children's states, the forget gates); the node
gates are gate-major, (3, n, H), so that each activation runs over contiguous memory,
and the leaves go a tile of rows at a time through one small buffer. For the backward
pass it keeps, instead of the gates, the local derivatives it will multiply by, computed
while the gates are at hand:

$$\ell^{(i)}_j = u_j\, i_j (1 - i_j), \quad \ell^{(u)}_j = i_j (1 - u_j^2), \quad
  \ell^{(o)}_j = \tanh(c_j)\, o_j (1 - o_j), \quad \ell^{(c)}_j = o_j (1 - \tanh^2 c_j), \quad
  \ell^{(f)}_{jk} = c_k\, f_{jk} (1 - f_{jk}).$$

The backward pass walks the levels downwards. With $\delta_j = \partial L / \partial h_j$
and $\gamma_j = \partial L / \partial c_j$, each including what $j$'s parent hands down:

$$\gamma_j \mathrel{+}= \delta_j \odot \ell^{(c)}_j, \qquad
  \bar i_j = \gamma_j \odot \ell^{(i)}_j, \quad \bar u_j = \gamma_j \odot \ell^{(u)}_j, \quad
  \bar o_j = \delta_j \odot \ell^{(o)}_j, \quad \bar f_{jk} = \gamma_j \odot \ell^{(f)}_{jk},$$
$$\gamma_k = \gamma_j \odot f_{jk}, \qquad
  \delta_k \mathrel{+}= U^\top \bar a_j + U^{(f)\top} \bar f_{jk} \quad (k \in C(j)),$$

with $\bar a_j = [\bar i_j, \bar u_j, \bar o_j]$ written into one forest-wide buffer, and
then computes the weight gradients once, over the whole forest, one product per block:

$$\frac{\partial L}{\partial W} = \sum_j \bar a_j x_j^\top, \quad
  \frac{\partial L}{\partial W^{(f)}} = \sum_j \bar a^{(f)}_j x_j^\top, \quad
  \frac{\partial L}{\partial U} = \sum_j \bar a_j \tilde h_j^\top, \quad
  \frac{\partial L}{\partial U^{(f)}} = \sum_{jk} \bar f_{jk} h_k^\top, \qquad
  \bar a^{(f)}_j = \sum_{k \in C(j)} \bar f_{jk},$$

the bias gradients the sums of the same rows, and
$\partial L / \partial x_j = W^\top \bar a_j + W^{(f)\top} \bar a^{(f)}_j$.
On the CPU the forest-wide buffers come from a small pool (`_BufferPool`) that hands
them from one pass to the next. The tests check outputs and gradients against the
composed evaluation, against a per-node recursion of the paper's equations and with
``gradcheck`` in float64, so a change to the Tree-LSTM maths that is not made here too
fails them. The backward pass is not itself differentiable (no double backward).
"""

from __future__ import annotations

import collections
import math
import threading
import weakref
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from memnets.nn.trees.schedule import TreeSchedule

__all__ = ["child_sum_forest"]

#: Node gate blocks (i, u, o) of the gate-major buffer.
_NODE_GATES = 3
#: Rows of the leaf level processed at once (a tile's gates and states stay in a core's cache).
_TILE_ROWS = 1024
#: Local derivatives kept per node (see `_Saved`).
_LOCAL = 4

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # grad · s (1 - s) for s = σ(a)
_tanh_backward = torch.ops.aten.tanh_backward.grad_input  # grad · (1 - t²) for t = tanh(a)
#: Free buffers the pool keeps per dtype and device (a forward's and a backward's).
_POOL_SIZE = 2


class _BufferPool:
    """Flat CPU buffers handed from one pass to the next.

    A pass needs a few forest-wide buffers, tens of MB for a batch of a few thousand
    nodes. Memory the C allocator has just obtained from the operating system is mapped
    in page by page at its first write, and with buffers that large it is often handed
    back at the end of every pass, so a freshly allocated buffer costs its page faults
    again at the next one. The pool keeps the largest ``_POOL_SIZE`` freed buffers per
    dtype and device (their memory stays allocated until the process ends) and hands out
    the smallest that fits. Buffers on other devices are allocated plainly (torch's CUDA
    allocator caches them already).
    """

    def __init__(self) -> None:
        self._free: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
        self._lock = threading.Lock()
        # Buffers handed back by a finalizer: it may run inside the garbage collector at any
        # allocation, also while `take` holds the lock, so it only appends here (an atomic
        # deque operation) and the next `take` or `give` files them under the lock.
        self._returned: collections.deque[Tensor] = collections.deque()

    def take(self, numel: int, like: Tensor) -> Tensor:
        """A flat buffer of at least ``numel`` elements of ``like``'s dtype and device."""
        if like.device.type == "cpu":
            with self._lock:
                self._file_returned()
                free = self._free.get((like.dtype, like.device), [])
                fits = [k for k, t in enumerate(free) if t.numel() >= numel]
                if fits:
                    return free.pop(min(fits, key=lambda k: free[k].numel()))[:numel]
        return like.new_empty(numel)

    def give(self, flat: Tensor) -> None:
        """Return a buffer from `take` (it must not be used afterwards)."""
        self._returned.append(flat)
        with self._lock:
            self._file_returned()

    def give_later(self, flat: Tensor) -> None:
        """`give` for a finalizer: no lock taken, filed at the next `take` or `give`."""
        self._returned.append(flat)

    def _file_returned(self) -> None:
        """File the returned buffers (the lock is held). Off-CPU buffers and tensors made
        under ``torch.inference_mode`` (which a later ordinary pass may not write) are
        dropped instead."""
        while self._returned:
            flat = self._returned.popleft()
            base = flat if flat._base is None else flat._base
            if base.device.type != "cpu" or base.is_inference():
                continue
            free = self._free.setdefault((base.dtype, base.device), [])
            free.append(base)
            free.sort(key=Tensor.numel, reverse=True)
            del free[_POOL_SIZE:]


_POOL = _BufferPool()


def _carve(flat: Tensor, *shapes: tuple[int, ...]) -> list[Tensor]:
    """Consecutive views of ``flat`` with the given shapes."""
    views, offset = [], 0
    for shape in shapes:
        numel = math.prod(shape)
        views.append(flat[offset:offset + numel].view(shape))
        offset += numel
    return views


def _numel(*shapes: tuple[int, ...]) -> int:
    return sum(math.prod(shape) for shape in shapes)


class _Saved:
    r"""What the forward pass keeps for the backward pass, in level order.

    ``local`` (4, V, H): $\ell^{(i)}, \ell^{(u)}, \ell^{(o)}, \ell^{(c)}$ of the module
    docstring; per edge, the child's $h$, $f$ and $\ell^{(f)}$; per node with children,
    $\tilde h$; and ``xl``, the inputs in level order.
    """

    def __init__(self, xl: Tensor, local: Tensor, child_h: Tensor, forget: Tensor, forget_local: Tensor,
                 summed: Tensor) -> None:
        self.xl, self.local, self.child_h, self.summed = xl, local, child_h, summed
        self.forget, self.forget_local = forget, forget_local


def _node_update(g_i: Tensor, g_u: Tensor, g_o: Tensor, cell: Tensor, h: Tensor, local: Tensor,
                 parent: Tensor | None = None, child_cells: Tensor | None = None) -> None:
    """One block of rows: activations in place, ``cell`` and ``h`` written, and their local derivatives.

    ``cell`` = i u (plus the children's f c, added per ``parent``); ``h`` = o tanh(cell).
    """
    g_i.sigmoid_()
    g_u.tanh_()
    g_o.sigmoid_()
    torch.mul(g_i, g_u, out=cell)
    if parent is not None:
        cell.index_add_(0, parent, child_cells)
    tanh_c = torch.tanh(cell, out=h)  # h = o tanh(c) below, in the same buffer
    _sigmoid_backward(g_u, g_i, grad_input=local[0])  # u i (1 - i)
    _tanh_backward(g_i, g_u, grad_input=local[1])  # i (1 - u²)
    _sigmoid_backward(tanh_c, g_o, grad_input=local[2])  # tanh(c) o (1 - o)
    _tanh_backward(g_o, tanh_c, grad_input=local[3])  # o (1 - tanh² c)
    h.mul_(g_o)


def _forward(x: Tensor, weight: Tensor, bias: Tensor | None, weight_hh: Tensor,
             schedule: TreeSchedule) -> tuple[Tensor, Tensor, Tensor, _Saved]:
    """The states of every node, level by level, in place in forest-wide buffers."""
    num_nodes, hidden = schedule.num_nodes, weight_hh.shape[1]
    ptr, edge_ptr = schedule.node_ptr, schedule.edge_ptr
    leaves, num_edges = ptr[1], edge_ptr[-1]
    split = _NODE_GATES * hidden
    w_gates_t = weight[:split].view(_NODE_GATES, hidden, -1).transpose(1, 2).unbind()
    b_gates = (None,) * _NODE_GATES if bias is None else bias[:split].view(_NODE_GATES, hidden).unbind()

    def project(rows: slice, out: Tensor) -> Tensor:  # the node gates' input part, gate-major (3, n, H)
        for w, b, o in zip(w_gates_t, b_gates, out):
            if b is None:
                torch.mm(xl[rows], w, out=o)
            else:
                torch.addmm(b, xl[rows], w, out=o)
        return out

    upper_rows = num_nodes - leaves
    shapes = [(num_nodes, x.shape[1]), (num_nodes, hidden), (num_nodes, hidden), (_LOCAL, num_nodes, hidden),
              (_NODE_GATES, min(_TILE_ROWS, leaves), hidden), (_NODE_GATES, upper_rows, hidden),
              (num_edges, hidden), (num_edges, hidden), (num_edges, hidden), (upper_rows, hidden)]
    arena = _POOL.take(_numel(*shapes), x)
    xl, h, c, local, tile, upper, child_h, forget, forget_local, summed = _carve(arena, *shapes)
    torch.index_select(x, 0, schedule.order, out=xl)  # level order
    # The leaves (no children: c = i u), a tile of rows at a time through one small buffer.
    for start in range(0, leaves, _TILE_ROWS):
        end = min(start + _TILE_ROWS, leaves)
        gates = project(slice(start, end), tile[:, :end - start])
        _node_update(*gates, c[start:end], h[start:end], local[:, start:end])
    # The levels above, each at once; the forget gate's input part only for their nodes.
    project(slice(leaves, num_nodes), upper)
    x_forget = xl[leaves:] @ weight[split:].t() if bias is None else \
        torch.addmm(bias[split:], xl[leaves:], weight[split:].t())
    u_gates_t = weight_hh[:split].view(_NODE_GATES, hidden, hidden).transpose(1, 2).unbind()
    u_forget_t = weight_hh[split:].t()
    for level in range(1, schedule.num_levels):
        start, end, edge_start, edge_end = ptr[level], ptr[level + 1], edge_ptr[level], edge_ptr[level + 1]
        rows = slice(start - leaves, end - leaves)  # the level's rows among the upper levels' nodes
        gates = upper[:, rows]
        parent = schedule.parent[edge_start:edge_end]
        child = schedule.child[edge_start:edge_end]
        kids_h = torch.index_select(h, 0, child, out=child_h[edge_start:edge_end])
        total = summed[rows].zero_().index_add_(0, parent, kids_h)
        for g, u in zip(gates, u_gates_t):
            g.addmm_(total, u)
        f = torch.index_select(x_forget[rows], 0, parent, out=forget[edge_start:edge_end])
        f.addmm_(kids_h, u_forget_t).sigmoid_()
        kids_c = c.index_select(0, child)
        _sigmoid_backward(kids_c, f, grad_input=forget_local[edge_start:edge_end])  # c_k f (1 - f)
        _node_update(*gates, c[start:end], h[start:end], local[:, start:end], parent, kids_c.mul_(f))
    roots = schedule.root_position
    saved = _Saved(xl, local, child_h, forget, forget_local, summed)
    weakref.finalize(saved, _POOL.give_later, arena)  # the buffers go back to the pool with what the backward keeps
    return h.index_select(0, schedule.position), h.index_select(0, roots), c.index_select(0, roots), saved


def _backward(grad_h: Tensor | None, grad_h_root: Tensor | None, grad_c_root: Tensor | None, weight: Tensor,
              weight_hh: Tensor, schedule: TreeSchedule, saved: _Saved, need_x: bool, need_bias: bool):
    """Gradients of x (or None), the input weights, the bias (or None) and the hidden weights.

    The levels downwards, the leaves last a tile at a time; the weight gradients once at
    the end, over the whole forest, one product per block.
    """
    num_nodes, hidden = schedule.num_nodes, weight_hh.shape[1]
    ptr, edge_ptr = schedule.node_ptr, schedule.edge_ptr
    leaves, num_edges = ptr[1], edge_ptr[-1]
    upper_rows = num_nodes - leaves
    split = _NODE_GATES * hidden
    local, xl = saved.local, saved.xl
    shapes = [(num_nodes, hidden), (num_nodes, hidden), (_NODE_GATES, num_nodes, hidden), (num_edges, hidden),
              (upper_rows, hidden)]
    arena = _POOL.take(_numel(*shapes), xl)
    d_h, d_c, d_gates, d_forget, d_x_forget = _carve(arena, *shapes)
    if grad_h is None:
        d_h.zero_()
    else:
        torch.index_select(grad_h, 0, schedule.order, out=d_h)
    d_c.zero_()
    d_x_forget.zero_()
    if grad_h_root is not None:
        d_h.index_add_(0, schedule.root_position, grad_h_root)
    if grad_c_root is not None:
        d_c.index_add_(0, schedule.root_position, grad_c_root)
    u_gates, u_forget = weight_hh[:split].view(_NODE_GATES, hidden, hidden), weight_hh[split:]

    def node_grads(start: int, end: int) -> Tensor:  # ā of rows start:end, completing their γ
        dh, dc, ds, da = d_h[start:end], d_c[start:end], local[:, start:end], d_gates[:, start:end]
        dc.addcmul_(dh, ds[3])  # γ + δ o (1 - tanh² c)
        torch.mul(dc, ds[0], out=da[0])
        torch.mul(dc, ds[1], out=da[1])
        torch.mul(dh, ds[2], out=da[2])
        return da

    for level in reversed(range(1, schedule.num_levels)):
        start, end, edge_start, edge_end = ptr[level], ptr[level + 1], edge_ptr[level], edge_ptr[level + 1]
        edges = slice(edge_start, edge_end)
        da = node_grads(start, end)
        parent, child = schedule.parent[edges], schedule.child[edges]
        dc_parent = d_c[start:end].index_select(0, parent)
        df = torch.mul(dc_parent, saved.forget_local[edges], out=d_forget[edges])  # γ_j c_k f (1 - f)
        d_c.index_add_(0, child, dc_parent.mul_(saved.forget[edges]))  # γ_k = γ_j f_jk
        d_x_forget[start - leaves:end - leaves].index_add_(0, parent, df)
        d_summed = da[0] @ u_gates[0]  # Uᵀ ā_j
        d_summed.addmm_(da[1], u_gates[1]).addmm_(da[2], u_gates[2])
        d_h.index_add_(0, child, torch.addmm(d_summed.index_select(0, parent), df, u_forget))
    node_grads(0, leaves)
    # The weight gradients, once over the whole forest.
    d_weight, d_weight_hh = torch.empty_like(weight), torch.empty_like(weight_hh)
    w_gates = weight[:split].view(_NODE_GATES, hidden, -1)
    for k in range(_NODE_GATES):
        rows = slice(k * hidden, (k + 1) * hidden)
        torch.mm(d_gates[k].t(), xl, out=d_weight[rows])
        torch.mm(d_gates[k, leaves:].t(), saved.summed, out=d_weight_hh[rows])
    torch.mm(d_x_forget.t(), xl[leaves:], out=d_weight[split:])
    torch.mm(d_forget.t(), saved.child_h, out=d_weight_hh[split:])
    d_bias = torch.cat((d_gates.sum(1).reshape(split), d_x_forget.sum(0))) if need_bias else None
    d_x = None
    if need_x:
        d_xl = d_gates[0] @ w_gates[0]
        d_xl.addmm_(d_gates[1], w_gates[1]).addmm_(d_gates[2], w_gates[2])
        d_xl[leaves:].addmm_(d_x_forget, weight[split:])
        d_x = d_xl.index_select(0, schedule.position)
    _POOL.give(arena)
    return d_x, d_weight, d_bias, d_weight_hh


class _ChildSumForest(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, weight_hh: Tensor,
                schedule: TreeSchedule) -> tuple[Tensor, Tensor, Tensor]:
        h, h_root, c_root, saved = _forward(x, weight, bias, weight_hh, schedule)
        ctx.save_for_backward(weight, weight_hh)
        ctx.saved, ctx.schedule, ctx.has_bias = saved, schedule, bias is not None
        ctx.set_materialize_grads(False)
        return h, h_root, c_root

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_h: Tensor | None, grad_h_root: Tensor | None, grad_c_root: Tensor | None):
        weight, weight_hh = ctx.saved_tensors
        d_x, d_weight, d_bias, d_weight_hh = _backward(
            grad_h, grad_h_root, grad_c_root, weight, weight_hh, ctx.schedule, ctx.saved,
            need_x=ctx.needs_input_grad[0], need_bias=ctx.has_bias and ctx.needs_input_grad[2])
        return d_x, d_weight, d_bias, d_weight_hh, None


def child_sum_forest(x: Tensor, weight: Tensor, bias: Tensor | None, weight_hh: Tensor,
                     schedule: TreeSchedule) -> tuple[Tensor, Tensor, Tensor]:
    r"""Every node's $h$ and the roots' $(h, c)$ of a Child-Sum Tree-LSTM over a forest.

    The values of `ChildSumTreeLSTM`'s level-by-level evaluation with `tree_lstm_update`
    (`LevelBatched`), computed in place in forest-wide buffers, with the hand-derived
    backward pass of the module docstring.

    Args:
        x: node features, node order.
        weight: the input weights, rows in the update's order i, u, o, f.
        bias: $b_{ih} + b_{hh}$ in the same order, or ``None``.
        weight_hh: the hidden weights, rows in the same order.
        schedule: the forest's level schedule (at least one level), on ``x``'s device.

    Shapes:
        x: (V, F); weight: (4H, F); bias: (4H,); weight_hh: (4H, H) ->
        h: (V, H) node order; h_root, c_root: (R, H), roots ascending.
    """
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias, weight_hh)):
        return _ChildSumForest.apply(x, weight, bias, weight_hh, schedule)
    h, h_root, c_root, _ = _forward(x, weight, bias, weight_hh, schedule)
    return h, h_root, c_root
