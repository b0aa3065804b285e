"""Plots the task scripts save: learning curves and NTM-paper-style sequence figures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

__all__ = ["read_jsonl", "plot_learning_curve", "plot_sequence", "sequence_figure", "used_slots"]


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a ``metrics.jsonl`` file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_learning_curve(
    jsonl_path: str | os.PathLike,
    png_path: str | os.PathLike,
    metrics: Sequence[str] = ("wrong_bits", "bits"),
    x: str = "samples",
    log_y: bool = True,
    title: str | None = None,
) -> None:
    """Plot training and evaluation metrics of a run against the samples seen.

    Args:
        jsonl_path: a run's ``metrics.jsonl``.
        png_path: where to save the figure.
        metrics: metric names; training records are drawn thin, ``eval/<name>`` thick.
        x: the record key for the horizontal axis (``samples`` or ``step``).
        log_y: logarithmic vertical axis.
        title: the figure's title.
    """
    records = read_jsonl(jsonl_path)
    batch = None
    for r in records:
        if "samples" in r and r.get("step"):
            batch = r["samples"] / r["step"]
            break
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        train = [(r[x], r[name]) for r in records if name in r and x in r]
        evals = [(r["step"] * (batch or 1) if x == "samples" else r["step"], r[f"eval/{name}"])
                 for r in records if f"eval/{name}" in r]
        if train:
            ax.plot(*zip(*train), lw=0.6, alpha=0.5, label=f"train {name}")
        if evals:
            ax.plot(*zip(*evals), lw=2, marker="o", ms=3, label=f"eval {name}")
        ax.set_xlabel("sequences seen" if x == "samples" else x)
        ax.set_ylabel(f"{name} per sequence")
        if log_y:
            ax.set_yscale("symlog", linthresh=0.1)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def _image(ax, data: Tensor, title: str, cmap: str = "gray_r", vmin=None, vmax=None) -> None:
    ax.imshow(data.detach().float().cpu().T, aspect="auto", cmap=cmap, interpolation="nearest", vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.set_yticks([])


def used_slots(weights: list[Tensor], threshold: float = 0.05, margin: int = 2) -> Tensor:
    """The slots the heads visit, as one circular window: the indices to show in a figure.

    A head that shifts through memory wraps around (slot N - 1 is next to slot 0), so the
    window is the circle minus its longest run of slots that no weighting ever gives more
    than ``threshold``, widened by ``margin`` slots on each side. Plotted over all N = 128
    slots, a head that visits ten of them is a thin line; over the window it is the
    diagonal of the NTM paper's figures.

    Args:
        weights: (T, N) weightings over time, one per head.
        threshold: the weight above which a slot counts as visited.
        margin: slots added on each side of the window.

    Returns:
        A LongTensor of slot indices in circular order (all N slots if no slot is visited
        or the window would cover the whole memory).

    Raises:
        ValueError: for no weightings, or weightings that are not (T, N) with one N.

    Shapes:
        each of weights (T, N) -> (K,) with K <= N.
    """
    if not weights:
        raise ValueError("used_slots: expected at least one (T, N) weighting, got none")
    n = weights[0].shape[-1]
    for w in weights:
        if w.dim() != 2 or w.shape[-1] != n:
            raise ValueError(f"used_slots: expected (T, N) weightings with N = {n}, got shape {tuple(w.shape)}")
    visited = torch.zeros(n, dtype=torch.bool)
    for w in weights:
        visited |= (w.detach().float().cpu() > threshold).any(0)
    if not visited.any():
        return torch.arange(n)
    idx = visited.nonzero().flatten().tolist()
    # The longest circular gap between consecutive visited slots; the window is the rest.
    gaps = [((idx[(i + 1) % len(idx)] - idx[i]) % n or n, idx[i]) for i in range(len(idx))]
    gap, before = max(gaps)
    start = (before + gap) % n  # the first visited slot after the gap
    width = n - gap + 1 + 2 * margin
    if width >= n:
        return torch.arange(n)
    return (torch.arange(width) + start - margin) % n


def _label_slots(set_ticks, slots: Tensor) -> None:
    """Label the first and last of the slots shown (``set_ticks``: an axis' ``set_xticks`` or ``set_yticks``)."""
    set_ticks([0, len(slots) - 1], [str(int(slots[0])), str(int(slots[-1]))], fontsize=7)


def sequence_figure(
    inputs: Tensor,
    targets: Tensor,
    outputs: Tensor,
    write_weights: Tensor | None = None,
    read_weights: Tensor | None = None,
    memory: Tensor | None = None,
    title: str | None = None,
):
    """One sequence as in the NTM paper's figures: input, target, output, head weightings, memory.

    Args:
        inputs: (T, C_in) input bits.
        targets: (T, C_out) target bits.
        outputs: (T, C_out) output probabilities.
        write_weights: (T, N) the first write head's weighting at each step, or None.
        read_weights: (T, N) the first read head's weighting at each step, or None.
        memory: (N, W) the memory after the last step, or None.
        title: the figure's title.

    Returns:
        The matplotlib figure (the caller saves or logs it, then closes it).
    """
    heads = [w for w in (write_weights, read_weights) if w is not None]
    slots = used_slots(heads) if heads else None
    panels = [("inputs", inputs), ("targets", targets), ("outputs", outputs)]
    if write_weights is not None:
        panels.append(("write weighting (visited slots vs time)", write_weights[:, slots]))
    if read_weights is not None:
        panels.append(("read weighting (visited slots vs time)", read_weights[:, slots]))
    rows = len(panels) + (memory is not None)
    fig, axes = plt.subplots(rows, 1, figsize=(8, 1.3 * rows + 1.2), squeeze=False)
    for ax, (name, data) in zip(axes[:, 0], panels):
        _image(ax, data, name, cmap="gray_r" if "weighting" not in name else "viridis", vmin=0, vmax=1)
        if "weighting" in name:
            _label_slots(ax.set_yticks, slots)
        ax.set_xlabel("time step", fontsize=8)
    if memory is not None:
        ax = axes[-1, 0]
        shown = slots if slots is not None else torch.arange(memory.shape[0])
        _image(ax, memory[shown], "memory after the last step (word vs visited slot)", cmap="RdBu_r")
        _label_slots(ax.set_xticks, shown)
        ax.set_xlabel("slot", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_sequence(
    png_path: str | os.PathLike,
    inputs: Tensor,
    targets: Tensor,
    outputs: Tensor,
    write_weights: Tensor | None = None,
    read_weights: Tensor | None = None,
    memory: Tensor | None = None,
    title: str | None = None,
) -> None:
    """Save `sequence_figure` of one sequence to ``png_path`` (the same arguments after it)."""
    fig = sequence_figure(inputs, targets, outputs, write_weights, read_weights, memory, title)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
