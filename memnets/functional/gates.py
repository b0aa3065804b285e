r"""The gated-update core: the gate arithmetic of the recurrent, tree and graph cells.

The sequence cells (Elman, LSTM and its variants, GRU, leaky integrators), the NTM's
LSTM controller, the tree networks and the graph networks compute their pre-activations
with their own weights and then call one of these pure functions to turn
pre-activations and the old state into the new state, so a change to the LSTM update is
one edit here. The NTM's and DNC's addressing and memory arithmetic (content weights,
shifts, reads and writes) is not gate arithmetic: it lives in
`memnets.functional.addressing` and `memnets.functional.memory`.

All functions are pure: no parameters, no state, no in-place operations on inputs.
Shapes: ``B`` batch (or nodes, for trees and graphs), ``Hd`` hidden size, ``E`` child
edges.
"""

from __future__ import annotations

import torch
from torch import Tensor

from memnets._checks import check_shapes

__all__ = [
    "ACTIVATIONS",
    "RNN_NUM_GATES",
    "GRU_NUM_GATES",
    "SATURATED",
    "rnn_update",
    "lstm_update",
    "LSTM_VARIANTS",
    "lstm_num_gates",
    "gru_update",
    "leaky_update",
    "tree_lstm_update",
    "tree_lstm_leaf_update",
]

#: Nonlinearities accepted by `rnn_update` and `leaky_update`.
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}

#: Gate blocks (multiples of the hidden size) in the weights of a plain RNN and of a GRU.
RNN_NUM_GATES = 1
GRU_NUM_GATES = 3

#: A gate pre-activation whose sigmoid is exactly 1 (and its negative's exactly 0), with
#: derivative exactly 0, in every floating dtype: exp(-1e4) underflows to 0 even in float64.
#: The fused kernels use it to hold a gate open or shut.
SATURATED = 1e4

#: LSTM variants understood by `lstm_update`, with the number of gate blocks each
#: expects in its pre-activation tensor.
LSTM_VARIANTS = {"vanilla": 4, "peephole": 4, "coupled": 3, "no_forget": 3}


def _identity(x: Tensor) -> Tensor:
    return x


def _activation(name: str, where: str = "rnn_update", *, linear: bool = False):
    """The function named ``name`` in `ACTIVATIONS` (and ``"linear"``, the identity, when
    ``linear``); ``ValueError`` naming ``where`` and the choices otherwise."""
    if linear and name == "linear":
        return _identity
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        choices = sorted(ACTIVATIONS) + (["linear"] if linear else [])
        raise ValueError(f"{where}: expected nonlinearity to be one of {choices}, got {name!r}") from None


def lstm_num_gates(variant: str) -> int:
    """Number of gate blocks (multiples of the hidden size) a variant's weights produce.

    Args:
        variant: one of ``"vanilla"``, ``"peephole"``, ``"coupled"``, ``"no_forget"``.

    Returns:
        4 for ``vanilla`` and ``peephole`` (i, f, g, o); 3 for ``coupled`` (f, g, o) and
        ``no_forget`` (i, g, o).
    """
    try:
        return LSTM_VARIANTS[variant]
    except KeyError:
        raise ValueError(f"expected an LSTM variant in {sorted(LSTM_VARIANTS)}, got {variant!r}") from None


def rnn_update(pre: Tensor, nonlinearity: str = "tanh") -> Tensor:
    r"""Elman recurrent update: the new state is the activated pre-activation.

    Elman (1990), "Finding structure in time":

    $$h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$$

    Args:
        pre: the summed pre-activation $W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$.
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).

    Shapes:
        pre: (B, Hd) -> (B, Hd).

    Examples:
        >>> h = rnn_update(torch.zeros(2, 3))
    """
    return _activation(nonlinearity, "rnn_update")(pre)


