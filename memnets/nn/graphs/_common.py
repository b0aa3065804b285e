"""Input checks and small segment operations shared by the graph layers and readouts.

Every check goes through `memnets._checks`; what is specific to graphs (node indices in
range, a batch vector, an aggregation name) is written here once for every layer.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from memnets._checks import (
    check_choice,
    check_dtype,
    check_int,
    check_positive_int,
    check_shapes,
)

__all__ = [
    "AGGREGATIONS",
    "INDEX_DTYPES",
    "check_aggr",
    "check_batch",
    "check_edge_index",
    "check_features",
    "check_index_dtype",
    "check_index_range",
    "check_node_features",
    "check_num_steps",
    "check_readout_sizes",
    "node_inputs",
    "pad_features",
    "segment_argmax",
    "segment_log_softmax",
]

#: Neighbourhood aggregations accepted by the layers ("add" is torch_geometric's name for a sum).
AGGREGATIONS = ("add", "sum", "mean", "max")
#: Integer dtypes accepted for node indices (``edge_index``, ``batch``) and edge types.
INDEX_DTYPES = (torch.int64, torch.int32)


def check_aggr(where: str, aggr: str) -> str:
    """Return the canonical name of ``aggr`` ("sum" is "add"), or raise ``ValueError``."""
    check_choice(where, "aggr", aggr, AGGREGATIONS)
    return "add" if aggr == "sum" else aggr


def check_index_dtype(where: str, name: str, index: Tensor) -> None:
    """Raise ``ValueError`` unless ``index`` holds 32- or 64-bit integers."""
    if index.dtype not in INDEX_DTYPES:
        raise ValueError(f"{where}: expected an integer {name} (torch.int64 or torch.int32), got dtype {index.dtype}")


def check_index_range(where: str, name: str, index: Tensor, high: int, what: str = "") -> None:
    """Raise ``ValueError`` unless every entry of ``index`` is in [0, ``high``) (``what`` says why)."""
    # The value check reads the indices back to Python, which a compiled graph cannot do;
    # eager calls (the first call of a compiled model included) still run it.
    if index.numel() == 0 or torch.compiler.is_compiling():
        return
    low_seen, high_seen = int(index.min()), int(index.max())
    if low_seen < 0 or high_seen >= high:
        raise ValueError(f"{where}: expected {name} entries in [0, {high}){' ' + what if what else ''}, got values in "
                         f"[{low_seen}, {high_seen}]")


def check_node_features(where: str, x: Tensor, max_channels: int, dtype: torch.dtype) -> tuple[int, int]:
    """Check ``x`` is (V, F) of the module's ``dtype`` with F ≤ ``max_channels``; return ``(V, F)``."""
    dims = check_shapes(where, x=(x, "V F"))
    check_dtype(where, dtype, x=x)
    if dims["F"] > max_channels:
        raise ValueError(
            f"{where}: expected x of shape (V, F <= {max_channels}) (features are zero-padded to the state size), "
            f"got {tuple(x.shape)}"
        )
    return dims["V"], dims["F"]


def check_edge_index(where: str, edge_index: Tensor, num_nodes: int) -> int:
    """Check ``edge_index`` is a (2, E) integer tensor with entries in [0, V); return E."""
    dims = check_shapes(where, edge_index=(edge_index, "2 E"))
    check_index_dtype(where, "edge_index", edge_index)
    check_index_range(where, "edge_index", edge_index, num_nodes, f"for V={num_nodes} nodes")
    return dims["E"]


def check_batch(
    where: str, batch: Tensor | None, num_nodes: int, num_graphs: int | None, device: torch.device
) -> tuple[Tensor, int]:
    """Return ``(batch, B)``: the graph of every node (zeros when ``None``) and the number of graphs.

    Raises:
        ValueError: ``batch`` is not a (V,) integer vector, or an entry is negative or
            (with ``num_graphs`` given) not below ``num_graphs``.
    """
    if batch is None:
        return torch.zeros(num_nodes, dtype=torch.long, device=device), 1 if num_graphs is None else num_graphs
    check_shapes(where, batch=(batch, "V"), V=num_nodes)
    check_index_dtype(where, "batch", batch)
    if num_graphs is None:
        if num_nodes > 0 and int(batch.min()) < 0:
            raise ValueError(f"{where}: expected non-negative batch entries (graph ids), got {int(batch.min())}")
        num_graphs = int(batch.max()) + 1 if num_nodes > 0 else 0
    else:
        check_index_range(where, "batch", batch, num_graphs, f"for num_graphs={num_graphs}")
    return batch, num_graphs


