"""Run one task recipe over seeds x float roundings x thread counts and tabulate the outcome.

Training an NTM is chaotic in float rounding: the same seed follows another trajectory
under another CPU kernel (``ATEN_CPU_CAPABILITY``) or another thread count. A learning
claim is therefore a success rate over seeds *and* roundings. This script runs the grid
in parallel processes (one thread each by default), each run a plain task script
(``python -m tasks.<task> --out DIR --seed S ...``) under its own environment, and prints
the table from the runs' ``metrics.json``.

Runs that finished already (their ``metrics.json`` exists) are read, not redone; an
interrupted run is continued with ``--resume``. So a sweep can be stopped and restarted,
and nothing it wrote before is overwritten.

Example (the copy table of the docs, on a machine with AVX2)::

    python -m tasks.sweep copy --out runs/sweep_copy --seeds 0-9 --capabilities default avx2 --jobs 2

Everything after ``--`` goes to the task script unchanged::

    python -m tasks.sweep copy --out runs/sweep_fast --seeds 0-3 -- --steps 500
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["Run", "supported_capabilities", "parse_seeds", "parse_bars", "summarise", "format_table", "main"]

#: Converged: fewer than this many wrong bits per sequence on the training distribution.
CONVERGED_WRONG_BITS = 0.1

#: ``ATEN_CPU_CAPABILITY`` values, lowest first; a CPU runs every value up to its own.
CAPABILITIES = ("default", "avx2", "avx512")

#: The generalisation bars of the copy task: setting -> the largest passing wrong bits/seq.
COPY_BARS = {"L=30": 0.1, "L=50": 0.1, "L=80": 0.5, "L=120": 1.0}


@dataclass(frozen=True)
class Run:
    """One cell of the grid: a seed under one rounding and thread count."""

    seed: int
    capability: str
    threads: int

    @property
    def name(self) -> str:
        return f"{self.capability}_t{self.threads}_s{self.seed}"


def supported_capabilities() -> list[str]:
    """The ``ATEN_CPU_CAPABILITY`` values this CPU can run (``default`` always)."""
    top = torch.backends.cpu.get_cpu_capability().lower()
    if top not in CAPABILITIES:
        return ["default"]
    return list(CAPABILITIES[: CAPABILITIES.index(top) + 1])


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,5"`` or ``"2"`` -> a sorted list of distinct non-negative seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"expected seeds like 0-9 or 0,3,5, got {text!r}")
        start, stop = int(low), int(high or low)
        if stop < start:
            raise ValueError(f"expected an increasing seed range, got {part!r}")
        seeds.update(range(start, stop + 1))
    return sorted(seeds)


def parse_bars(items: list[str]) -> dict[str, float]:
    """``["L=30:0.1", ...]`` -> ``{"L=30": 0.1, ...}`` (setting name : largest passing value)."""
    bars = {}
    for item in items:
        name, sep, value = item.rpartition(":")
        try:
            bars[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ValueError(f"expected a bar like L=30:0.1, got {item!r}")
    return bars


def _setting(metrics: dict[str, Any], name: str) -> Any:
    """One evaluation setting of a run: ``evaluation[name]`` (or the older layout's
    ``train`` / ``generalisation[name]``)."""
    evaluation = metrics.get("evaluation")
    if isinstance(evaluation, dict) and name in evaluation:
        return evaluation[name]
    if name == "train":
        return metrics.get("train")
    return metrics.get("generalisation", {}).get(name)


def _wrong_bits(entry: Any) -> float | None:
    if isinstance(entry, dict):
        entry = entry.get("wrong_bits")
    return None if entry is None else float(entry)


def summarise(results: dict[Run, dict[str, Any] | None], bars: dict[str, float]) -> dict[str, Any]:
    """Count the successes of a sweep from its runs' ``metrics.json`` contents.

    Args:
        results: run -> its metrics (``None`` for a run that did not finish).
        bars: generalisation setting -> the largest wrong bits/seq that passes.

    Returns:
        ``{"runs", "finished", "converged", "exact", "fell_back", "bars": {setting: count},
        "median_sequences_to_convergence"}``. A run is converged below
        `CONVERGED_WRONG_BITS` on the training distribution, exact with no wrong bit at all in
        the final evaluation, fallen back when a periodic evaluation after its first converged one
        was at or above `CONVERGED_WRONG_BITS`.
    """
    finished = {run: m for run, m in results.items() if m is not None}
    train = {run: _wrong_bits(_setting(m, "train")) for run, m in finished.items()}
    converged = [run for run, w in train.items() if w is not None and w < CONVERGED_WRONG_BITS]
    exact = [run for run, w in train.items() if w == 0.0]
    fell_back = [
        run for run, m in finished.items()
        if m.get("worst_wrong_bits_after_convergence") is not None
        and m["worst_wrong_bits_after_convergence"] >= CONVERGED_WRONG_BITS
    ]
    passed = {}
    for setting, bar in bars.items():
        values = [_wrong_bits(_setting(m, setting)) for m in finished.values()]
        passed[setting] = sum(1 for v in values if v is not None and v < bar)
    sequences = [m["sequences_to_convergence"] for m in finished.values() if m.get("sequences_to_convergence")]
    return {
        "runs": len(results),
        "finished": len(finished),
        "converged": len(converged),
        "exact": len(exact),
        "fell_back": len(fell_back),
        "bars": passed,
        "median_sequences_to_convergence": statistics.median(sequences) if sequences else None,
    }


def format_table(results: dict[Run, dict[str, Any] | None], bars: dict[str, float]) -> str:
    """The per-run table and the summary lines, as printed by the script."""
    settings = list(bars)
    header = ["rounding", "threads", "seed", "train", *settings, "converged at", "worst after"]
    rows = [header]
    for run in sorted(results, key=lambda r: (r.capability, r.threads, r.seed)):
        m = results[run]
        if m is None:
            rows.append([run.capability, str(run.threads), str(run.seed), "did not finish"] + [""] * (len(header) - 4))
            continue
        cells = [_wrong_bits(_setting(m, name)) for name in ("train", *settings)]
        worst = m.get("worst_wrong_bits_after_convergence")
        seqs = m.get("sequences_to_convergence")
        rows.append(
            [run.capability, str(run.threads), str(run.seed)]
            + ["-" if v is None else f"{v:.2f}" for v in cells]
            + ["-" if seqs is None else f"{seqs:,} seq", "-" if worst is None else f"{worst:.2f}"]
        )
    widths = [max(len(row[i]) if i < len(row) else 0 for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    s = summarise(results, bars)
    n = s["runs"]
    lines.append("")
    lines.append(f"converged (< {CONVERGED_WRONG_BITS} wrong bits/seq): {s['converged']} of {n}; "
                 f"exact (no wrong bit): {s['exact']} of {n}; fell back after converging: {s['fell_back']} of {n}")
    for setting, bar in bars.items():
        lines.append(f"{setting} below {bar}: {s['bars'][setting]} of {n}")
    median = s["median_sequences_to_convergence"]
    lines.append("median sequences to convergence: " + ("-" if median is None else f"{median:,.0f}"))
    if s["finished"] < n:
        lines.append(f"{n - s['finished']} of {n} runs did not finish")
    return "\n".join(lines)


def _read_metrics(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _inductor_cache(capability: str) -> str:
    """A compiled-kernel cache of its own for each ``ATEN_CPU_CAPABILITY``.

    torch 2.13's inductor cache does not tell kernels compiled under one capability from
    another's: a run under ``avx2`` that finds the kernels of a ``default`` run crashes
    (segmentation fault at its first step). One cache folder per capability avoids it.
    """
    base = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "memnets_inductor")
    return os.path.join(base, capability)


def _run_one(task: str, run: Run, out: Path, task_args: list[str], log: bool) -> dict[str, Any] | None:
    run_dir = out / run.name
    metrics = _read_metrics(run_dir / "metrics.json")
    if metrics is not None:
        return metrics
    args = [sys.executable, "-m", f"tasks.{task}", "--out", str(run_dir), "--seed", str(run.seed),
            "--threads", str(run.threads), *task_args]
    if (run_dir / "model.pt").exists():
        args.append("--resume")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": run.capability, "OMP_NUM_THREADS": str(run.threads),
           "MKL_NUM_THREADS": str(run.threads), "TORCHINDUCTOR_CACHE_DIR": _inductor_cache(run.capability)}
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "sweep.log", "a") as handle:
        done = subprocess.run(args, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if log:
        state = "done" if done.returncode == 0 else f"failed (exit {done.returncode}, see {run_dir / 'sweep.log'})"
        print(f"  {run.name}: {state}", flush=True)
    return _read_metrics(run_dir / "metrics.json") if done.returncode == 0 else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tasks.sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("task", help="the task script to run (copy, repeat_copy, associative_recall, ...)")
    parser.add_argument("--out", required=True, type=Path, help="the sweep's folder; one sub-folder per run")
    parser.add_argument("--seeds", default="0-9", help="seeds: 0-9, 0,3,5 or 2 (default 0-9)")
    parser.add_argument("--capabilities", nargs="+", default=None,
                        help="ATEN_CPU_CAPABILITY values (default: every value this CPU supports)")
    parser.add_argument("--threads", nargs="+", type=int, default=[1], help="thread counts per run (default 1)")
    parser.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)),
                        help="runs at once (default: one per core)")
    parser.add_argument("--bar", action="append", default=None, metavar="SETTING:MAX",
                        help="a generalisation bar, e.g. L=30:0.1 (repeatable; default: the copy bars)")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary to this file")
    return parser


def main(argv: list[str] | None = None) -> dict[str, Any]:
    argv = list(sys.argv[1:] if argv is None else argv)
    task_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, task_args = argv[:cut], argv[cut + 1:]
    parser = _parser()
    opts = parser.parse_args(argv)
    if not opts.task.isidentifier() or not (Path(__file__).parent / f"{opts.task}.py").is_file():
        parser.error(f"expected a task script in tasks/, got {opts.task!r}")
    try:
        seeds = parse_seeds(opts.seeds)
        bars = parse_bars(opts.bar) if opts.bar else dict(COPY_BARS)
    except ValueError as error:
        parser.error(str(error))
    supported = supported_capabilities()
    capabilities = opts.capabilities or supported
    for cap in capabilities:
        if cap not in supported:
            parser.error(f"expected --capabilities among those this CPU supports {supported}, got {cap!r}")
    if any(t < 1 for t in opts.threads) or opts.jobs < 1:
        parser.error(f"expected --threads and --jobs of at least 1, got {opts.threads} and {opts.jobs}")
    if opts.out.exists() and not opts.out.is_dir():
        parser.error(f"expected --out to be a folder, got the file {opts.out}")

    runs = [Run(s, c, t) for c, t, s in itertools.product(capabilities, opts.threads, seeds)]
    print(f"{len(runs)} runs of tasks.{opts.task} ({opts.jobs} at a time) into {opts.out}", flush=True)
    try:
        with ThreadPoolExecutor(opts.jobs) as pool:
            futures = {run: pool.submit(_run_one, opts.task, run, opts.out, task_args, True) for run in runs}
            results = {run: f.result() for run, f in futures.items()}
    except KeyboardInterrupt:
        print(f"\nInterrupted; run the same command again to continue the sweep in {opts.out}.", file=sys.stderr)
        raise SystemExit(130) from None
    print()
    print(format_table(results, bars))
    summary = summarise(results, bars)
    if opts.json is not None:
        opts.json.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