def lstm_update(
    gates: Tensor,
    c: Tensor,
    *,
    variant: str = "vanilla",
    peephole: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    r"""LSTM state update from gate pre-activations, in torch's gate order.

    Hochreiter & Schmidhuber (1997); forget gate from Gers, Schmidhuber & Cummins (2000);
    peepholes from Gers & Schmidhuber (2000); the coupled and no-forget variants as in
    Greff et al. (2017), "LSTM: A Search Space Odyssey". With $a$ the pre-activations
    ($W x_t + U h_{t-1} + b$), the ``vanilla`` update is

    $$i = \sigma(a_i),\quad f = \sigma(a_f),\quad g = \tanh(a_g),\quad o = \sigma(a_o)$$

    $$c_t = f \odot c_{t-1} + i \odot g, \qquad h_t = o \odot \tanh(c_t).$$

    Variants:

    * ``peephole``: the gates also see the cell,
      $i = \sigma(a_i + p_i \odot c_{t-1})$, $f = \sigma(a_f + p_f \odot c_{t-1})$,
      $o = \sigma(a_o + p_o \odot c_t)$; ``peephole`` holds $(p_i, p_f, p_o)$.
    * ``coupled``: no input gate, $i = 1 - f$; ``gates`` holds $(a_f, a_g, a_o)$.
    * ``no_forget``: the 1997 LSTM, $c_t = c_{t-1} + i \odot g$; ``gates`` holds
      $(a_i, a_g, a_o)$.

    Args:
        gates: gate pre-activations, blocks of size Hd in the order above
            (``vanilla``/``peephole``: i, f, g, o as in ``torch.nn.LSTMCell``).
        c: the previous cell state $c_{t-1}$.
        variant: ``"vanilla"``, ``"peephole"``, ``"coupled"`` or ``"no_forget"``.
        peephole: the peephole weights $(p_i, p_f, p_o)$, required by and only
            accepted with ``variant="peephole"``.

    Returns:
        ``(h, c_new)``, the new hidden and cell states.

    Shapes:
        gates: (B, G·Hd) with G = 4 (vanilla, peephole) or 3 (coupled, no_forget);
        c: (B, Hd); peephole: (3, Hd); h, c_new: (B, Hd).

    Examples:
        >>> h, c = lstm_update(torch.zeros(2, 4 * 3), torch.zeros(2, 3))
    """
    num = lstm_num_gates(variant)
    dims = check_shapes("lstm_update", c=(c, "B Hd"))
    check_shapes("lstm_update", gates=(gates, "B GHd"), B=dims["B"], GHd=num * dims["Hd"])
    if variant == "peephole":
        if peephole is None:
            raise ValueError("lstm_update: variant='peephole' needs peephole weights of shape (3, Hd), got None")
        check_shapes("lstm_update", peephole=(peephole, "3 Hd"), Hd=dims["Hd"])
    elif peephole is not None:
        raise ValueError(f"lstm_update: peephole weights are only used with variant='peephole', got variant={variant!r}")
    return _lstm_update_unchecked(gates, c, variant, peephole)


def _lstm_update_unchecked(
    gates: Tensor, c: Tensor, variant: str = "vanilla", peephole: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The arithmetic of `lstm_update`, without the shape checks.

    For hot loops (the time loop of `memnets.LSTM`) whose module validated the
    shapes once at its boundary. The public function calls this one, so the LSTM update
    is written once.
    """
    if variant == "vanilla":
        i, f, g, o = gates.chunk(4, dim=-1)
        c_new = torch.addcmul(torch.sigmoid(f) * c, torch.sigmoid(i), torch.tanh(g))
        return torch.sigmoid(o) * torch.tanh(c_new), c_new
    if variant == "peephole":
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=-1)
        p_i, p_f, p_o = peephole.unbind(0)
        c_new = torch.sigmoid(a_f + p_f * c) * c + torch.sigmoid(a_i + p_i * c) * torch.tanh(a_g)
        return torch.sigmoid(a_o + p_o * c_new) * torch.tanh(c_new), c_new
    if variant == "coupled":
        a_f, a_g, a_o = gates.chunk(3, dim=-1)
        f = torch.sigmoid(a_f)
        c_new = f * c + (1.0 - f) * torch.tanh(a_g)
        return torch.sigmoid(a_o) * torch.tanh(c_new), c_new
    if variant == "no_forget":
        a_i, a_g, a_o = gates.chunk(3, dim=-1)
        c_new = c + torch.sigmoid(a_i) * torch.tanh(a_g)
        return torch.sigmoid(a_o) * torch.tanh(c_new), c_new
    raise ValueError(f"expected an LSTM variant in {sorted(LSTM_VARIANTS)}, got {variant!r}")


def gru_update(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    r"""GRU state update from input and hidden pre-activations, equal to ``torch.nn.GRUCell``.

    Cho et al. (2014), "Learning phrase representations using RNN encoder-decoder", in
    torch's formulation (the reset gate applied after the hidden projection):

    $$r = \sigma(g^x_r + g^h_r),\quad z = \sigma(g^x_z + g^h_z),\quad
      n = \tanh(g^x_n + r \odot g^h_n)$$

    $$h_t = (1 - z) \odot n + z \odot h_{t-1},$$

    where $g^x = W_{ih} x_t + b_{ih}$ and $g^h = W_{hh} h_{t-1} + b_{hh}$.

    Args:
        gi: input pre-activations $g^x$ in the order r, z, n.
        gh: hidden pre-activations $g^h$ in the order r, z, n.
        h: the previous hidden state $h_{t-1}$.

    Returns:
        The new hidden state $h_t$.

    Shapes:
        gi, gh: (B, 3·Hd); h: (B, Hd) -> (B, Hd).

    Examples:
        >>> h = gru_update(torch.zeros(2, 9), torch.zeros(2, 9), torch.zeros(2, 3))
    """
    dims = check_shapes("gru_update", h=(h, "B Hd"))
    check_shapes("gru_update", gi=(gi, "B G"), gh=(gh, "B G"), B=dims["B"], G=3 * dims["Hd"])
    return _gru_update_unchecked(gi, gh, h)


def _gru_update_unchecked(gi: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    """The arithmetic of `gru_update`, without the shape checks (for hot loops)."""
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n)


def leaky_update(pre: Tensor, h: Tensor, alpha: Tensor, nonlinearity: str = "tanh") -> Tensor:
    r"""Leaky-integrator update with a rate per unit (multiple time scales).

    Jaeger et al. (2007), "Optimization and applications of echo state networks with
    leaky-integrator neurons"; Goodfellow, Bengio & Courville (2016), §10.9:

    $$h_t = (1 - \alpha) \odot h_{t-1} + \alpha \odot \phi(a_t),$$

    with $a_t$ the pre-activation and $\alpha \in [0, 1]$ the rate of each unit
    ($\alpha = 1$ is the Elman update, small $\alpha$ a slow unit).

    Args:
        pre: the pre-activation $a_t$.
        h: the previous state $h_{t-1}$.
        alpha: the per-unit rates, already in [0, 1].
        nonlinearity: ``"tanh"`` or ``"relu"`` ($\phi$).

    Shapes:
        pre, h: (B, Hd); alpha: (Hd,) or (B, Hd) -> (B, Hd).

    Examples:
        >>> h = leaky_update(torch.zeros(2, 3), torch.ones(2, 3), torch.full((3,), 0.5))
    """
    dims = check_shapes("leaky_update", h=(h, "B Hd"), pre=(pre, "B Hd"))
    if alpha.dim() == 1:
        check_shapes("leaky_update", alpha=(alpha, "Hd"), Hd=dims["Hd"])
    else:
        check_shapes("leaky_update", alpha=(alpha, "B Hd"), **dims)
    return _leaky_update_unchecked(pre, h, alpha, nonlinearity)


def _leaky_update_unchecked(pre: Tensor, h: Tensor, alpha: Tensor, nonlinearity: str = "tanh") -> Tensor:
    """The arithmetic of `leaky_update`, without the shape checks (for hot loops)."""
    candidate = _activation(nonlinearity, "leaky_update")(pre)
    return h + alpha * (candidate - h)


def tree_lstm_update(
    gates: Tensor,
    forget: Tensor,
    child_c: Tensor,
    parent: Tensor,
) -> tuple[Tensor, Tensor]:
    r"""Tree-LSTM node update with one forget gate per child.

    Tai, Socher & Manning (2015), "Improved semantic representations from tree-structured
    LSTM networks", eqs. (2)-(8). For node $j$ with children $C(j)$:

    $$i_j = \sigma(a_{i,j}),\quad o_j = \sigma(a_{o,j}),\quad u_j = \tanh(a_{u,j}),
      \quad f_{jk} = \sigma(a_{f,jk})$$

    $$c_j = i_j \odot u_j + \sum_{k \in C(j)} f_{jk} \odot c_k,
      \qquad h_j = o_j \odot \tanh(c_j).$$

    The child-sum and N-ary Tree-LSTMs differ only in how the pre-activations $a$ are
    computed, so both call this function. With exactly one child per node it is the LSTM
    update (`lstm_update`) with $u = g$.

    Args:
        gates: node pre-activations in the order i, u, o (torch's LSTM order with the
            forget block removed, $u$ in the place of $g$), one row per updated node.
        forget: forget-gate pre-activations $a_{f,jk}$, one row per child edge.
        child_c: the cell state $c_k$ of each edge's child, aligned with ``forget``.
        parent: for each child edge, the row of ``gates`` its parent occupies
            (values in ``[0, V)``).

    Returns:
        ``(h, c)`` of the V updated nodes.

    Shapes:
        gates: (V, 3·Hd); forget, child_c: (E, Hd); parent: (E,) integer -> h, c: (V, Hd).
        E may be 0 (a level of leaves).

    Raises:
        ValueError: on mismatched shapes, a non-integer ``parent``, or (for CPU tensors)
            a parent outside ``[0, V)``.

    Examples:
        >>> h, c = tree_lstm_update(torch.zeros(2, 9), torch.zeros(3, 3),
        ...                         torch.ones(3, 3), torch.tensor([0, 0, 1]))
    """
    dims = check_shapes("tree_lstm_update", child_c=(child_c, "E Hd"), forget=(forget, "E Hd"))
    check_shapes("tree_lstm_update", gates=(gates, "V G"), parent=(parent, "E"), G=3 * dims["Hd"], E=dims["E"])
    if parent.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"tree_lstm_update: expected an integer parent index, got dtype {parent.dtype}")
    # The range check reads the indices, a device synchronisation off the CPU: there it is
    # left to index_add's own device-side assertion.
    if parent.device.type == "cpu" and parent.numel():
        low, high = int(parent.min()), int(parent.max())
        if low < 0 or high >= gates.shape[0]:
            raise ValueError(f"tree_lstm_update: expected every parent in [0, V={gates.shape[0]}), "
                             f"got values in [{low}, {high}]")
    return _tree_lstm_update_unchecked(gates, forget, child_c, parent)


def _tree_lstm_update_unchecked(gates: Tensor, forget: Tensor, child_c: Tensor, parent: Tensor) -> tuple[Tensor, Tensor]:
    """The arithmetic of `tree_lstm_update`, without the checks (for the level loop)."""
    a_i, a_u, a_o = gates.chunk(3, dim=-1)
    fc = torch.sigmoid(forget) * child_c
    c = torch.sigmoid(a_i) * torch.tanh(a_u)
    c = c.index_add(0, parent, fc)
    return torch.sigmoid(a_o) * torch.tanh(c), c


def tree_lstm_leaf_update(gates: Tensor) -> tuple[Tensor, Tensor]:
    r"""Tree-LSTM update of nodes without children (leaves).

    `tree_lstm_update` with the empty child set $C(j) = \emptyset$ (Tai, Socher &
    Manning 2015, eqs. (2)-(8)): no forget gates, no child cells,

    $$c_j = \sigma(a_{i,j}) \odot \tanh(a_{u,j}), \qquad h_j = \sigma(a_{o,j}) \odot \tanh(c_j).$$

    Args:
        gates: node pre-activations in the order i, u, o, as for `tree_lstm_update`.

    Returns:
        ``(h, c)`` of the V leaves.

    Shapes:
        gates: (V, 3·Hd) -> h, c: (V, Hd).

    Examples:
        >>> h, c = tree_lstm_leaf_update(torch.zeros(2, 9))
        >>> h.shape
        torch.Size([2, 3])
    """
    dims = check_shapes("tree_lstm_leaf_update", gates=(gates, "V G"))
    if dims["G"] % 3:
        raise ValueError(f"tree_lstm_leaf_update: expected gates of width 3·Hd (i, u, o), got width {dims['G']}")
    return _tree_lstm_leaf_update_unchecked(gates)


def _tree_lstm_leaf_update_unchecked(gates: Tensor) -> tuple[Tensor, Tensor]:
    """The arithmetic of `tree_lstm_leaf_update`, without the checks (for the level loop)."""
    a_i, a_u, a_o = gates.chunk(3, dim=-1)
    c = torch.sigmoid(a_i) * torch.tanh(a_u)
    return torch.sigmoid(a_o) * torch.tanh(c), c
