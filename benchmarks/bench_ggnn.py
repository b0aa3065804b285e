"""Benchmark: memnets.GatedGraphConv against torch_geometric.nn.GatedGraphConv.

    python -m benchmarks.bench_ggnn [--nodes 200000] [--edges 2000000] [--channels 64]
                                    [--steps 5] [--device cpu|cuda] [--repeats 3] [--json out.json]

Prints a table (times and memory as ratios to torch_geometric: below 1 is better) and, for
every memnets row, "memnets is N× faster/slower than torch_geometric".

One random graph (uniform sources and targets, seeded), both layers configured alike --
one edge type, per-step weights, sum aggregation -- and with the same weights (ours loads
torch_geometric's state dict; the outputs are compared). Measured per implementation:
the time of a forward and backward pass (``out.square().mean().backward()``; the median
of ``--repeats`` runs after one warm-up), wall-clock and CPU time of the process (the
second is steadier on a shared machine), and the peak memory of the pass.

Memory is measured in a fresh subprocess per implementation, so that one's allocator
caches do not count against the other:

* CPU: the peak resident set size (``resource.getrusage(...).ru_maxrss``, which sees every
  allocation torch makes, unlike ``tracemalloc``) minus the resident size just before the
  first measured pass (inputs, model and interpreter excluded). The warm-up runs on a small
  graph, so the peak belongs to the measured passes; the subprocess runs with
  ``MALLOC_MMAP_THRESHOLD_=131072``, so that glibc returns freed blocks at once and the
  resident size tracks live memory rather than the allocator's cache.
* CUDA: ``torch.cuda.max_memory_allocated()`` minus the memory allocated before the pass.

Rows: ``torch_geometric`` (its layer with an ``edge_index``), ``memnets`` (ours, default:
the update recomputed in the backward pass), ``memnets-store`` (ours storing the update's
activations, ``checkpoint_update=False``), ``torch_geometric-csr`` (its layer given a
``torch.sparse`` CSR adjacency, built outside the timed region).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

from benchmarks._common import speedup, write_json

IMPLEMENTATIONS = ("torch_geometric", "memnets", "memnets-store", "torch_geometric-csr")
#: Size of the warm-up graph (loads kernels without touching the peak of the large one).
_WARMUP_NODES, _WARMUP_EDGES = 1000, 10_000
_MIB = 2**20
#: Allocations above this size are served by mmap in the measuring subprocess (bytes).
_MMAP_THRESHOLD = 1 << 17


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / _MIB


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _build(name: str, channels: int, steps: int, device: torch.device):
    import torch_geometric

    from memnets.nn.graphs import GatedGraphConv

    torch.manual_seed(0)
    reference = torch_geometric.nn.GatedGraphConv(channels, steps).to(device)
    if name.startswith("torch_geometric"):
        return reference, reference
    layer = GatedGraphConv(channels, steps, share_weights=False, checkpoint_update=(name == "memnets")).to(device)
    layer.load_state_dict(reference.state_dict())
    return layer, reference


def _graph(nodes: int, edges: int, channels: int, device: torch.device, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(nodes, channels, generator=g)
    edge_index = torch.randint(nodes, (2, edges), generator=g)
    return x.to(device), edge_index.to(device)


def _csr(edge_index: torch.Tensor, nodes: int) -> torch.Tensor:
    from torch_geometric.utils import to_torch_csr_tensor

    return to_torch_csr_tensor(edge_index.flip(0), size=(nodes, nodes))  # adj_t: rows are targets


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _child_env() -> dict[str, str]:
    # A fixed mmap threshold turns off glibc's adaptive one, so large freed blocks go back
    # to the system at once and the resident size follows the live allocations.
    return {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(_MMAP_THRESHOLD)}


def _direction(ours: float, reference: float) -> str:
    """``"1.25× faster"`` or ``"1.10× slower"``: the ratio, always ≥ 1, and its direction."""
    factor, way = speedup(reference / ours)
    return f"{factor:.2f}× {way}"


def measure(name: str, args: argparse.Namespace) -> dict:
    """Time and peak memory of one implementation (run in its own process)."""
    device = torch.device(args.device)
    torch.set_num_threads(args.threads) if args.threads else None
    layer, reference = _build(name, args.channels, args.steps, device)

    def run(x, edges):
        x = x.clone().requires_grad_()
        out = layer(x, edges)
        out.square().mean().backward()
        layer.zero_grad(set_to_none=True)
        return out.detach()

    small_x, small_edges = _graph(_WARMUP_NODES, _WARMUP_EDGES, args.channels, device, seed=1)
    run(small_x, _csr(small_edges, _WARMUP_NODES) if name.endswith("csr") else small_edges)
    x, edge_index = _graph(args.nodes, args.edges, args.channels, device)
    edges = _csr(edge_index, args.nodes) if name.endswith("csr") else edge_index
    _sync(device)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / _MIB
    else:
        before = _rss_mib()
    times, cpu_times = [], []
    out = None
    for _ in range(args.repeats + 1):  # the first pass is a warm-up for the timing
        _sync(device)
        start, cpu_start = time.perf_counter(), time.process_time()
        out = run(x, edges)
        _sync(device)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    peak = (torch.cuda.max_memory_allocated(device) / _MIB if device.type == "cuda" else _peak_rss_mib()) - before
    with torch.no_grad():
        if name.startswith("memnets"):
            difference = float((out - reference(x, edge_index)).abs().max())
        else:
            difference = 0.0
    return {"implementation": name, "seconds": statistics.median(times[1:]), "all_seconds": times,
            "cpu_seconds": statistics.median(cpu_times[1:]),
            "peak_mib": peak, "max_abs_difference_to_torch_geometric": difference}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    parser.add_argument("--edges", type=int, default=2_000_000)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--only", choices=IMPLEMENTATIONS, help="measure one implementation in this process")
    parser.add_argument("--implementations", nargs="+", default=list(IMPLEMENTATIONS), choices=IMPLEMENTATIONS)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    if args.only:
        print(json.dumps(measure(args.only, args)))
        return []

    results = []
    forwarded = [a for a in (argv if argv is not None else sys.argv[1:])]
    for name in args.implementations:
        cmd = [sys.executable, "-m", "benchmarks.bench_ggnn", *forwarded, "--only", name]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_child_env())
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = next(r for r in results if r["implementation"] == "torch_geometric")
    print(f"GatedGraphConv, |V|={args.nodes:,}, |E|={args.edges:,}, C={args.channels}, {args.steps} steps, "
          f"forward+backward on {args.device} ({torch.get_num_threads() if not args.threads else args.threads} "
          f"threads):")
    print(f"  {'implementation':<22}{'time (s)':>10}{'vs PyG':>9}{'CPU (s)':>10}{'vs PyG':>9}"
          f"{'peak (MiB)':>12}{'vs PyG':>9}{'max |diff|':>12}")
    for r in results:
        print(f"  {r['implementation']:<22}{r['seconds']:>10.3f}{r['seconds'] / base['seconds']:>9.2f}"
              f"{r['cpu_seconds']:>10.3f}{r['cpu_seconds'] / base['cpu_seconds']:>9.2f}"
              f"{r['peak_mib']:>12.0f}{r['peak_mib'] / base['peak_mib']:>9.2f}"
              f"{r['max_abs_difference_to_torch_geometric']:>12.2e}")
    for r in results:
        if r["implementation"] != "torch_geometric":
            print(f"{r['implementation']} is {_direction(r['seconds'], base['seconds'])} than torch_geometric "
                  f"(wall time; {_direction(r['cpu_seconds'], base['cpu_seconds'])} in CPU time; "
                  f"{r['peak_mib'] / base['peak_mib']:.2f}× its peak memory)")
    write_json(args.json, {"config": vars(args), "results": results})
    return results


if __name__ == "__main__":
    main()
