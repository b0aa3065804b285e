"""Dijkstra predecessor (CLRS-30): every node's predecessor in Dijkstra's algorithm from the source.

    python -m tasks.dijkstra --out runs/dijkstra [--seed S] [--steps N] [--processor mpnn|triplet] ...

The graphs of ``tasks.bellman_ford``: Erdős–Rényi graphs with symmetric weights U[0, 1]
as edge features, a uniform source; the labels are the parents Dijkstra's algorithm
assigns (CLRS §24.3; the same tree as Bellman-Ford's when path lengths are distinct).
Trains on n = 16 and reports pointer accuracy and the share of graphs whose every
pointer is right at n = 16 and n = 64. The same model and loop as ``tasks.bfs``
(``tasks._graphs``); the edge weights need the MPNN or the triplet processor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memnets.data.graphs import dijkstra_graph
from tasks import _harness
from tasks._graphs import PointerConfig, run_pointer_task


@dataclass
class DijkstraConfig(PointerConfig):
    """Dijkstra predecessor: MPNN on weighted G(16, p), tested at n = 16 and 64."""

    out: str = "runs/dijkstra"
    steps: int = 1000

    def validate(self) -> None:
        """The pointer tasks' rules, then: the edge weights need edge features (not GGNN)."""
        super().validate()
        if self.processor == "ggnn":
            raise ValueError("DijkstraConfig: the edge weights need processor 'mpnn' or 'triplet', got 'ggnn'")


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(DijkstraConfig, argv, __doc__)
    return run_pointer_task(cfg, dijkstra_graph, in_channels=2, edge_dim=2, name="dijkstra")


if __name__ == "__main__":
    main()
