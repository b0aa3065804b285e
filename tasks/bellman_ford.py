"""Bellman-Ford predecessor (CLRS-30): every node's predecessor on a shortest path from the source.

    python -m tasks.bellman_ford --out runs/bellman_ford [--seed S] [--steps N] ...

Erdős–Rényi graphs with symmetric weights U[0, 1] as edge features; trains on n = 16,
reports pointer accuracy at n = 16 and n = 64 (TASKS.md). The same model and loop as
``tasks.bfs`` (``tasks._graphs``); the edge weights need the MPNN or the triplet processor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memnets.data.graphs import bellman_ford_graph
from tasks import _harness
from tasks._graphs import PointerConfig, run_pointer_task


@dataclass
class BellmanFordConfig(PointerConfig):
    """Bellman-Ford predecessor: MPNN on weighted G(16, p), tested at n = 16 and 64."""

    out: str = "runs/bellman_ford"
    steps: int = 1000

    def validate(self) -> None:
        """The pointer tasks' rules, then: the edge weights need edge features (not GGNN)."""
        super().validate()
        if self.processor == "ggnn":
            raise ValueError("BellmanFordConfig: the edge weights need processor 'mpnn' or 'triplet', got 'ggnn'")


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(BellmanFordConfig, argv, __doc__)
    return run_pointer_task(cfg, bellman_ford_graph, in_channels=2, edge_dim=2, name="bellman_ford")


if __name__ == "__main__":
    main()
