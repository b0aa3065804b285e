"""Probe a trained copy model with the inputs that trip it: all-zero and one-bit data vectors.

    python -m tasks.copy_probe runs/copy/model.pt [--length 20] [--sequences 1000] [--positions 0 1 2 5 10]

An all-zero data vector is, step by step, what the answer phase shows the model (zeros on
the data channels, no delimiter). Under the paper's distribution it is rare (2^-8 per
vector), so a model can reach the convergence threshold and still mistake it for the
answer phase: its read head, parked during the input, then moves one slot, and every
answer vector after it is read from the wrong slot. This script measures that: on
``--sequences`` fresh sequences of length ``--length`` it reports the wrong bits per
sequence and the share of sequences with any wrong bit

- as drawn (the paper's distribution),
- with data vector k forced to all zeros, for each k in ``--positions``,
- with data vector k forced to a single one bit (channel 0),

and, for an NTM, the share of sequences whose read head at the first answer step is not
where it is in the sequences the model copies right (measured as its offset from the slot
the write head used for the first vector): the "starts one slot off" failure.
Each setting draws the same sequences (seed ``--seed``), so the rows differ only in the
forced vector.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch

import memnets
from memnets.data.bits import copy_batch, wrong_bits_per_sequence

__all__ = ["probe", "main"]


def _forced(batch, position: int, pattern: str):
    """The batch with data vector ``position`` (of every sequence) replaced, targets too."""
    inputs, targets = batch.inputs.clone(), batch.targets.clone()
    length = int(batch.lengths[0]) // 2  # T = 2L + 1
    answer = length + 1 + position
    inputs[position, :, :8] = 0
    targets[answer] = 0
    if pattern == "one-bit":
        inputs[position, :, 0] = 1
        targets[answer, :, 0] = 1
    return batch._replace(inputs=inputs, targets=targets)


@torch.no_grad()
def probe(model: torch.nn.Module, length: int = 20, sequences: int = 1000, positions: tuple[int, ...] = (0, 1, 2, 5),
          seed: int = 0) -> list[dict[str, Any]]:
    """The probe's rows: one per setting, with wrong bits per sequence and failure shares.

    Args:
        model: a trained copy model (inputs (T, B, 9) -> logits (T, B, 8)).
        length: L of every probe sequence.
        sequences: sequences per setting.
        positions: the data vectors (0-based) to force, each below ``length``.
        seed: seeds the sequences (the same in every setting).

    Returns:
        ``[{"setting", "wrong_bits", "failed", "read_start_off"}, ...]``; ``read_start_off``
        is ``None`` for a model without ``trace`` (not an NTM).

    Raises:
        ValueError: for a non-positive length or count, or a position outside the sequence.
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"probe: expected length to be a positive integer, got {length!r}")
    if not isinstance(sequences, int) or sequences < 1:
        raise ValueError(f"probe: expected sequences to be a positive integer, got {sequences!r}")
    bad = [p for p in positions if not 0 <= p < length]
    if bad:
        raise ValueError(f"probe: expected positions in 0..{length - 1} (the data vectors), got {bad}")
    model.eval()
    batch = copy_batch(sequences, length=length, generator=torch.Generator().manual_seed(seed))
    settings = [("as drawn", batch)]
    for pattern in ("all-zero", "one-bit"):
        settings += [(f"{pattern} vector at {p}", _forced(batch, p, pattern)) for p in positions]
    rows = []
    convention = None  # the read head's offset from vector 0's slot in the sequences it copies right
    for name, forced in settings:
        if isinstance(model, memnets.NTM):
            logits, states = model.trace(forced.inputs)
            read = states.read_weights[length + 1, :, 0].argmax(-1)   # first answer step
            written = states.write_weights[0, :, 0].argmax(-1)         # where vector 0 went
            offset = (read - written).remainder(states.read_weights.shape[-1])
        else:
            logits, _ = model(forced.inputs)
            offset = None
        wrong = ((logits > 0).float() != forced.targets).float() * forced.mask.unsqueeze(-1)
        per_sequence = wrong.sum((0, 2))
        if offset is not None and convention is None:
            right = offset[per_sequence == 0]
            convention = int(right.mode().values) if right.numel() else 0
        off = None if offset is None else float((offset != convention).float().mean())
        rows.append({"setting": name, "wrong_bits": float(wrong_bits_per_sequence(logits, forced)),
                     "failed": float((per_sequence > 0).float().mean()), "read_start_off": off})
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m tasks.copy_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a copy run's model.pt")
    parser.add_argument("--length", type=int, default=20, help="L of every probe sequence (default 20)")
    parser.add_argument("--sequences", type=int, default=1000, help="sequences per setting (default 1000)")
    parser.add_argument("--positions", type=int, nargs="+", default=[0, 1, 2, 5, 10],
                        help="data vectors to force, 0-based (default 0 1 2 5 10)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the probe sequences (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"expected --threads to be a positive integer, got {args.threads}")
    torch.set_num_threads(args.threads)
    try:
        model = memnets.load(args.model)
        channels = getattr(model, "input_size", 9)
        if channels != 9:
            raise ValueError(f"expected a copy model (9 input channels), got one with {channels}")
        rows = probe(model, args.length, args.sequences, tuple(args.positions), args.seed)
    except (OSError, ValueError) as error:
        print(f"copy_probe.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"{'setting':<24}{'wrong bits/seq':>16}{'sequences failed':>18}{'read head starts off':>22}")
    for row in rows:
        off = "-" if row["read_start_off"] is None else f"{100 * row['read_start_off']:.1f} %"
        print(f"{row['setting']:<24}{row['wrong_bits']:>16.3f}{100 * row['failed']:>17.1f}%{off:>22}")
    return rows


if __name__ == "__main__":
    main()
