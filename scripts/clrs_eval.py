"""Evaluate a trained pointer model on the CLRS benchmark's own graphs (dm-clrs).

    # 1. in an environment with the benchmark's package (pip install dm-clrs; it brings jax
    #    and tensorflow, so keep it apart from memnets' environment):
    python scripts/clrs_eval.py export --algorithm bfs --split test --out clrs_bfs_test.npz
    # 2. in memnets' environment:
    python scripts/clrs_eval.py evaluate runs/bfs/model.pt clrs_bfs_test.npz

``export`` draws the graphs with dm-clrs's own sampler (``clrs.build_sampler``) and
writes what a pointer task needs -- each graph's adjacency or weight matrix ``A``, the
source mask ``s`` (none for DFS), the positions ``pos`` and CLRS's answer ``pi`` -- to
one ``.npz`` file, using numpy alone. ``--split train|val|test`` takes the CLRS-30
split's size, count and seed (train: 1,000 graphs of 16 nodes, seed 1; val: 32 of 16,
seed 2; test: 32 of 64, seed 3); ``--length``, ``--num-samples`` and ``--seed`` override
them.

``evaluate`` rebuilds every graph as the memnets generators encode theirs (both
directions of an undirected edge, one self-loop per node, the edge weight as an edge
feature; ``positions="linear"``, which is CLRS's i / n -- checked against the file's
``pos``), runs the model, and prints

* **labels**: the share of nodes where memnets' own algorithm (`bfs_predecessors`,
  `bellman_ford_predecessors`, `dijkstra_predecessors`, `dfs_predecessors`) on the same
  graph gives CLRS's ``pi``: the two benchmarks' ground truths compared;
* **pointers** and **graphs all right**: the model's pointer accuracy against CLRS's
  ``pi``, and the share of graphs whose every pointer is right.

Two differences from memnets' own data remain and are the point of measuring here:
CLRS draws each undirected edge's weight as sqrt(u₁u₂ + 0.001) with u₁, u₂ ~ U[0, 1]
(memnets: one U[0, 1]), and its positions are always i / n (memnets trains on random
sorted positions). Both are inputs the model may not have seen.

With ``--json PATH`` the figures are also written to a file. Bad arguments, a missing
file or a file of another algorithm end with one line and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

#: The pointer algorithms this script moves between the two benchmarks.
ALGORITHMS = ("bfs", "bellman_ford", "dijkstra", "dfs")
#: dm-clrs's CLRS-30 splits: graphs per split, their size and the sampler's seed.
SPLITS = {"train": (1000, 16, 1), "val": (32, 16, 2), "test": (32, 64, 3)}
#: The algorithms whose graphs are undirected and weighted, and whose inputs name a source.
_UNDIRECTED = {"bfs", "bellman_ford", "dijkstra"}
_WEIGHTED = {"bellman_ford", "dijkstra"}


class UsageError(Exception):
    """A bad argument or input file: reported in one line, exit status 2."""


# ---------------------------------------------------------------------------------------
# export: dm-clrs's graphs to a .npz file (dm-clrs and numpy only)


def export(algorithm: str, out: Path, num_samples: int, length: int, seed: int) -> dict[str, Any]:
    """Draw ``num_samples`` graphs of ``length`` nodes with dm-clrs's sampler and save them.

    The file holds ``algorithm``, ``num_nodes`` (G,) and, concatenated over the graphs,
    ``A`` (Σ n², the row-major matrices), ``pos`` and ``pi`` (Σ n) and, for the
    algorithms with a source, ``s`` (Σ n).
    """
    import numpy as np

    try:
        import clrs
    except ImportError as error:
        raise UsageError("export needs the CLRS benchmark's package: pip install dm-clrs "
                         f"(in an environment of its own), got: {error}") from error
    sampler, _ = clrs.build_sampler(algorithm, num_samples=num_samples, length=length, seed=seed)
    feedback = sampler.next(num_samples)
    inputs = {dp.name: np.asarray(dp.data) for dp in feedback.features.inputs}
    outputs = {dp.name: np.asarray(dp.data) for dp in feedback.outputs}
    arrays = {"algorithm": np.array(algorithm), "num_nodes": np.full(num_samples, length, dtype=np.int64),
              "A": inputs["A"].reshape(-1).astype(np.float64), "pos": inputs["pos"].reshape(-1).astype(np.float64),
              "pi": outputs["pi"].reshape(-1).astype(np.int64)}
    if "s" in inputs:
        arrays["s"] = inputs["s"].reshape(-1).astype(np.float64)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with open(partial, "wb") as handle:  # np.savez would add ".npz" to a bare path
        np.savez(handle, **arrays)
    partial.replace(out)
    return {"algorithm": algorithm, "graphs": num_samples, "nodes": length, "seed": seed, "out": str(out)}


# ---------------------------------------------------------------------------------------
# evaluate: a memnets checkpoint on the exported graphs (memnets' environment)


def load_graphs(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The exported file's algorithm and its graphs, one dict of numpy arrays each."""
    import numpy as np

    if not path.is_file():
        raise UsageError(f"expected an exported .npz file, got {str(path)!r}, which does not exist")
    with np.load(path, allow_pickle=False) as data:
        missing = {"algorithm", "num_nodes", "A", "pos", "pi"} - set(data.files)
        if missing:
            raise UsageError(f"{path}: expected a file written by 'export', it lacks {sorted(missing)}")
        algorithm = str(data["algorithm"])
        sizes = data["num_nodes"].tolist()
        arrays = {key: data[key] for key in ("A", "pos", "pi", "s") if key in data.files}
    if algorithm not in ALGORITHMS:
        raise UsageError(f"{path}: expected an algorithm in {ALGORITHMS}, got {algorithm!r}")
    if algorithm != "dfs" and "s" not in arrays:
        raise UsageError(f"{path}: expected the source mask 's' of {algorithm}, it is missing")
    expected = {"A": sum(n * n for n in sizes), "pos": sum(sizes), "pi": sum(sizes)}
    for key, size in expected.items():
        if arrays[key].size != size:
            raise UsageError(f"{path}: expected {size} values of {key!r} for graphs of {sizes[:3]}... nodes, "
                             f"got {arrays[key].size}")
    graphs, node, cell = [], 0, 0
    for n in sizes:
        graph = {"A": arrays["A"][cell:cell + n * n].reshape(n, n), "pos": arrays["pos"][node:node + n],
                 "pi": arrays["pi"][node:node + n]}
        if "s" in arrays:
            graph["s"] = arrays["s"][node:node + n]
        graphs.append(graph)
        node, cell = node + n, cell + n * n
    return algorithm, graphs


