"""Scaling the NTM copy task: eager vs compiled, 1 vs N processes, and the GPU path.

    python -m benchmarks.bench_scaling                    # CPU: batch 64, eager/compiled x 1/2 processes
    python -m benchmarks.bench_scaling --device cuda      # GPU: batch 64 and 1024, CUDA graph, launch floor
    python -m benchmarks.bench_scaling --json scaling.json --rounds 3 --steps 10 --warmup 3

Every figure is a whole training step of the shared loop, `memnets.training.fit`
(draw the batch, forward, masked BCE loss, backward, gradient clipping, Adam step), of
`memnets.NTM` with its default sizes (LSTM controller of 100 units, 128 x 20
memory, one read and one write head) on copy batches of one fixed length L (T = 2L + 1
steps, 41 for the default L = 20), so that all configurations do the same work. Each
run of a configuration starts fresh processes (``--processes 2`` through the same
torchrun-style launch the tests use, gloo on the CPU, nccl on GPUs) and takes the median
step after ``--warmup`` steps; throughput is the global batch over that time. The
configurations run interleaved, ``--rounds`` times, and the table gives the median over
rounds and its range: on a shared machine a change of load then hits every
configuration, not one. "First steps" is the time of the warm-up steps, which holds the
compilation: in round 1 (cold: the benchmark starts with an empty compile cache, unless
``TORCHINDUCTOR_CACHE_DIR`` is set) and the median of the later rounds (warm cache).

On CUDA it also measures:

* the CUDA-graph capture of the whole training step (forward, backward, clipping and a
  capturable Adam step replayed as one graph; fixed batch and length);
* the kernel-launch floor: the time of one tiny kernel launched from eager PyTorch and
  replayed from a CUDA graph, times the number of kernels one NTM time step launches
  (counted with the profiler) - the time per NTM step that launches alone would take.

On the CPU the analogous floor is the dispatch cost of one tiny eager operator times the
number of operators per NTM step. The machine's load average is printed with the figures.
On the CPU each process runs one thread by default (``--threads``), as ``torchrun`` sets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from memnets.data.bits import BATCH_DIMS, copy_batch, masked_bce_loss
from memnets.nn.memory.ntm import NTM
from memnets.training import TrainConfig, fit
from memnets.training.distributed import run_processes
from tasks._bits import BitTask

#: Copy-task channels: 8 data bits + 1 delimiter in, 8 bits out.
_IN, _OUT = 9, 8
_LR = 1e-3
_CLIP_NORM = 10.0
#: Tiny-kernel launches timed for the launch floor.
_FLOOR_LAUNCHES = 2000


class _CopyTask(BitTask):
    """Copy at one fixed length, without the periodic evaluation (not timed here)."""

    batch_dim = BATCH_DIMS

    def __init__(self, length: int):
        super().__init__(copy_batch, length=length)

    def evaluate(self, model, generator, device) -> dict[str, float]:
        return {}


# --------------------------------------------------------------------------- through fit


def _fit_worker(out: str, device: str, batch_size: int, steps: int, compile: bool, length: int, report: str) -> None:
    """One process of one configuration: train ``steps`` steps with fit; rank 0 writes the step times."""
    torch.manual_seed(0)
    model = NTM(_IN, _OUT)
    cfg = TrainConfig(out=out, steps=steps, batch_size=batch_size, lr=_LR, clip_norm=_CLIP_NORM, log_every=1,
                      eval_every=10**9, checkpoint_every=10**9, progress=False, device=device, compile=compile)
    result = fit(model, _CopyTask(length), cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        times = [r["time"] for r in result.history if "loss" in r]
        Path(report).write_text(json.dumps({"times": times, "threads": torch.get_num_threads()}))


def run_fit(device: str, batch_size: int, processes: int, compile: bool, steps: int, warmup: int, length: int,
            threads: int | None) -> dict[str, Any]:
    """Time one configuration in fresh processes; returns sequences/s and step times."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run_processes(_fit_worker, processes, args=(str(Path(tmp) / "run"), device, batch_size, warmup + steps,
                                                    compile, length, str(report)), threads=threads)
        measured = json.loads(report.read_text())
    times = [0.0] + measured["times"]
    durations = [b - a for a, b in zip(times, times[1:])]
    step = statistics.median(durations[warmup:])
    return {
        "device": device, "batch_size": batch_size, "processes": processes, "compiled": compile,
        "threads_per_process": measured["threads"], "length": length, "time_steps": 2 * length + 1,
        "step_s": step, "sequences_per_s": batch_size / step, "first_steps_s": sum(durations[:warmup]),
        "ntm_step_ms": 1e3 * step / (2 * length + 1),
    }


# --------------------------------------------------------------------------- CUDA graph


def _train_step(model: NTM, optimizer: torch.optim.Optimizer, batch) -> torch.Tensor:
    logits, _ = model(batch.inputs)
    loss = masked_bce_loss(logits, batch)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), _CLIP_NORM)
    optimizer.step()
    return loss


