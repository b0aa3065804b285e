"""Helpers shared by the benchmark scripts: parameter counts, device synchronisation,
timed training rounds, loading a reference implementation from a folder, the JSON report."""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn


def count(model: nn.Module) -> int:
    """The number of scalar parameters of ``model``."""
    return sum(p.numel() for p in model.parameters())


def device_sync(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (a no-op off CUDA), for honest timings."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def configure_torch(threads: int, device: str, seed: int) -> tuple[torch.device, Callable[[], None]]:
    """Set torch's CPU threads and seed; return the device and its `device_sync`."""
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    target = torch.device(device)
    return target, device_sync(target)


def train_round(model: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable[Any],
                loss_fn: Callable[[torch.Tensor, Any], torch.Tensor],
                sync: Callable[[], None]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds for one training step on each batch.

    Each step runs ``model(batch.inputs)`` (a model returning ``(logits, state)``),
    ``loss_fn(logits, batch)``, the backward pass and ``optimizer.step()``.
    """
    sync()
    start, cpu_start = time.perf_counter(), time.process_time()
    for batch in batches:
        logits, _ = model(batch.inputs)
        loss = loss_fn(logits, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    sync()
    return time.perf_counter() - start, time.process_time() - cpu_start


def import_reference(path: str, module: str, name: str, option: str, expected: str) -> Any:
    """``name`` from ``module``, imported with the folder ``path`` first on ``sys.path``.

    Exits with a message naming ``option`` and what the folder should hold (``expected``)
    when the import fails.
    """
    sys.path.insert(0, path)
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise SystemExit(f"{option}: expected {expected} at {path!r}: {error}")


def speedup(ratio: float) -> tuple[float, str]:
    """``ratio`` (how many times as fast memnets is: > 1 faster) as a factor ≥ 1 and its
    direction, for lines such as "memnets is 1.25x faster than X" or "1.10x slower"."""
    return max(ratio, 1 / ratio), "faster" if ratio >= 1 else "slower"


def write_json(path: str | None, results: dict) -> None:
    """Write ``results`` to the JSON file ``path`` (nothing when ``path`` is None)."""
    if path:
        with open(path, "w") as handle:
            json.dump(results, handle, indent=2)