def to_networkx(algorithm: str, A: Any):
    """CLRS's matrix as the networkx graph memnets' generators build (no self-loops; the
    weight of an undirected edge from A[u, v])."""
    import networkx as nx

    n = A.shape[0]
    graph = nx.Graph() if algorithm in _UNDIRECTED else nx.DiGraph()
    graph.add_nodes_from(range(n))
    for u in range(n):
        for v in range(n):
            if u != v and A[u, v] != 0 and (algorithm not in _UNDIRECTED or u < v):
                if algorithm in _WEIGHTED:
                    graph.add_edge(u, v, weight=float(A[u, v]))
                else:
                    graph.add_edge(u, v)
    return graph


def to_data(algorithm: str, graph: dict[str, Any]):
    """One exported graph as a memnets pointer example, with CLRS's ``pi`` as the labels,
    and memnets' own labels for the same graph."""
    import numpy as np

    from memnets.data import graphs as generators

    nx_graph = to_networkx(algorithm, graph["A"])
    source = None if algorithm == "dfs" else int(np.argmax(graph["s"]))
    truth = graph["pi"].astype(int).tolist()
    if algorithm == "dfs":
        ours = generators.dfs_predecessors(nx_graph)
    else:
        ours = getattr(generators, f"{algorithm}_predecessors")(nx_graph, source)
    data = generators.pointer_example(nx_graph, source, truth, weighted=algorithm in _WEIGHTED, positions="linear")
    if not np.allclose(data.x[:, -1].numpy(), graph["pos"], atol=1e-6):
        raise UsageError(f"expected CLRS's positions i / n, got {graph['pos'][:4].tolist()}...")
    return data, ours


