"""Input checks and small segment operations shared by the graph layers and readouts."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import scatter

from memnets._checks import check_shapes

__all__ = [
    "AGGREGATIONS",
    "check_aggr",
    "check_edge_index",
    "check_node_features",
    "check_batch",
    "pad_features",
    "segment_log_softmax",
    "segment_argmax",
]

#: Neighbourhood aggregations accepted by the layers ("add" is torch_geometric's name for a sum).
AGGREGATIONS = ("add", "sum", "mean", "max")


def check_aggr(where: str, aggr: str) -> str:
    """Return the canonical name of ``aggr`` ("sum" is "add"), or raise ``ValueError``."""
    if aggr not in AGGREGATIONS:
        raise ValueError(f"{where}: expected aggr to be one of {AGGREGATIONS}, got {aggr!r}")
    return "add" if aggr == "sum" else aggr


def check_node_features(where: str, x: Tensor, max_channels: int) -> tuple[int, int]:
    """Check ``x`` is (V, F) floating with F ≤ ``max_channels``; return ``(V, F)``."""
    dims = check_shapes(where, x=(x, "V F"))
    if not x.is_floating_point():
        raise ValueError(f"{where}: expected floating-point node features x, got dtype {x.dtype}")
    if dims["F"] > max_channels:
        raise ValueError(
            f"{where}: expected x of shape (V, F <= {max_channels}) (features are zero-padded to the state size), "
            f"got {tuple(x.shape)}"
        )
    return dims["V"], dims["F"]


def check_edge_index(where: str, edge_index: Tensor, num_nodes: int) -> int:
    """Check ``edge_index`` is a (2, E) integer tensor with entries in [0, V); return E."""
    dims = check_shapes(where, edge_index=(edge_index, "2 E"))
    if edge_index.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{where}: expected an integer edge_index, got dtype {edge_index.dtype}")
    # The value check reads the indices back to Python, which a compiled graph cannot do;
    # eager calls (the first call of a compiled model included) still run it.
    if dims["E"] > 0 and not torch.compiler.is_compiling():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= num_nodes:
            raise ValueError(
                f"{where}: expected edge_index entries in [0, {num_nodes}) for V={num_nodes} nodes, "
                f"got values in [{low}, {high}]"
            )
    return dims["E"]


def check_batch(
    where: str, batch: Tensor | None, num_nodes: int, num_graphs: int | None, device: torch.device
) -> tuple[Tensor, int]:
    """Return ``(batch, B)``: the graph of every node (zeros when ``None``) and the number of graphs."""
    if batch is None:
        batch = torch.zeros(num_nodes, dtype=torch.long, device=device)
        return batch, 1 if num_graphs is None else num_graphs
    check_shapes(where, batch=(batch, "V"), V=num_nodes)
    if batch.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{where}: expected an integer batch vector, got dtype {batch.dtype}")
    if num_graphs is None:
        num_graphs = int(batch.max()) + 1 if num_nodes > 0 else 0
    elif num_nodes > 0 and (int(batch.min()) < 0 or int(batch.max()) >= num_graphs):
        raise ValueError(f"{where}: expected batch entries in [0, {num_graphs}), got [{int(batch.min())}, "
                         f"{int(batch.max())}]")
    return batch, num_graphs


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
