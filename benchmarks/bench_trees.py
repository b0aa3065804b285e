"""Level-batched Tree-LSTM vs per-node recursion and the pytorch-tree-lstm package, end to end.

    python -m benchmarks.bench_trees [--trees 256] [--threads 2] [--device cpu] [--json out.json]

Times one training pass of a child-sum Tree-LSTM over a batch of ListOps trees (gold
structure, seeded), starting from the generated forest (``edge_index``, ``child_slot``):
preparing what the method needs from the forest, then the forward pass and the backward
pass (loss: the sum of the roots' hidden states). Three methods:

1. ``memnets``: `memnets.ChildSumTreeLSTM`, one update per *level* across all trees;
   preparation: the level schedule (`memnets.nn.trees.tree_schedule`). Also timed with
   the schedule computed once beforehand (``memnets, cached schedule``), as for a fixed
   data set or an evaluation set that is read again;
2. ``per-node``: the same parameters and the same gated update
   (`memnets.functional.tree_lstm_update`), one node at a time by recursion over each
   tree -- the natural way to write a recursive network; preparation: the children lists;
3. ``pytorch-tree-lstm`` (the PyPI package ``pytorch-tree-lstm``, if installed): its
   ``TreeLSTM`` loaded with the same weights; preparation: its
   ``calculate_evaluation_orders`` and the index tensors.

All three are first checked to give the same root states. Timings are medians of
``--repeats`` runs after a warm-up, wall clock and process CPU time (on a shared machine
the wall clock also counts the time other processes held the cores). The ratios print
which way they go: "memnets is N× faster than X".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F

from benchmarks._common import speedup, write_json
from memnets.data.trees import listops_batch
from memnets.functional.gates import tree_lstm_update
from memnets.nn.trees import ChildSumTreeLSTM, tree_schedule

#: Recursion depth the per-node evaluation may need (ListOps trees are at most 20 deep).
_RECURSION_LIMIT = 10_000
_MEMNETS = "memnets (schedule + forward + backward)"
_CACHED = "memnets, cached schedule"
_PER_NODE = "per-node recursion"
_PACKAGE = "pytorch-tree-lstm"


def time_it(fn: Callable[[], None], repeats: int, sync: Callable[[], None]) -> tuple[float, float]:
    """Median wall-clock and median process CPU seconds of ``fn`` over ``repeats`` runs, after a warm-up."""
    fn()
    sync()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def children_lists(edge_index: torch.Tensor, child_slot: torch.Tensor, num_nodes: int) -> list[list[int]]:
    """Each node's children in slot order (the per-node method's preparation)."""
    children: list[list[int]] = [[] for _ in range(num_nodes)]
    edges = sorted(zip(edge_index[1].tolist(), child_slot.tolist(), edge_index[0].tolist()))
    for parent, _, child in edges:
        children[parent].append(child)
    return children


def per_node_forward(model: ChildSumTreeLSTM, x: torch.Tensor, children: list[list[int]], roots: list[int]):
    """Evaluate every tree node by node, recursing into the children first."""
    hidden = model.hidden_size
    rows = model._update_rows
    w = model.weight_ih.index_select(0, rows)
    b = (model.bias_ih + model.bias_hh).index_select(0, rows)
    u = model.weight_hh.index_select(0, rows)
    u_iuo, u_f = u[: 3 * hidden], u[3 * hidden:]

    def node(j: int):
        kids = [node(k) for k in children[j]]
        xp = F.linear(x[j : j + 1], w, b)
        gates, x_f = xp[:, : 3 * hidden], xp[:, 3 * hidden:]
        if kids:
            child_h = torch.cat([h for h, _ in kids])
            child_c = torch.cat([c for _, c in kids])
            gates = gates + F.linear(child_h.sum(0, keepdim=True), u_iuo)
            forget = x_f + F.linear(child_h, u_f)
            parent = torch.zeros(len(kids), dtype=torch.long, device=x.device)
        else:
            child_c = forget = x.new_zeros(0, hidden)
            parent = torch.zeros(0, dtype=torch.long, device=x.device)
        return tree_lstm_update(gates, forget, child_c, parent)

    return torch.cat([node(r)[0] for r in roots])


def package_model(treelstm: Any, model: ChildSumTreeLSTM, device: torch.device) -> torch.nn.Module:
    """pytorch-tree-lstm's ``TreeLSTM`` with ``model``'s weights (its gate order is i, o, u)."""
    other = treelstm.TreeLSTM(model.input_size, model.hidden_size).to(device)
    w_i, w_f, w_g, w_o = model.weight_ih.detach().chunk(4)
    u_i, u_f, u_g, u_o = model.weight_hh.detach().chunk(4)
    b_i, b_f, b_g, b_o = (model.bias_ih + model.bias_hh).detach().chunk(4)
    with torch.no_grad():
        other.W_iou.weight.copy_(torch.cat([w_i, w_o, w_g]))
        other.W_iou.bias.copy_(torch.cat([b_i, b_o, b_g]))
        other.U_iou.weight.copy_(torch.cat([u_i, u_o, u_g]))
        other.W_f.weight.copy_(w_f)
        other.W_f.bias.copy_(b_f)
        other.U_f.weight.copy_(u_f)
    return other


def _ratio_line(name: str, ours: float, theirs: float, what: str) -> str:
    factor, way = speedup(theirs / ours)
    return f"memnets is {factor:.1f}x {way} than {name} ({what})"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trees", type=int, default=256)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--per-node-repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    for name in ("trees", "input_size", "hidden_size", "threads", "repeats", "per_node_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")

    torch.set_num_threads(args.threads)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), _RECURSION_LIMIT))
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(args.seed)

    start = time.perf_counter()
    forest = listops_batch(args.trees, torch.Generator().manual_seed(args.seed)).tree
    generate_seconds = time.perf_counter() - start
    edge_index, child_slot, num_nodes = forest.edge_index, forest.child_slot, forest.num_nodes
    model = ChildSumTreeLSTM(args.input_size, args.hidden_size).to(device)
    x = torch.randn(num_nodes, args.input_size, device=device)
    cached = tree_schedule(edge_index.to(device), num_nodes, child_slot.to(device))
    roots = cached.roots.tolist()

    def run_memnets():
        schedule = tree_schedule(edge_index.to(device), num_nodes, child_slot.to(device))
        _, (h_root, _) = model(x, schedule)
        h_root.sum().backward()

    def run_cached():
        _, (h_root, _) = model(x, cached)
        h_root.sum().backward()

    def run_per_node():
        children = children_lists(edge_index, child_slot, num_nodes)
        per_node_forward(model, x, children, roots).sum().backward()

    with torch.no_grad():
        reference = model(x, cached)[1][0]
        children = children_lists(edge_index, child_slot, num_nodes)
        torch.testing.assert_close(per_node_forward(model, x, children, roots), reference, rtol=1e-4, atol=1e-5)

    results: dict[str, Any] = {
        "trees": args.trees, "nodes": num_nodes, "levels": cached.num_levels, "input_size": args.input_size,
        "hidden_size": args.hidden_size, "threads": args.threads, "device": str(device),
        "torch": torch.__version__, "generate_seconds": generate_seconds, "seconds": {}, "cpu_seconds": {},
    }
    timings = {_MEMNETS: (run_memnets, args.repeats), _CACHED: (run_cached, args.repeats),
               _PER_NODE: (run_per_node, args.per_node_repeats)}
    try:
        import treelstm  # the pytorch-tree-lstm package
    except ImportError:
        results[_PACKAGE] = "not installed (pip install pytorch-tree-lstm)"
    else:
        other = package_model(treelstm, model, device)
        root_index = torch.tensor(roots, device=device)

        def package_inputs():
            adjacency = sorted(zip(edge_index[1].tolist(), edge_index[0].tolist()))  # (parent, child) by parent
            node_order, edge_order = treelstm.calculate_evaluation_orders(adjacency, num_nodes)
            return (torch.as_tensor(node_order, device=device), torch.tensor(adjacency, device=device),
                    torch.as_tensor(edge_order, device=device))

        def run_package():
            node_order, adjacency, edge_order = package_inputs()
            h, _ = other(x, node_order, adjacency, edge_order)
            h[root_index].sum().backward()

        with torch.no_grad():
            h, _ = other(x, *package_inputs())
            torch.testing.assert_close(h[root_index], reference, rtol=1e-4, atol=1e-5)
        timings[_PACKAGE] = (run_package, args.repeats)

    for name, (fn, repeats) in timings.items():
        results["seconds"][name], results["cpu_seconds"][name] = time_it(fn, repeats, sync)
    prep_wall, prep_cpu = time_it(lambda: tree_schedule(edge_index, num_nodes, child_slot), args.repeats, sync)
    results["schedule_seconds"], results["schedule_cpu_seconds"] = prep_wall, prep_cpu

    base, base_cpu = results["seconds"][_MEMNETS], results["cpu_seconds"][_MEMNETS]
    print(f"ChildSumTreeLSTM, one training pass over {args.trees} ListOps trees ({num_nodes} nodes, "
          f"{cached.num_levels} levels), F={args.input_size}, H={args.hidden_size}, {device}, "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print(f"| {'method (end to end: preparation + forward + backward)':<56} | {'wall ms':>9} | {'CPU ms':>9} |")
    print(f"|{'-' * 58}|{'-' * 10}:|{'-' * 10}:|")
    for name, seconds in results["seconds"].items():
        print(f"| {name:<56} | {seconds * 1e3:>9.1f} | {results['cpu_seconds'][name] * 1e3:>9.1f} |")
    print(f"memnets' preparation (the level schedule): {prep_wall * 1e3:.2f} ms wall, {prep_cpu * 1e3:.2f} ms CPU; "
          f"generating the batch (common to all): {generate_seconds * 1e3:.1f} ms")
    if isinstance(results.get(_PACKAGE), str):
        print(f"{_PACKAGE}: {results[_PACKAGE]}")
    for name in (_PER_NODE, _PACKAGE):
        if name in results["seconds"]:
            print(_ratio_line(name, base, results["seconds"][name], "end to end, wall clock"))
            print(_ratio_line(name, base_cpu, results["cpu_seconds"][name], "end to end, CPU time"))
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
