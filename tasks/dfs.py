"""DFS predecessor (CLRS-30): every node's parent in the depth-first forest of a directed graph.

    python -m tasks.dfs --out runs/dfs [--seed S] [--steps N] [--processor mpnn|ggnn|triplet] ...

Directed Erdős–Rényi graphs, every ordered pair an edge with p = 0.5 (CLRS-30's directed
sampler); the labels are the parents of CLRS's depth-first search (§22.3): roots taken in
index order (the lowest unvisited node), successors explored in index order, a root
pointing to itself. There is no source: the input is the node positions alone, and the
candidates of a node's parent are its in-neighbours and itself. Trains on n = 16 and
reports pointer accuracy and the share of graphs whose every pointer is right at n = 16
and n = 64. The same model and loop as ``tasks.bfs`` (``tasks._graphs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memnets.data.graphs import CLRS_DIRECTED_EDGE_PROB, dfs_graph
from memnets.training import option
from tasks import _harness
from tasks._graphs import PointerConfig, run_pointer_task


@dataclass
class DFSConfig(PointerConfig):
    """DFS predecessor: MPNN on directed G(16, 0.5), tested at n = 16 and 64.

    Args:
        p: probability of each directed edge u → v (CLRS-30's directed graphs: 0.5).
    """

    out: str = "runs/dfs"
    steps: int = 1000
    p: float = option(CLRS_DIRECTED_EDGE_PROB, low=0.0, high=1.0)


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(DFSConfig, argv, __doc__)
    return run_pointer_task(cfg, dfs_graph, in_channels=1, edge_dim=1, name="dfs", directed=True)


if __name__ == "__main__":
    main()
