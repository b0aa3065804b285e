"""BFS predecessor (CLRS-30): for every node, its parent in a breadth-first search from the source.

    python -m tasks.bfs --out runs/bfs [--seed S] [--steps N] [--processor mpnn|ggnn] ...

Trains on Erdős–Rényi graphs of n = 16 nodes and reports pointer accuracy on fresh graphs
of n = 16 and, out of distribution, n = 64 (TASKS.md). The model is a
`GraphPointerNet`: T = n message-passing steps (the largest graph's node count; training
draws T ~ U{n, ..., 2n} so the processor learns to hold its answer), with the inputs
re-fed to every message, then a softmax over each node's incoming edges and its
self-loop. The pointer task itself is shared with ``tasks.bellman_ford`` (``tasks._graphs``).
"""

from __future__ import annotations

from typing import Any

from memnets.data.graphs import bfs_graph
from tasks import _harness
from tasks._graphs import PointerConfig, run_pointer_task


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(PointerConfig, argv, __doc__)
    return run_pointer_task(cfg, bfs_graph, in_channels=2, edge_dim=1, name="bfs")


if __name__ == "__main__":
    main()
