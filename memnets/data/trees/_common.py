"""What the tree-task generators share: the batch they return and their random draws."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from memnets._checks import check_positive_int
from memnets.data.trees.builders import forest_from_parents

__all__ = ["TreeTaskBatch", "Uniforms", "children_lists", "heights", "make_batch", "check_generator",
           "check_depths"]

#: How many uniform draws the task generators fetch from their ``torch.Generator`` at once.
_DRAW_CHUNK = 4096


@dataclass
class TreeTaskBatch:
    """A batch of a tree task: the gold trees and the same expressions as token sequences.

    Attributes:
        tree: the forest (`forest_from_parents`): ``token`` (V,), ``edge_index``,
            ``child_slot``, ``batch``, ``ptr``; nodes in pre-order, so tree b's root
            is node ``ptr[b]``. A model computes the level schedule from it (or the
            caller attaches one with `memnets.nn.trees.attach_schedule`, which then
            moves with the batch).
        sequence: (T, B) token ids of the bracketed strings, padded with the
            vocabulary's last id (``<pad>``).
        lengths: (B,) the length of each string in tokens.
        target: (B,) the label (ListOps: class 0-9, long) or value (arithmetic: float).
        depth: (B,) each expression's nesting depth (the root's height).
        text: the B strings.
    """

    tree: Data
    sequence: Tensor
    lengths: Tensor
    target: Tensor
    depth: Tensor
    text: list[str]

    @property
    def batch_size(self) -> int:
        return int(self.target.shape[0])

    def to(self, device: torch.device | str) -> "TreeTaskBatch":
        """The batch on ``device`` (a schedule attached to the tree moves with it)."""
        return TreeTaskBatch(self.tree.to(device), self.sequence.to(device), self.lengths.to(device),
                             self.target.to(device), self.depth.to(device), self.text)


class Uniforms:
    """U[0, 1) draws from a ``torch.Generator``, fetched in chunks (same draws for the same seed)."""

    def __init__(self, generator: torch.Generator | None) -> None:
        self.generator = generator
        self.values: list[float] = []
        self.next = 0

    def uniform(self) -> float:
        if self.next == len(self.values):
            self.values = torch.rand(_DRAW_CHUNK, generator=self.generator, dtype=torch.float64).tolist()
            self.next = 0
        self.next += 1
        return self.values[self.next - 1]

    def randint(self, low: int, high: int) -> int:
        """An integer uniform in ``low..high``, both ends included."""
        return low + min(int(self.uniform() * (high - low + 1)), high - low)


def children_lists(parents: Sequence[int]) -> list[list[int]]:
    """Each node's children, in slot order, from a pre-order parent list (``-1``: the root)."""
    kids: list[list[int]] = [[] for _ in parents]
    for node, parent in enumerate(parents):  # pre-order: siblings appear in slot order
        if parent >= 0:
            kids[parent].append(node)
    return kids


def heights(parents: Sequence[int]) -> list[int]:
    """Each node's height (leaves 0) from a pre-order parent list: one pass, children first."""
    height = [0] * len(parents)
    for node in range(len(parents) - 1, 0, -1):  # pre-order: children after parents
        parent = parents[node]
        height[parent] = max(height[parent], height[node] + 1)
    return height


def make_batch(trees: list[tuple[list[int], list[int], list[int]]], sequences: list[list[int]],
               texts: list[str], targets: list[float], depths: list[int], pad: int, target_dtype: torch.dtype,
               device: torch.device | str) -> TreeTaskBatch:
    """Collate generated expressions into a `TreeTaskBatch`, in whole-array operations.

    ``trees`` holds each tree's (parents, slots, tokens) in pre-order with local ids;
    ``sequences`` the token ids of each string, padded here with ``pad``.
    """
    sizes = [len(parents) for parents, _, _ in trees]
    forest = forest_from_parents(*(np.fromiter(itertools.chain.from_iterable(t[k] for t in trees), dtype=np.int64,
                                               count=sum(sizes)) for k in range(3)), sizes)
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
    steps = int(lengths.max()) if lengths.size else 0
    sequence = np.full((len(sequences), steps), pad, dtype=np.int64)
    sequence[np.arange(steps) < lengths[:, None]] = flat  # row-major: each string's tokens in order
    batch = TreeTaskBatch(forest, torch.from_numpy(np.ascontiguousarray(sequence.T)), torch.from_numpy(lengths),
                          torch.tensor(targets, dtype=target_dtype), torch.tensor(depths, dtype=torch.long), texts)
    return batch.to(device) if torch.device(device).type != "cpu" else batch


def check_generator(where: str, batch_size: int, generator: torch.Generator | None) -> None:
    """The arguments every task generator shares: ``batch_size`` ≥ 1, a ``torch.Generator`` or ``None``."""
    check_positive_int(where, batch_size=batch_size)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{where}: generator should be a torch.Generator or None, got: {type(generator).__name__}")


def check_depths(where: str, min_depth: int, max_depth: int) -> None:
    """``1 <= min_depth <= max_depth``, both ints."""
    check_positive_int(where, min_depth=min_depth, max_depth=max_depth)
    if min_depth > max_depth:
        raise ValueError(f"{where}: expected 1 <= min_depth <= max_depth, got {min_depth}, {max_depth}")