def evaluate(model_path: Path, data_path: Path, device: str = "cpu") -> dict[str, Any]:
    """The checkpoint's pointer and whole-graph accuracy on the exported graphs against
    CLRS's ``pi``, and the agreement of memnets' labels with ``pi``."""
    import torch
    from torch_geometric.data import Batch

    import memnets
    from memnets.data.graphs import pointer_counts

    algorithm, graphs = load_graphs(data_path)
    if not model_path.is_file():
        raise UsageError(f"expected a checkpoint (model.pt), got {str(model_path)!r}, which does not exist")
    model = memnets.load(model_path).to(device).eval()
    if not hasattr(model, "predict") or type(model).__name__ != "GraphPointerNet":
        raise UsageError(f"{model_path}: expected a GraphPointerNet checkpoint, got {type(model).__name__}")
    examples = [to_data(algorithm, graph) for graph in graphs]
    label_right = sum(int(a == b) for data, ours in examples for a, b in zip(ours, data.predecessor_index.tolist()))
    nodes = sum(data.num_nodes for data, _ in examples)
    right = whole = 0
    with torch.no_grad():
        for start in range(0, len(examples), 64):
            chunk = [data for data, _ in examples[start:start + 64]]
            try:
                batch = Batch.from_data_list(chunk).to(device)
                hits, _, exact = pointer_counts(model.predict(batch), batch)
            except (RuntimeError, ValueError) as error:
                raise UsageError(f"{model_path} does not take {algorithm}'s graphs (trained on another "
                                 f"task?): {str(error).splitlines()[0]}") from error
            right, whole = right + hits, whole + exact
    sizes = sorted({data.num_nodes for data, _ in examples})
    return {"algorithm": algorithm, "graphs": len(examples), "nodes": sizes, "labels": label_right / nodes,
            "accuracy": right / nodes, "graph_accuracy": whole / len(examples)}


# ---------------------------------------------------------------------------------------
# the command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clrs_eval.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser("export", help="dm-clrs's graphs to a .npz file (needs dm-clrs)")
    ex.add_argument("--algorithm", required=True, choices=ALGORITHMS)
    ex.add_argument("--split", default="test", choices=tuple(SPLITS))
    ex.add_argument("--length", type=int, default=None, help="nodes per graph (default: the split's)")
    ex.add_argument("--num-samples", type=int, default=None, help="graphs (default: the split's)")
    ex.add_argument("--seed", type=int, default=None, help="the sampler's seed (default: the split's)")
    ex.add_argument("--out", type=Path, required=True)
    ev = commands.add_parser("evaluate", help="a memnets checkpoint on an exported file")
    ev.add_argument("model", type=Path)
    ev.add_argument("data", type=Path)
    ev.add_argument("--device", default="cpu")
    for sub in (ex, ev):
        sub.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
        sub.add_argument("--force", action="store_true", help="replace existing --out / --json files")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        for path in (getattr(args, "out", None), args.json):
            if path is not None and path.exists() and not args.force:
                raise UsageError(f"{path} exists; pass --force to replace it")
        if args.command == "export":
            count, length, seed = SPLITS[args.split]
            count = count if args.num_samples is None else args.num_samples
            length = length if args.length is None else args.length
            seed = seed if args.seed is None else args.seed
            if count < 1 or length < 2:
                raise UsageError(f"expected --num-samples >= 1 and --length >= 2, got {count} and {length}")
            result = export(args.algorithm, args.out, count, length, seed)
            print(f"wrote {result['graphs']} {args.algorithm} graphs of {length} nodes (seed {seed}) to {args.out}")
        else:
            result = evaluate(args.model, args.data, args.device)
            print(f"{result['algorithm']} on {result['graphs']} CLRS graphs of {result['nodes']} nodes: "
                  f"memnets' labels equal CLRS's pi on {100 * result['labels']:.2f} % of the nodes; "
                  f"pointers {100 * result['accuracy']:.2f} %, graphs all right {100 * result['graph_accuracy']:.2f} %")
    except UsageError as error:
        parser.exit(2, f"clrs_eval.py: error: {error}\n")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