def run_cuda_graph(device: str, batch_size: int, steps: int, warmup: int, length: int) -> dict[str, Any]:
    """The whole training step captured once as a CUDA graph, replayed on fresh batches."""
    torch.manual_seed(0)
    model = NTM(_IN, _OUT).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=_LR, capturable=True)
    generator = torch.Generator().manual_seed(0)
    static = copy_batch(batch_size, length=length, generator=generator, device=device)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the graph: allocations, optimiser state
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            _train_step(model, optimizer, static)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    with torch.cuda.graph(graph):
        static_loss = _train_step(model, optimizer, static)
    capture_s = time.perf_counter() - start
    durations = []
    for _ in range(warmup + steps):
        torch.cuda.synchronize()
        start = time.perf_counter()
        batch = copy_batch(batch_size, length=length, generator=generator, device=device)
        for target, source in zip(static, batch):
            target.copy_(source)
        graph.replay()
        loss = static_loss.item()
        durations.append(time.perf_counter() - start)
    if not math.isfinite(loss):
        raise RuntimeError(f"the replayed training step gave a loss of {loss}")
    step = statistics.median(durations[warmup:])
    return {"device": device, "batch_size": batch_size, "processes": 1, "compiled": False, "cuda_graph": True,
            "length": length, "time_steps": 2 * length + 1, "step_s": step, "sequences_per_s": batch_size / step,
            "first_steps_s": capture_s, "ntm_step_ms": 1e3 * step / (2 * length + 1)}


# --------------------------------------------------------------------------- launch floor


