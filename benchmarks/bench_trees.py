"""Level-batched Tree-LSTM vs per-node recursion (and the pytorch-tree-lstm package).

    python -m benchmarks.bench_trees [--trees 256] [--threads 2] [--device cpu] [--json out.json]

Times one forward + backward pass (loss: the sum of the roots' hidden states) of a
child-sum Tree-LSTM over a batch of ListOps trees (gold structure, seeded), three ways:

1. ``memnets``: `memnets.ChildSumTreeLSTM`, one update per *level* across all trees,
   with the batch's precomputed level schedule;
2. ``per-node``: the same parameters and the same gated update
   (`memnets.functional.tree_lstm_update`), one node at a time by recursion over
   each tree -- the natural way to write a recursive network;
3. ``pytorch-tree-lstm`` (the PyPI package ``pytorch-tree-lstm``, if installed): its
   ``TreeLSTM`` loaded with the same weights, with the node and edge orders it
   precomputes.

All three are first checked to give the same root states. Timings are medians of
``--repeats`` runs after a warm-up; data preparation (collation and schedules, the
package's evaluation orders) is timed separately and not included.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F

from memnets.data.trees import listops_batch
from memnets.functional.gates import tree_lstm_update
from memnets.nn.trees import ChildSumTreeLSTM

#: Recursion depth the per-node evaluation may need (ListOps trees are at most 20 deep).
_RECURSION_LIMIT = 10_000


def time_it(fn: Callable[[], None], repeats: int, sync: Callable[[], None]) -> tuple[float, float]:
    """Median wall-clock and median process CPU seconds of ``fn`` over ``repeats`` runs, after a warm-up.

    On a shared machine the wall clock also counts the time other processes held the
    cores; the CPU time counts only this process's work (with one thread, exactly it).
    """
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


def per_node_forward(model: ChildSumTreeLSTM, x: torch.Tensor, children: list[list[int]], roots: list[int]):
    """Evaluate every tree node by node, recursing into the children first."""
    hidden = model.hidden_size
    w = model.weight_ih.index_select(0, model._update_rows)
    b = (model.bias_ih + model.bias_hh).index_select(0, model._update_rows)
    u = model.weight_hh.index_select(0, model._update_rows)
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
            child_h = child_c = x.new_zeros(0, hidden)
            forget, parent = child_h, torch.zeros(0, dtype=torch.long, device=x.device)
        return tree_lstm_update(gates, forget, child_c, parent)

    return torch.cat([node(r)[0] for r in roots])


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

    torch.set_num_threads(args.threads)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), _RECURSION_LIMIT))
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(args.seed)

    start = time.perf_counter()
    data = listops_batch(args.trees, torch.Generator().manual_seed(args.seed)).tree
    prep_memnets = time.perf_counter() - start  # generation + collation + schedule
    data = data.to(device)
    schedule = data.schedule
    num_nodes = data.num_nodes
    model = ChildSumTreeLSTM(args.input_size, args.hidden_size).to(device)
    x = torch.randn(num_nodes, args.input_size, device=device)
    edges = data.edge_index.cpu()
    children: list[list[int]] = [[] for _ in range(num_nodes)]
    for child, parent in sorted(zip(edges[0].tolist(), edges[1].tolist()), key=lambda e: (e[1], e[0])):
        children[parent].append(child)
    roots = schedule.roots.tolist()

    def run_memnets():
        _, (h_root, _) = model(x, data)
        h_root.sum().backward()

    def run_per_node():
        per_node_forward(model, x, children, roots).sum().backward()

    with torch.no_grad():
        reference = model(x, data)[1][0]
        torch.testing.assert_close(per_node_forward(model, x, children, roots), reference, rtol=1e-4, atol=1e-5)

    results = {
        "trees": args.trees,
        "nodes": num_nodes,
        "levels": schedule.num_levels,
        "input_size": args.input_size,
        "hidden_size": args.hidden_size,
        "threads": args.threads,
        "device": str(device),
        "torch": torch.__version__,
        "seconds": {},
        "cpu_seconds": {},
        "prepare_seconds": {"memnets (generate + collate + schedule)": prep_memnets},
    }
    results["seconds"]["memnets level-batched"], results["cpu_seconds"]["memnets level-batched"] = time_it(
        run_memnets, args.repeats, sync)
    results["seconds"]["per-node recursion"], results["cpu_seconds"]["per-node recursion"] = time_it(
        run_per_node, args.per_node_repeats, sync)

    try:
        import treelstm  # the pytorch-tree-lstm package
    except ImportError:
        results["pytorch-tree-lstm"] = "not installed"
    else:
        hidden = args.hidden_size
        other = treelstm.TreeLSTM(args.input_size, hidden).to(device)
        w_i, w_f, w_g, w_o = model.weight_ih.detach().chunk(4)
        u_i, u_f, u_g, u_o = model.weight_hh.detach().chunk(4)
        b_i, b_f, b_g, b_o = (model.bias_ih + model.bias_hh).detach().chunk(4)
        with torch.no_grad():  # its gate order is i, o, u
            other.W_iou.weight.copy_(torch.cat([w_i, w_o, w_g]))
            other.W_iou.bias.copy_(torch.cat([b_i, b_o, b_g]))
            other.U_iou.weight.copy_(torch.cat([u_i, u_o, u_g]))
            other.W_f.weight.copy_(w_f)
            other.W_f.bias.copy_(b_f)
            other.U_f.weight.copy_(u_f)
        start = time.perf_counter()
        adjacency = sorted(zip(edges[1].tolist(), edges[0].tolist()))  # (parent, child), grouped by parent
        node_order, edge_order = treelstm.calculate_evaluation_orders(adjacency, num_nodes)
        adjacency_t = torch.tensor(adjacency, dtype=torch.long, device=device)
        node_order_t = torch.as_tensor(node_order, device=device)
        edge_order_t = torch.as_tensor(edge_order, device=device)
        results["prepare_seconds"]["pytorch-tree-lstm (evaluation orders)"] = time.perf_counter() - start
        root_index = torch.tensor(roots, device=device)

        def run_package():
            h, _ = other(x, node_order_t, adjacency_t, edge_order_t)
            h[root_index].sum().backward()

        with torch.no_grad():
            h, _ = other(x, node_order_t, adjacency_t, edge_order_t)
            torch.testing.assert_close(h[root_index], reference, rtol=1e-4, atol=1e-5)
        results["seconds"]["pytorch-tree-lstm"], results["cpu_seconds"]["pytorch-tree-lstm"] = time_it(
            run_package, args.repeats, sync)

    base, base_cpu = results["seconds"]["memnets level-batched"], results["cpu_seconds"]["memnets level-batched"]
    results["speedup of memnets over"] = {k: v / base for k, v in results["seconds"].items() if v is not base}
    results["cpu speedup of memnets over"] = {k: v / base_cpu for k, v in results["cpu_seconds"].items()
                                              if v is not base_cpu}

    print(f"ChildSumTreeLSTM forward+backward, {args.trees} ListOps trees ({num_nodes} nodes, "
          f"{schedule.num_levels} levels), F={args.input_size}, H={args.hidden_size}, {device}, "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print(f"| {'method':<24} | {'wall ms':>9} | {'speed-up':>8} | {'CPU ms':>9} | {'speed-up':>8} |")
    print(f"|{'-' * 26}|{'-' * 10}:|{'-' * 9}:|{'-' * 10}:|{'-' * 9}:|")
    for name, seconds in results["seconds"].items():
        cpu = results["cpu_seconds"][name]
        print(f"| {name:<24} | {seconds * 1e3:>9.1f} | {seconds / base:>7.1f}x | {cpu * 1e3:>9.1f} | "
              f"{cpu / base_cpu:>7.1f}x |")
    if isinstance(results.get("pytorch-tree-lstm"), str):
        print(f"pytorch-tree-lstm: {results['pytorch-tree-lstm']}")
    for name, seconds in results["prepare_seconds"].items():
        print(f"preparation, {name}: {seconds * 1e3:.1f} ms")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