def check_features(where: str, name: str, value: Tensor | None, size: int, rows: str, count: int, option: str,
                   dtype: torch.dtype, *, built: str = "layer", dim: str = "D") -> Tensor | None:
    """Check optional per-node or per-edge features: (``rows``=count, ``dim``=size) of ``dtype``
    when the ``built`` module (a layer, a readout) was built with ``option`` = size > 0,
    absent when it was built with 0.

    Raises:
        ValueError: features missing, unexpected, of a wrong shape or of another dtype.
    """
    if size == 0:
        if value is not None:
            raise ValueError(f"{where}: got {name} but the {built} was built with {option}=0")
        return None
    if value is None:
        raise ValueError(f"{where}: expected {name} of shape ({rows}={count}, {dim}={size}), got None")
    check_shapes(where, **{name: (value, f"{rows} {dim}"), rows: count, dim: size})
    check_dtype(where, dtype, **{name: value})
    return value


def check_readout_sizes(where: str, hidden_channels: int, hidden: int | None, **feature_sizes: int) -> int:
    """Check a readout's sizes: ``hidden_channels`` positive, the optional ``feature_sizes``
    (for example ``edge_dim``) at least 0, and its MLP width ``hidden`` (default
    ``hidden_channels``) positive; return that width."""
    check_positive_int(where, hidden_channels=hidden_channels)
    check_int(where, minimum=0, **feature_sizes)
    width = hidden_channels if hidden is None else hidden
    check_positive_int(where, hidden=width)
    return width


def check_num_steps(where: str, num_steps: int | None, default: int) -> int:
    """``num_steps`` (a non-negative int: 0 steps returns the initial states) or ``default``."""
    if num_steps is None:
        return default
    if isinstance(num_steps, bool) or not isinstance(num_steps, int):
        raise TypeError(f"{where}: num_steps should be of type int, got: {type(num_steps).__name__}")
    if num_steps < 0:
        raise ValueError(f"{where}: num_steps must be at least 0, got {num_steps}")
    return num_steps


def node_inputs(where: str, h: Tensor, x: Tensor | None, hidden: int, inputs: int, dtype: torch.dtype) -> Tensor:
    """``[h_v, x_v]`` for a readout that sees the final states and (``inputs`` > 0) the annotations.

    Shapes:
        h: (V, hidden); x: (V, inputs) or ``None`` when ``inputs`` is 0 -> (V, hidden + inputs).
    """
    dims = check_shapes(where, h=(h, "V H"), H=hidden)
    check_dtype(where, dtype, h=h)
    x = check_features(where, "x", x, inputs, "V", dims["V"], "in_channels", dtype, built="readout", dim="F")
    return h if x is None else torch.cat([h, x], dim=-1)


def pad_features(x: Tensor, channels: int) -> Tensor:
    """Zero-pad node features (V, F) to (V, channels), as GGNN initialises its states."""
    if x.size(-1) == channels:
        return x
    return torch.cat([x, x.new_zeros(x.size(0), channels - x.size(-1))], dim=-1)


def segment_log_softmax(scores: Tensor, index: Tensor, num_segments: int) -> Tensor:
    r"""Log-softmax of ``scores`` within each segment (the entries sharing an ``index``).

    $$\log p_e = s_e - \log \sum_{e' : \mathrm{index}_{e'} = \mathrm{index}_e} \exp s_{e'}.$$

    Shapes:
        scores, index: (E,) -> (E,).
    """
    if scores.numel() == 0:
        return scores
    peak = scatter(scores.detach(), index, 0, dim_size=num_segments, reduce="max")
    shifted = scores - peak[index]
    total = scatter(shifted.exp(), index, 0, dim_size=num_segments, reduce="sum")
    return shifted - total.log()[index]


def segment_argmax(scores: Tensor, index: Tensor, num_segments: int, candidate: Tensor) -> Tensor:
    """For each segment, the ``candidate`` of its highest score (ties: the lowest candidate).

    Empty segments get -1.

    Shapes:
        scores, index, candidate: (E,) -> (num_segments,).
    """
    out = torch.full((num_segments,), -1, dtype=torch.long, device=scores.device)
    if scores.numel() == 0:
        return out
    peak = scatter(scores, index, 0, dim_size=num_segments, reduce="max")
    best = scores == peak[index]
    sentinel = torch.iinfo(torch.long).max
    chosen = torch.where(best, candidate.long(), torch.full_like(candidate, sentinel, dtype=torch.long))
    result = scatter(chosen, index, 0, dim_size=num_segments, reduce="min")
    present = torch.bincount(index, minlength=num_segments) > 0
    return torch.where(present, result, out)