class _OpCounter(TorchDispatchMode):
    """Counts the ATen operators that run (forward and backward)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _one_training_step(device: str, batch_size: int, length: int):
    torch.manual_seed(0)
    model = NTM(_IN, _OUT).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=_LR)
    batch = copy_batch(batch_size, length=length, generator=torch.Generator().manual_seed(0), device=device)
    return lambda: _train_step(model, optimizer, batch)


def _tiny_op_seconds(device: str, graph: bool) -> float:
    x = torch.zeros(1, device=device)
    for _ in range(100):
        x.add_(1)
    if graph:
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            for _ in range(_FLOOR_LAUNCHES):
                x.add_(1)
        g.replay()
        torch.cuda.synchronize()
        start = time.perf_counter()
        g.replay()
        torch.cuda.synchronize()
        return (time.perf_counter() - start) / _FLOOR_LAUNCHES
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(_FLOOR_LAUNCHES):
        x.add_(1)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / _FLOOR_LAUNCHES


def launch_floor(device: str, batch_size: int, length: int) -> dict[str, Any]:
    """Operators (CPU) or kernels (CUDA) per NTM time step, and the time launching them alone takes."""
    step = _one_training_step(device, batch_size, length)
    step()  # warm-up
    counter = _OpCounter()
    with counter:
        step()
    time_steps = 2 * length + 1
    result: dict[str, Any] = {"device": device, "batch_size": batch_size, "time_steps": time_steps,
                              "ops_per_ntm_step": counter.count / time_steps,
                              "eager_op_us": 1e6 * _tiny_op_seconds(device, graph=False)}
    result["eager_floor_ntm_step_ms"] = 1e-3 * result["ops_per_ntm_step"] * result["eager_op_us"]
    if device.startswith("cuda"):
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
        kernels = sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
        result["kernels_per_ntm_step"] = kernels / time_steps
        result["graph_kernel_us"] = 1e6 * _tiny_op_seconds(device, graph=True)
        result["eager_floor_ntm_step_ms"] = 1e-3 * result["kernels_per_ntm_step"] * result["eager_op_us"]
        result["graph_floor_ntm_step_ms"] = 1e-3 * result["kernels_per_ntm_step"] * result["graph_kernel_us"]
    return result


# --------------------------------------------------------------------------- main


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from the rounds of one configuration: medians, the spread, the first (cold) start."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[-1]
    row = dict(good[0])
    rates = sorted(r["sequences_per_s"] for r in good)
    row.update(rounds=len(good), sequences_per_s=statistics.median(rates), min_sequences_per_s=rates[0],
               max_sequences_per_s=rates[-1], step_s=statistics.median(r["step_s"] for r in good),
               ntm_step_ms=statistics.median(r["ntm_step_ms"] for r in good),
               first_steps_s=good[0]["first_steps_s"],
               warm_first_steps_s=statistics.median(r["first_steps_s"] for r in good[1:]) if len(good) > 1 else None)
    return row


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'device':<8}{'batch':>6}{'procs':>6}{'thr':>4}  {'mode':<11}{'seq/s':>9}{'(min-max)':>14}"
          f"{'step ms':>9}{'NTM step ms':>13}{'first steps s':>15}")
    for r in rows:
        if "error" in r:
            print(f"{r['device']:<8}{r['batch_size']:>6}{r.get('processes', 1):>6}{'':>4}  {r['mode']:<11}  "
                  f"failed: {r['error']}")
            continue
        spread = f"({r.get('min_sequences_per_s', r['sequences_per_s']):.0f}-" \
                 f"{r.get('max_sequences_per_s', r['sequences_per_s']):.0f})"
        first = f"{r['first_steps_s']:.1f}"
        if r.get("warm_first_steps_s") is not None:
            first += f" / {r['warm_first_steps_s']:.1f}"
        threads = r.get("threads_per_process") or ""
        print(f"{r['device']:<8}{r['batch_size']:>6}{r['processes']:>6}{threads:>4}  {r['mode']:<11}"
              f"{r['sequences_per_s']:>9.1f}{spread:>14}{1e3 * r['step_s']:>9.1f}{r['ntm_step_ms']:>13.3f}"
              f"{first:>15}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None,
                        help="global batch sizes (default: 64 on the CPU, 64 1024 on CUDA)")
    parser.add_argument("--processes", type=int, nargs="+", default=None,
                        help="process counts (default: 1 2 on the CPU; 1 and the GPU count on CUDA)")
    parser.add_argument("--modes", nargs="+", choices=["eager", "compiled"], default=["eager", "compiled"])
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of every configuration, interleaved (median over rounds reported)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run (median step taken)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps (they hold the compilation)")
    parser.add_argument("--length", type=int, default=20, help="copy length L (T = 2L + 1)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="threads per process to try, within the cores (default on the CPU: 1)")
    parser.add_argument("--no-cuda-graph", dest="cuda_graph", action="store_false",
                        help="skip the CUDA-graph capture of the training step")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available")
    batch_sizes = args.batch_sizes or ([64, 1024] if cuda else [64])
    processes = args.processes or (sorted({1, torch.cuda.device_count()}) if cuda else [1, 2])
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {cores} CPU cores, load average {load:.1f}"
          + (f", {torch.cuda.get_device_name()}" if cuda else ""))

    # A fresh compile cache, so that round 1 shows a cold compilation (the processes inherit it).
    cache = tempfile.TemporaryDirectory(prefix="bench-scaling-inductor-")
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", cache.name)
    if cuda:
        configurations = [(n, None) for n in processes if n <= torch.cuda.device_count()]
    else:  # (processes, threads per process) that fit in the cores
        configurations = [(n, t) for n in processes for t in (args.threads or [1]) if n * t <= cores or t == 1]
    keys = [(b, mode, n, t) for b in batch_sizes for mode in args.modes for n, t in configurations]
    if cuda and args.cuda_graph:
        keys += [(b, "cuda graph", 1, None) for b in batch_sizes]
    runs: dict[tuple, list[dict[str, Any]]] = {key: [] for key in keys}
    for round_index in range(args.rounds):  # interleaved, so that a change of load hits every configuration
        for key in keys:
            batch_size, mode, n, threads = key
            try:
                if mode == "cuda graph":
                    row = run_cuda_graph(device, batch_size, args.steps, args.warmup, args.length)
                else:
                    row = run_fit(device, batch_size, n, mode == "compiled", args.steps, args.warmup, args.length,
                                  threads)
            except Exception as error:  # keep the other figures
                row = {"device": device, "batch_size": batch_size, "processes": n, "error": repr(error)[:200]}
            runs[key].append({"mode": mode, **row})
            print(f"round {round_index + 1}: ", end="")
            _print_table(runs[key][-1:])
    rows = [_aggregate(runs[key]) for key in keys]

    floors = [launch_floor(device, b, args.length) for b in batch_sizes]
    print()
    print("Launch floor per NTM time step (forward + backward + Adam, divided by T):")
    for f in floors:
        line = f"  batch {f['batch_size']}: {f['ops_per_ntm_step']:.0f} operators"
        if cuda:
            line += (f", {f['kernels_per_ntm_step']:.0f} kernels; eager launch {f['eager_op_us']:.1f} us -> "
                     f"{f['eager_floor_ntm_step_ms']:.3f} ms; graph launch {f['graph_kernel_us']:.2f} us -> "
                     f"{f['graph_floor_ntm_step_ms']:.3f} ms")
        else:
            line += f"; one tiny eager op {f['eager_op_us']:.1f} us -> {f['eager_floor_ntm_step_ms']:.3f} ms"
        print(line)
    print(f"\nMedian over {args.rounds} rounds (first steps: round 1 / later rounds, with the compile cache warm):")
    _print_table(rows)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {"torch": torch.__version__, "cores": cores, "load_average": [load, load_after], "argv": sys.argv[1:],
               "rows": rows, "runs": [r for key in keys for r in runs[key]], "floor": floors}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    cache.cleanup()
    return results


if __name__ == "__main__":
    main()
