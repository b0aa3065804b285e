r"""The bit-sequence tasks of the Neural Turing Machine paper, and their metrics.

Graves, Wayne & Danihelka (2014), "Neural Turing Machines", arXiv:1410.5401, §4: copy
(§4.1), repeat copy (§4.2), associative recall (§4.3) and priority sort (§4.5). The
encodings are drawn, one layout per task, on the "Task data" page of the documentation.

Every generator returns a `BitBatch` of time-major tensors:

* ``inputs`` (T, B, C_in) float: what the model reads;
* ``targets`` (T, B, C_out) float in {0, 1}: what it should write (zero outside the answer
  phase);
* ``mask`` (T, B) bool: the answer-phase steps, the only ones where the loss and the
  metrics count;
* ``lengths`` (B,) long: T_b, the number of steps of each sequence.

Sequences of different lengths share one batch by zero padding at the end: T = max_b T_b,
and on the padding steps the inputs and targets are zero and the mask is ``False``.

All randomness comes from the ``generator`` argument (a CPU ``torch.Generator``;
``None`` uses torch's default generator). Tensors are built on the CPU and then moved to
``device``, so a seed gives the same batch on every device.

Metrics: `bits_per_sequence` (the cross-entropy of the target bits in
bits, Graves et al. 2014) and `wrong_bits_per_sequence` (the number of wrongly
thresholded bits, the "cost" or "error" of later reimplementations), both summed over each
sequence's answer phase and averaged over the batch; `masked_bce_loss` is the
training loss.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

from memnets._checks import check_int, check_probability, check_shapes
from memnets.data._common import check_cpu_generator

__all__ = [
    "BitBatch",
    "BATCH_DIMS",
    "REPEAT_COUNT_MEAN",
    "REPEAT_COUNT_STD",
    "GENERALISATION",
    "copy_batch",
    "repeat_copy_batch",
    "associative_recall_batch",
    "priority_sort_batch",
    "bits_per_sequence",
    "wrong_bits_per_sequence",
    "masked_bce_loss",
]

#: The repeat count R is given to the model as (R − REPEAT_COUNT_MEAN) / REPEAT_COUNT_STD,
#: the mean and standard deviation of U{1..10}. Kept fixed for any R range,
#: so a model trained on R ≤ 10 reads R = 20 as it would have during training.
REPEAT_COUNT_MEAN = 5.5
#: See `REPEAT_COUNT_MEAN`.
REPEAT_COUNT_STD = 2.872

#: Priorities of the priority-sort task are drawn from U[PRIORITY_LOW, PRIORITY_HIGH).
_PRIORITY_LOW, _PRIORITY_HIGH = -1.0, 1.0
#: Probability of a one in every random data bit.
_BIT_PROBABILITY = 0.5
_LN2 = math.log(2.0)


class BitBatch(NamedTuple):
    """One batch of a bit-sequence task, time-major.

    Attributes:
        inputs: (T, B, C_in) float, what the model reads.
        targets: (T, B, C_out) float in {0, 1}, what it should write; zero outside the
            answer phase.
        mask: (T, B) bool, ``True`` on the answer-phase steps of each sequence (where the
            loss and the metrics count), ``False`` elsewhere and on padding.
        lengths: (B,) long, the number of steps T_b of each sequence (T = max T_b; steps
            T_b..T−1 of sequence b are zero padding).

    Examples:
        >>> batch = copy_batch(2, length=3, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, batch.targets.shape, batch.mask.shape, batch.lengths.tolist()
        (torch.Size([7, 2, 9]), torch.Size([7, 2, 8]), torch.Size([7, 2]), [7, 7])
    """

    inputs: Tensor
    targets: Tensor
    mask: Tensor
    lengths: Tensor

    def to(self, device: torch.device | str | None) -> "BitBatch":
        """The same batch with every tensor on ``device``."""
        return BitBatch(*(tensor.to(device) for tensor in self))


#: Where the batch dimension of each field of a `BitBatch` is (for splitting a
#: batch between processes, e.g. ``Task.batch_dim``).
BATCH_DIMS = BitBatch(inputs=1, targets=1, mask=1, lengths=0)

#: The generalisation settings of the bit tasks, per task: a name -> the keyword arguments
#: of the task's generator. Copy at L = 30, 50, 80, 120 (L = 120 needs an NTM memory of
#: at least 128 slots); repeat copy on a small grid of L and R up to 20; associative
#: recall at K = 12, 15, 20 items; priority sort has none.
GENERALISATION: Mapping[str, Mapping[str, Mapping[str, int]]] = MappingProxyType({
    "copy": MappingProxyType({f"L={n}": MappingProxyType({"length": n}) for n in (30, 50, 80, 120)}),
    "repeat_copy": MappingProxyType({
        f"L={n},R={r}": MappingProxyType({"length": n, "repeats": r})
        for n, r in ((10, 15), (10, 20), (20, 10), (20, 20))
    }),
    "associative_recall": MappingProxyType({f"K={k}": MappingProxyType({"items": k}) for k in (12, 15, 20)}),
    "priority_sort": MappingProxyType({}),
})


# ---------------------------------------------------------------------------------------
# argument checks and shared helpers


def _check_int(where: str, name: str, value: Any, minimum: int) -> int:
    check_int(where, minimum=minimum, **{name: value})
    return value


def _check_range(where: str, low_name: str, low: Any, high_name: str, high: Any, minimum: int) -> tuple[int, int]:
    low = _check_int(where, low_name, low, minimum)
    high = _check_int(where, high_name, high, minimum)
    if low > high:
        raise ValueError(f"{where}: expected {low_name} <= {high_name}, got {low_name}={low} > {high_name}={high}")
    return low, high


def _sizes(where: str, batch_size: int, fixed: Any, fixed_name: str, low: Any, low_name: str, high: Any,
           high_name: str, minimum: int, generator: torch.Generator | None) -> Tensor:
    """(B,) long: ``fixed`` for every sequence, or one draw from U{low..high} per sequence."""
    if fixed is not None:
        return torch.full((batch_size,), _check_int(where, fixed_name, fixed, minimum), dtype=torch.long)
    low, high = _check_range(where, low_name, low, high_name, high, minimum)
    return torch.randint(low, high + 1, (batch_size,), generator=generator)


def _random_bits(shape: tuple[int, ...], generator: torch.Generator | None, zero_vectors: float = 0.0) -> Tensor:
    """Independent bits, one with probability 1/2, as float32 on the CPU; then, with
    ``zero_vectors`` > 0, each vector (the last dimension) set to all zeros with that
    probability (a second draw from ``generator``; none when it is 0)."""
    data = torch.bernoulli(torch.full(shape, _BIT_PROBABILITY), generator=generator)
    if zero_vectors > 0:
        data = data * (torch.rand(*shape[:-1], 1, generator=generator) >= zero_vectors)
    return data



def _steps(total: int) -> Tensor:
    """(T, 1) long: the time index of every step, to broadcast against (B,) tensors."""
    return torch.arange(total).unsqueeze(1)


def _gather_steps(vectors: Tensor, index: Tensor, keep: Tensor) -> Tensor:
    """out[t, b] = vectors[index[t, b], b] where ``keep[t, b]``, else 0.

    vectors (S, B, C), index (T, B) or broadcastable to it, long (any value where not
    kept), keep (T, B) bool -> (T, B, C).
    """
    index = index.clamp(0, vectors.shape[0] - 1).expand_as(keep)
    gathered = vectors.gather(0, repeat(index, "t b -> t b c", c=vectors.shape[2]))
    return gathered * keep.unsqueeze(2)


def _finish(inputs: Tensor, targets: Tensor, mask: Tensor, lengths: Tensor,
            device: torch.device | str | None) -> BitBatch:
    batch = BitBatch(inputs, targets, mask, lengths)
    return batch if device is None else batch.to(device)


# ---------------------------------------------------------------------------------------
# generators


def copy_batch(
    batch_size: int,
    min_len: int = 1,
    max_len: int = 20,
    *,
    length: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    bits: int = 8,
    zero_vectors: float = 0.0,
) -> BitBatch:
    r"""A batch of the copy task: read a sequence of random bit vectors, then write it back.

    Graves, Wayne & Danihelka (2014), §4.1. For a sequence of length L (the number of
    vectors), with $x_t \in \{0,1\}^{8}$ random bits (p = 1/2):

    | step | inputs ch. 0–7 | input ch. 8 | targets ch. 0–7 | mask |
    |---|---|---|---|---|
    | 0 … L−1 | $x_t$ | 0 | 0 | no |
    | L | 0 | 1 (delimiter) | 0 | no |
    | L+1 … 2L | 0 | 0 | $x_{t-L-1}$ | yes |

    so $T_b = 2L + 1$. Each sequence draws its own $L \sim U\{\text{min\_len}..\text{max\_len}\}$
    (both ends included), and the batch is zero-padded at the end to $T = \max_b T_b$.

    Args:
        batch_size: B, the number of sequences.
        min_len: the smallest length L drawn (>= 1).
        max_len: the largest length L drawn (>= min_len).
        length: if given, every sequence has this length and ``min_len``/``max_len`` are
            ignored (the generalisation tests use L = 30, 50, 80, 120).
        generator: the CPU ``torch.Generator`` drawing lengths and bits; ``None`` uses
            torch's default generator.
        device: where the returned tensors live (built on the CPU, then moved).
        bits: data bits per vector (8 in the paper); the delimiter is channel ``bits``.
        zero_vectors: the probability that a data vector is all zeros instead of random
            bits (0 in the paper, where an all-zero vector has probability $2^{-8}$). An
            all-zero input is, step by step, what the answer phase shows the model, so a
            training distribution that holds more of them teaches the controller to tell
            the phases apart by the delimiter it saw, not by its input. With 0 (the
            default) the draw is the paper's and consumes the generator exactly as before.

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, bits + 1), targets (T, B, bits), mask (T, B), lengths (B,), with
        T = 2·max L + 1.

    Raises:
        ValueError: for a non-positive size, ``min_len > max_len``, or ``zero_vectors``
            outside [0, 1].

    Examples:
        >>> batch = copy_batch(4, max_len=5, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape[1:], batch.targets.shape[1:]
        (torch.Size([4, 9]), torch.Size([4, 8]))
        >>> bool((batch.mask.sum(0) == (batch.lengths - 1) // 2).all())
        True
    """
    where = "copy_batch"
    batch_size = _check_int(where, "batch_size", batch_size, 1)
    bits = _check_int(where, "bits", bits, 1)
    check_probability(where, zero_vectors=zero_vectors)
    check_cpu_generator(where, generator)
    lengths = _sizes(where, batch_size, length, "length", min_len, "min_len", max_len, "max_len", 1, generator)
    longest = int(lengths.max())
    total = 2 * longest + 1
    data = _random_bits((longest, batch_size, bits), generator, zero_vectors)  # (L_max, B, bits)

    t = _steps(total)
    reading = t < lengths  # (T, B)
    answering = (t > lengths) & (t <= 2 * lengths)
    delimiter = t == lengths

    inputs = torch.zeros(total, batch_size, bits + 1)
    inputs[..., :bits] = _gather_steps(data, t, reading)
    inputs[..., bits] = delimiter.float()
    targets = _gather_steps(data, t - lengths - 1, answering)
    return _finish(inputs, targets, answering, 2 * lengths + 1, device)


def repeat_copy_batch(
    batch_size: int,
    min_len: int = 1,
    max_len: int = 10,
    min_repeats: int = 1,
    max_repeats: int = 10,
    *,
    length: int | None = None,
    repeats: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    bits: int = 8,
    zero_vectors: float = 0.0,
) -> BitBatch:
    r"""A batch of the repeat-copy task: write a sequence back R times, then an end marker.

    Graves, Wayne & Danihelka (2014), §4.2. For a sequence of L random bit vectors $x_t$
    and a repeat count R, with $\tilde R = (R - 5.5) / 2.872$ (the mean and standard
    deviation of U{1..10}, kept for any R):

    | step | in. 0–7 | in. 8 | in. 9 | targets 0–7 | target 8 | mask |
    |---|---|---|---|---|---|---|
    | 0 … L−1 | $x_t$ | 0 | 0 | 0 | 0 | no |
    | L | 0 | 1 | $\tilde R$ | 0 | 0 | no |
    | L+1 … L+RL | 0 | 0 | 0 | $x_{(t-L-1) \bmod L}$ | 0 | yes |
    | L+RL+1 | 0 | 0 | 0 | 0 | 1 (end) | yes |

    so $T_b = L + 1 + RL + 1$. Each sequence draws its own $L \sim U\{\text{min\_len}..
    \text{max\_len}\}$ and $R \sim U\{\text{min\_repeats}..\text{max\_repeats}\}$; the batch
    is zero-padded at the end to $T = \max_b T_b$.

    Args:
        batch_size: B, the number of sequences.
        min_len: the smallest length L drawn (>= 1).
        max_len: the largest length L drawn (>= min_len).
        min_repeats: the smallest repeat count R drawn (>= 1).
        max_repeats: the largest repeat count R drawn (>= min_repeats).
        length: if given, every sequence has this length (``min_len``/``max_len`` ignored).
        repeats: if given, every sequence has this repeat count (``min_repeats``/
            ``max_repeats`` ignored).
        generator: the CPU ``torch.Generator`` drawing lengths, counts and bits; ``None``
            uses torch's default generator.
        device: where the returned tensors live.
        bits: data bits per vector (8); the delimiter is input channel ``bits``, the
            repeat count input channel ``bits + 1``, the end marker target channel ``bits``.
        zero_vectors: the probability that a data vector is all zeros instead of random
            bits (0 in the paper; see `copy_batch`: an all-zero input is what the answer
            phase shows). With 0 the generator is consumed exactly as before.

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, bits + 2), targets (T, B, bits + 1), mask (T, B), lengths (B,), with
        T = max (L·(R + 1) + 2).

    Raises:
        ValueError: for a non-positive size or count, a minimum above its maximum, or
            ``zero_vectors`` outside [0, 1].

    Examples:
        >>> batch = repeat_copy_batch(2, length=3, repeats=2, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, batch.targets.shape
        (torch.Size([11, 2, 10]), torch.Size([11, 2, 9]))
        >>> batch.inputs[3, 0, 8:].tolist()  # delimiter and (2 - 5.5) / 2.872
        [1.0, -1.218662977218628]
        >>> batch.targets[10, 0].tolist()  # the end marker
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    """
    where = "repeat_copy_batch"
    batch_size = _check_int(where, "batch_size", batch_size, 1)
    bits = _check_int(where, "bits", bits, 1)
    check_probability(where, zero_vectors=zero_vectors)
    check_cpu_generator(where, generator)
    lengths = _sizes(where, batch_size, length, "length", min_len, "min_len", max_len, "max_len", 1, generator)
    counts = _sizes(where, batch_size, repeats, "repeats", min_repeats, "min_repeats", max_repeats, "max_repeats",
                    1, generator)
    steps = lengths * (counts + 1) + 2
    total = int(steps.max())
    longest = int(lengths.max())
    data = _random_bits((longest, batch_size, bits), generator, zero_vectors)  # (L_max, B, bits)

    t = _steps(total)
    reading = t < lengths
    delimiter = t == lengths
    end = t == steps - 1
    repeating = (t > lengths) & (t < steps - 1)

    inputs = torch.zeros(total, batch_size, bits + 2)
    inputs[..., :bits] = _gather_steps(data, t, reading)
    inputs[..., bits] = delimiter.float()
    inputs[..., bits + 1] = delimiter * ((counts.float() - REPEAT_COUNT_MEAN) / REPEAT_COUNT_STD)
    targets = torch.zeros(total, batch_size, bits + 1)
    targets[..., :bits] = _gather_steps(data, (t - lengths - 1).remainder(lengths), repeating)
    targets[..., bits] = end.float()
    return _finish(inputs, targets, repeating | end, steps, device)


def associative_recall_batch(
    batch_size: int,
    min_items: int = 2,
    max_items: int = 6,
    *,
    items: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    bits: int = 6,
    item_len: int = 3,
) -> BitBatch:
    r"""A batch of associative recall: given one item of a list, return the item after it.

    Graves, Wayne & Danihelka (2014), §4.3. A sequence holds K items, each of n = 3 random
    6-bit vectors $x_{k,1..n}$, and a query item $q \sim U\{0..K-2\}$ (any item but the
    last); the answer is item q + 1. With item delimiter channel 6 and query delimiter
    channel 7, the inputs are, in order:

    | steps | inputs | targets, mask |
    |---|---|---|
    | $(n+1)k$ | ch. 6 = 1 (item k starts) | 0, no |
    | $(n+1)k+1 \ldots (n+1)k+n$ | $x_{k,1..n}$ on ch. 0–5 | 0, no |
    | $(n+1)K$ | ch. 7 = 1 | 0, no |
    | $(n+1)K+1 \ldots (n+1)K+n$ | $x_{q,1..n}$ on ch. 0–5 | 0, no |
    | $(n+1)K+n+1$ | ch. 7 = 1 | 0, no |
    | $(n+1)K+n+2 \ldots (n+1)K+2n+1$ | 0 | $x_{q+1,1..n}$, yes |

    for k = 0..K−1, so $T_b = (n+1)(K+2)$, which is 4K + 8 for n = 3. Each sequence draws
    its own $K \sim U\{\text{min\_items}..\text{max\_items}\}$ and the batch is zero-padded
    at the end. Items are not forced to be distinct (two equal items of 18 bits are
    vanishingly rare).

    Args:
        batch_size: B, the number of sequences.
        min_items: the smallest item count K drawn (>= 2).
        max_items: the largest item count K drawn (>= min_items).
        items: if given, every sequence has this many items (``min_items``/``max_items``
            ignored; the generalisation tests use K = 12, 15, 20).
        generator: the CPU ``torch.Generator`` drawing counts, bits and queries; ``None``
            uses torch's default generator.
        device: where the returned tensors live.
        bits: bits per vector (6); the item delimiter is input channel ``bits``, the query
            delimiter channel ``bits + 1``.
        item_len: n, vectors per item (3).

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, bits + 2), targets (T, B, bits), mask (T, B), lengths (B,), with
        T = (item_len + 1)·(max K + 2).

    Raises:
        ValueError: for a non-positive size, fewer than two items, or
            ``min_items > max_items``.

    Examples:
        >>> batch = associative_recall_batch(3, items=4, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, batch.targets.shape, batch.lengths.tolist()
        (torch.Size([24, 3, 8]), torch.Size([24, 3, 6]), [24, 24, 24])
        >>> batch.mask[:, 0].nonzero().flatten().tolist()
        [21, 22, 23]
    """
    where = "associative_recall_batch"
    batch_size = _check_int(where, "batch_size", batch_size, 1)
    bits = _check_int(where, "bits", bits, 1)
    item_len = _check_int(where, "item_len", item_len, 1)
    check_cpu_generator(where, generator)
    counts = _sizes(where, batch_size, items, "items", min_items, "min_items", max_items, "max_items", 2, generator)
    most = int(counts.max())
    vectors = _random_bits((most, item_len, batch_size, bits), generator)
    vectors = rearrange(vectors, "k n b c -> (k n) b c")  # row k·n + j: vector j of item k
    # the query item, uniform on {0..K-2}; float64 so that the product never rounds up to K-1
    query = (torch.rand(batch_size, dtype=torch.float64, generator=generator) * (counts - 1)).long()
    query = torch.minimum(query, counts - 2)

    block = item_len + 1
    steps = block * (counts + 2)
    total = int(steps.max())
    t = _steps(total)
    listing = t < block * counts  # the K items
    offset = t.remainder(block)  # 0 on an item delimiter, j + 1 on vector j of the item
    item_delimiter = listing & (offset == 0)
    item_vector = listing & (offset != 0)
    query_start = block * counts  # (B,): the first query delimiter
    query_vector = (t > query_start) & (t <= query_start + item_len)
    query_delimiter = (t == query_start) | (t == query_start + item_len + 1)
    answer_start = query_start + item_len + 2
    answering = (t >= answer_start) & (t < steps)

    inputs = torch.zeros(total, batch_size, bits + 2)
    inputs[..., :bits] = (
        _gather_steps(vectors, (t // block) * item_len + offset - 1, item_vector)
        + _gather_steps(vectors, query * item_len + (t - query_start - 1), query_vector)
    )
    inputs[..., bits] = item_delimiter.float()
    inputs[..., bits + 1] = query_delimiter.float()
    targets = _gather_steps(vectors, (query + 1) * item_len + (t - answer_start), answering)
    return _finish(inputs, targets, answering, steps, device)


def priority_sort_batch(
    batch_size: int,
    *,
    num_inputs: int = 20,
    num_outputs: int = 16,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    bits: int = 8,
) -> BitBatch:
    r"""A batch of priority sort: write the highest-priority input vectors, highest first.

    Graves, Wayne & Danihelka (2014), §4.5. A sequence holds N = ``num_inputs`` random bit
    vectors $x_i$, each with a priority $p_i \sim U[-1, 1)$; the target is the M =
    ``num_outputs`` vectors of highest priority, in decreasing order of priority
    ($p_{\pi(0)} > p_{\pi(1)} > \dots$):

    | step | in. 0–7 | in. 8 | in. 9 | targets 0–7 | mask |
    |---|---|---|---|---|---|
    | 0 … N−1 | $x_t$ | $p_t$ | 0 | 0 | no |
    | N | 0 | 0 | 1 (delimiter) | 0 | no |
    | N+1 … N+M | 0 | 0 | 0 | $x_{\pi(t-N-1)}$ | yes |

    so every sequence has T = N + 1 + M steps (37 for the paper's 20 and 16); there is no
    padding. Ties between priorities (probability zero) keep the input order.

    Args:
        batch_size: B, the number of sequences.
        num_inputs: N, input vectors per sequence (20).
        num_outputs: M, vectors to write back (16, at most N).
        generator: the CPU ``torch.Generator`` drawing bits and priorities; ``None`` uses
            torch's default generator.
        device: where the returned tensors live.
        bits: data bits per vector (8); the priority is input channel ``bits``, the
            delimiter channel ``bits + 1``.

    Returns:
        A `BitBatch`.

    Shapes:
        inputs (T, B, bits + 2), targets (T, B, bits), mask (T, B), lengths (B,), with
        T = num_inputs + 1 + num_outputs.

    Raises:
        ValueError: for a non-positive size, or ``num_outputs > num_inputs``.

    Examples:
        >>> batch = priority_sort_batch(2, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, batch.targets.shape, batch.lengths.tolist()
        (torch.Size([37, 2, 10]), torch.Size([37, 2, 8]), [37, 37])
        >>> batch.mask[:, 0].nonzero().flatten()[[0, -1]].tolist()
        [21, 36]
    """
    where = "priority_sort_batch"
    batch_size = _check_int(where, "batch_size", batch_size, 1)
    bits = _check_int(where, "bits", bits, 1)
    num_outputs, num_inputs = _check_range(where, "num_outputs", num_outputs, "num_inputs", num_inputs, 1)
    check_cpu_generator(where, generator)
    data = _random_bits((num_inputs, batch_size, bits), generator)
    priority = torch.rand(num_inputs, batch_size, generator=generator) * (_PRIORITY_HIGH - _PRIORITY_LOW) + _PRIORITY_LOW
    order = torch.sort(priority, dim=0, descending=True, stable=True).indices[:num_outputs]  # (M, B)

    total = num_inputs + 1 + num_outputs
    inputs = torch.zeros(total, batch_size, bits + 2)
    inputs[:num_inputs, :, :bits] = data
    inputs[:num_inputs, :, bits] = priority
    inputs[num_inputs, :, bits + 1] = 1.0
    targets = torch.zeros(total, batch_size, bits)
    targets[num_inputs + 1:] = _gather_steps(data, order, torch.ones_like(order, dtype=torch.bool))
    mask = torch.zeros(total, batch_size, dtype=torch.bool)
    mask[num_inputs + 1:] = True
    lengths = torch.full((batch_size,), total, dtype=torch.long)
    return _finish(inputs, targets, mask, lengths, device)


# ---------------------------------------------------------------------------------------
# metrics


def _answer_bce(where: str, logits: Tensor, batch: BitBatch) -> tuple[Tensor, Tensor]:
    """Per-bit BCE in nats (T, B, C), zero off the answer phase, and the float mask (T, B, 1)."""
    _check_batch(where, logits, batch)
    dtype = torch.promote_types(logits.dtype, torch.float32)
    targets = batch.targets.to(dtype)
    bce = F.binary_cross_entropy_with_logits(logits.to(dtype), targets, reduction="none")
    mask = batch.mask.unsqueeze(2).to(dtype)
    return bce * mask, mask


def _check_batch(where: str, logits: Tensor, batch: BitBatch) -> None:
    if not isinstance(batch, BitBatch):
        raise ValueError(f"{where}: expected batch to be a BitBatch, got {type(batch).__name__}")
    check_shapes(where, targets=(batch.targets, "T B C"), mask=(batch.mask, "T B"), logits=(logits, "T B C"))


def bits_per_sequence(logits: Tensor, batch: BitBatch) -> Tensor:
    r"""The cross-entropy of the target bits, summed over each answer phase, in bits; mean over the batch.

    The metric Graves, Wayne & Danihelka (2014) plot ("cost per sequence (bits)"). With
    $A_b$ the answer-phase steps of sequence b (``batch.mask``), $z$ the logits, $y$ the
    targets and $\sigma$ the logistic function:

    $$\frac{1}{B} \sum_{b} \sum_{t \in A_b} \sum_{c}
      -\bigl[y_{tbc} \log_2 \sigma(z_{tbc}) + (1 - y_{tbc}) \log_2 (1 - \sigma(z_{tbc}))\bigr]$$

    computed from the logits with ``binary_cross_entropy_with_logits`` (stable for any
    logit). Logits of 0 everywhere give exactly one bit per answer bit.

    Args:
        logits: the model's outputs before the sigmoid.
        batch: the `BitBatch` the model read.

    Returns:
        A scalar tensor (float32, or float64 for float64 logits), differentiable.

    Shapes:
        logits (T, B, C_out) with T, B, C_out those of ``batch.targets`` -> ().

    Examples:
        >>> batch = copy_batch(2, length=3, generator=torch.Generator().manual_seed(0))
        >>> bits_per_sequence(torch.zeros_like(batch.targets), batch)  # 3 steps x 8 bits
        tensor(24.)
    """
    bce, _ = _answer_bce("bits_per_sequence", logits, batch)
    # nats -> bits per element before summing, so that logits of 0 give exactly 1 per bit
    return (bce / _LN2).sum() / logits.shape[1]


def wrong_bits_per_sequence(logits: Tensor, batch: BitBatch) -> Tensor:
    r"""The number of wrong output bits per sequence over the answer phase, averaged over the batch.

    A bit is output as 1 where its logit is positive (probability above 1/2); the
    "cost" of later NTM reimplementations and the "error" of Collier & Beel (2018), used
    with Graves, Wayne & Danihelka (2014)'s tasks:

    $$\frac{1}{B} \sum_{b} \sum_{t \in A_b} \sum_{c} \bigl[\, [z_{tbc} > 0] \ne y_{tbc} \,\bigr]$$

    A run counts as converged when this is below 0.1 on 1,000 fresh sequences
    (Collier & Beel 2018).

    Args:
        logits: the model's outputs before the sigmoid.
        batch: the `BitBatch` the model read.

    Returns:
        A scalar float32 tensor (no gradient).

    Shapes:
        logits (T, B, C_out) with T, B, C_out those of ``batch.targets`` -> ().

    Examples:
        >>> batch = copy_batch(2, length=3, generator=torch.Generator().manual_seed(0))
        >>> wrong_bits_per_sequence(batch.targets * 2 - 1, batch)  # perfect logits
        tensor(0.)
    """
    _check_batch("wrong_bits_per_sequence", logits, batch)
    wrong = ((logits.detach() > 0) != (batch.targets > 0.5)) & batch.mask.unsqueeze(2)
    return wrong.sum().float() / logits.shape[1]


def masked_bce_loss(logits: Tensor, batch: BitBatch) -> Tensor:
    r"""The training loss: binary cross-entropy with logits, averaged over the answer-phase bits.

    $$\mathcal{L} = \frac{1}{\sum_b |A_b| \cdot C} \sum_b \sum_{t \in A_b} \sum_c
      \mathrm{BCE}(z_{tbc}, y_{tbc})$$

    in nats, with $A_b$ the answer-phase steps of sequence b. Why the mean per bit and not
    the sum per sequence: within a batch it is `bits_per_sequence` times a constant
    (every bit weighs the same, as in that metric), and its size does not grow with the
    sequence length, so the learning rate and the gradient-norm clipping keep their meaning
    across tasks, generalisation lengths and the stages of a length curriculum (it is also
    what ``torch.nn.BCEWithLogitsLoss`` gives, the loss of the common NTM reimplementations).
    When a batch of sequences of different lengths is split between processes, each
    process's mean is over its own bits, so the averaged gradient weighs bits very
    slightly differently than one process would.

    Args:
        logits: the model's outputs before the sigmoid.
        batch: the `BitBatch` the model read.

    Returns:
        A differentiable scalar tensor (float32, or float64 for float64 logits).

    Shapes:
        logits (T, B, C_out) with T, B, C_out those of ``batch.targets`` -> ().

    Examples:
        >>> batch = copy_batch(2, length=3, generator=torch.Generator().manual_seed(0))
        >>> masked_bce_loss(torch.zeros_like(batch.targets), batch)  # ln 2
        tensor(0.6931)
    """
    bce, mask = _answer_bce("masked_bce_loss", logits, batch)
    count = mask.sum() * logits.shape[2]
    return bce.sum() / count.clamp(min=1.0)
