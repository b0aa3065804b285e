r"""Sum, mean or max of the node states of each graph."""

from __future__ import annotations

from torch import Tensor, nn
from torch_geometric.utils import scatter

from memnets._checks import check_choice, check_floating, check_shapes
from memnets.nn.graphs._common import check_batch

__all__ = ["POOLINGS", "GlobalPoolReadout"]

#: Pooling reductions of `GlobalPoolReadout`, by name.
POOLINGS = ("sum", "mean", "max")


class GlobalPoolReadout(nn.Module):
    r"""Sum, mean or max of the node states of each graph.

    $$h_G = \bigoplus_{v \in G} h_v, \qquad \bigoplus \in \{\textstyle\sum, \mathrm{mean}, \max\}$$

    (a graph without nodes gets zeros), as torch_geometric's ``global_*_pool``. It has no
    parameters, so it computes in the dtype of ``h`` (any floating-point dtype).

    Args:
        aggr: ``"sum"``, ``"mean"`` or ``"max"``.

    Shapes:
        h: (V, H); batch: (V,) (``None``: one graph); output: (B, H).

    Examples:
        >>> GlobalPoolReadout("max")(torch.randn(5, 3), torch.tensor([0, 0, 1, 1, 1])).shape
        torch.Size([2, 3])
    """

    def __init__(self, aggr: str = "sum") -> None:
        super().__init__()
        check_choice("GlobalPoolReadout", "aggr", aggr, POOLINGS)
        self.aggr = aggr

    def forward(self, h: Tensor, batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """The pooled states of every graph, (B, H)."""
        check_shapes("GlobalPoolReadout", h=(h, "V H"))
        check_floating("GlobalPoolReadout", h=h)
        batch, num_graphs = check_batch("GlobalPoolReadout", batch, h.size(0), num_graphs, h.device)
        return scatter(h, batch, 0, dim_size=num_graphs, reduce=self.aggr)

    def extra_repr(self) -> str:
        return repr(self.aggr)
