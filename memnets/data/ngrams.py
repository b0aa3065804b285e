r"""Dynamic N-grams: predict the next bit of a sequence drawn from a random N-gram table.

Graves, Wayne & Danihelka (2014), "Neural Turing Machines", §4.4. For each sequence a
fresh 6-gram model over bits is drawn: for each of the $2^5 = 32$ contexts $c$ (the five
previous bits) the probability that the next bit is 1,

$$P(x_t = 1 \mid c) \sim \mathrm{Beta}(\tfrac12, \tfrac12)
  \quad \text{independently for every } c,$$

and then 200 successive bits are drawn from that table. A model reads the sequence one
bit at a time and predicts the next; it can only do well by counting, in memory, how often
each context was followed by a 0 and by a 1 so far.

**The Bayes-optimal estimator** (Murphy 2012, §3.3.4, the paper's analytic baseline):
with $N_0$, $N_1$ the number of zeros and ones seen so far after the current context,

$$P(x_t = 1 \mid N_1, N_0, c) = \frac{N_1 + \frac12}{N_0 + N_1 + 1},$$

the posterior predictive of a Bernoulli with a Beta(½, ½) prior. `optimal_bits_per_sequence`
computes its loss on a batch exactly, from the sequences themselves.

**Layout.** The first $n - 1 = 5$ bits have no full context and are fair coin flips; bits
5..199 follow the table. A batch is a `memnets.data.bits.BitBatch` with one channel, so
`bits_per_sequence` and `masked_bce_loss` of `memnets.data.bits` apply unchanged: over
$T = 199$ steps the model reads ``inputs[t] = x_t`` and predicts ``targets[t] = x_{t+1}``,
and the ``mask`` is true where $x_{t+1}$ was drawn from the table ($t + 1 \ge 5$, 195
predictions per sequence). The context index of the bits $x_{t-5} \dots x_{t-1}$ is the
binary number they spell, oldest bit first (most significant).

All randomness comes from the ``generator`` argument (a CPU ``torch.Generator``; ``None``
uses torch's default generator); tensors are built on the CPU and then moved to ``device``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from memnets._checks import check_int, check_positive_int, check_shapes
from memnets.data._common import check_cpu_generator
from memnets.data.bits import BitBatch

__all__ = [
    "NGRAM_ORDER",
    "NGRAM_LENGTH",
    "NGRAM_PRIOR",
    "ngram_tables",
    "ngram_sequences",
    "ngram_batch",
    "ngram_contexts",
    "bayes_optimal_probabilities",
    "optimal_bits_per_sequence",
]

#: The order n of the N-grams (Graves et al. 2014: 6-grams, contexts of 5 bits).
NGRAM_ORDER = 6
#: Bits per sequence (Graves et al. 2014: 200).
NGRAM_LENGTH = 200
#: Both parameters of the Beta prior of every table entry (Graves et al. 2014: Beta(½, ½)),
#: and the pseudo-count of the optimal estimator.
NGRAM_PRIOR = 0.5
_LN2 = math.log(2.0)


def _check_order(where: str, order: int) -> None:
    check_int(where, minimum=2, order=order)


def _check_bits(where: str, bits: Tensor, order: int) -> dict[str, int]:
    dims = check_shapes(where, bits=(bits, "B L"))
    if dims["L"] < order:
        raise ValueError(f"{where}: expected sequences of at least order={order} bits, got length {dims['L']}")
    if bits.numel() and not ((bits == 0) | (bits == 1)).all():
        raise ValueError(f"{where}: expected bits with values in {{0, 1}}, got other values")
    return dims


def ngram_tables(batch_size: int, order: int = NGRAM_ORDER, *, generator: torch.Generator | None = None) -> Tensor:
    r"""Random N-gram tables: $P(x_t = 1 \mid c) \sim \mathrm{Beta}(\frac12, \frac12)$ per context.

    Graves et al. (2014), §4.4. Beta(½, ½) draws are made as $G_1 / (G_1 + G_2)$ with
    $G_1, G_2 \sim \mathrm{Gamma}(\frac12, 1)$ from the seeded generator (through
    $G = \frac12 Z^2$, $Z \sim \mathcal N(0, 1)$, which has that law).

    Args:
        batch_size: B, one table per sequence.
        order: n; each table has $2^{n-1}$ contexts.
        generator: the random source.

    Returns:
        (B, 2^(n-1)) float32 in [0, 1]: entry $c$ is $P(x_t = 1 \mid c)$.

    Examples:
        >>> ngram_tables(2, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 32])
    """
    where = "ngram_tables"
    check_positive_int(where, batch_size=batch_size)
    _check_order(where, order)
    check_cpu_generator(where, generator)
    # Gamma(1/2, 1) is Z^2 / 2 for a standard normal Z; the Beta(1/2, 1/2) draw is G1 / (G1 + G2).
    z = torch.randn(2, batch_size, 2 ** (order - 1), generator=generator)
    g = 0.5 * z * z
    return g[0] / (g[0] + g[1]).clamp_min(torch.finfo(g.dtype).tiny)


def ngram_contexts(bits: Tensor, order: int = NGRAM_ORDER) -> Tensor:
    r"""The context index of every bit that has a full context.

    For bit $t \ge n - 1$, the index of $x_{t-n+1} \dots x_{t-1}$ read as a binary number,
    oldest bit first: $c_t = \sum_{k=1}^{n-1} x_{t-k}\, 2^{k-1}$.

    Args:
        bits: the sequences, values in {0, 1}.
        order: n.

    Returns:
        (B, L - n + 1) long: ``out[:, s]`` is the context of bit ``s + n - 1``.

    Examples:
        >>> ngram_contexts(torch.tensor([[1.0, 0.0, 1.0, 1.0]]), order=3).tolist()
        [[2, 1]]
    """
    _check_order("ngram_contexts", order)
    _check_bits("ngram_contexts", bits, order)
    return _contexts(bits, order)


def _contexts(bits: Tensor, order: int) -> Tensor:
    k = order - 1
    windows = bits.long().unfold(-1, k, 1)[:, :-1]  # (B, L - k, k): bits t-k .. t-1 for t = k .. L-1
    powers = 2 ** torch.arange(k - 1, -1, -1, device=bits.device)  # oldest bit most significant
    return (windows * powers).sum(-1)


def ngram_sequences(
    tables: Tensor, length: int = NGRAM_LENGTH, *, generator: torch.Generator | None = None
) -> Tensor:
    r"""Bit sequences drawn from given N-gram tables.

    The first $n - 1$ bits are fair coin flips; every later bit is drawn with
    $P(x_t = 1) = \text{tables}[b, c_t]$, $c_t$ as in `ngram_contexts`. The order $n$ is
    read from the table size ($2^{n-1}$ entries).

    Args:
        tables: (B, 2^(n-1)) probabilities in [0, 1] (`ngram_tables`).
        length: L, bits per sequence (at least n).
        generator: the random source.

    Returns:
        (B, L) float32 bits, on the tables' device.

    Examples:
        >>> gen = torch.Generator().manual_seed(0)
        >>> ngram_sequences(ngram_tables(3, generator=gen), generator=gen).shape
        torch.Size([3, 200])
    """
    where = "ngram_sequences"
    dims = check_shapes(where, tables=(tables, "B C"))
    contexts = dims["C"]
    order = contexts.bit_length()
    if contexts < 2 or contexts != 2 ** (order - 1):
        raise ValueError(f"{where}: expected tables of shape (B, 2^(n-1)) with n >= 2, got {tuple(tables.shape)}")
    if tables.numel() and not ((tables >= 0) & (tables <= 1)).all():
        raise ValueError(f"{where}: expected table probabilities in [0, 1], got values outside")
    check_int(where, minimum=order, length=length)
    check_cpu_generator(where, generator)
    B, k = dims["B"], order - 1
    probs = tables.detach().to("cpu", torch.float32)
    uniforms = torch.rand(B, length, generator=generator)  # one uniform per bit, drawn up front
    bits = torch.zeros(B, length)
    bits[:, :k] = (uniforms[:, :k] < 0.5).float()
    context = (bits[:, :k].long() * 2 ** torch.arange(k - 1, -1, -1)).sum(-1)  # (B,)
    mask = 2**k - 1
    rows = torch.arange(B)
    for t in range(k, length):  # each bit depends on the previous ones
        bit = (uniforms[:, t] < probs[rows, context]).long()
        bits[:, t] = bit.float()
        context = ((context << 1) | bit) & mask
    return bits.to(tables.device)


def ngram_batch(
    batch_size: int,
    length: int = NGRAM_LENGTH,
    order: int = NGRAM_ORDER,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> BitBatch:
    r"""A batch of the dynamic N-grams task: a fresh table per sequence, next-bit targets.

    Graves et al. (2014), §4.4: tables from `ngram_tables`, sequences from
    `ngram_sequences`, laid out as the module docstring says (inputs $x_0..x_{L-2}$,
    targets $x_1..x_{L-1}$, mask on the targets drawn from the table).

    Args:
        batch_size: B.
        length: L, bits per sequence (200 in the paper).
        order: n (6 in the paper).
        generator: the random source.
        device: where to put the tensors.

    Returns:
        A `memnets.data.bits.BitBatch` with inputs and targets (L − 1, B, 1), mask
        (L − 1, B) and lengths (B,) = L − 1.

    Examples:
        >>> batch = ngram_batch(4, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, int(batch.mask[:, 0].sum())
        (torch.Size([199, 4, 1]), 195)
    """
    where = "ngram_batch"
    check_positive_int(where, batch_size=batch_size)
    _check_order(where, order)
    check_int(where, minimum=order, length=length)
    check_cpu_generator(where, generator)
    bits = ngram_sequences(ngram_tables(batch_size, order, generator=generator), length, generator=generator)
    steps = length - 1
    mask = (torch.arange(steps) + 1 >= order - 1).unsqueeze(1).expand(steps, batch_size).clone()
    inputs = rearrange(bits[:, :-1], "b t -> t b 1")
    targets = rearrange(bits[:, 1:], "b t -> t b 1") * mask.unsqueeze(-1)
    batch = BitBatch(inputs, targets, mask, torch.full((batch_size,), steps, dtype=torch.long))
    return batch if device is None else batch.to(device)


def bayes_optimal_probabilities(bits: Tensor, order: int = NGRAM_ORDER, prior: float = NGRAM_PRIOR) -> Tensor:
    r"""The Bayes-optimal prediction of every bit from the bits before it.

    Graves et al. (2014), §4.4 (after Murphy 2012, §3.3.4): for bit $t \ge n - 1$ with
    context $c_t$, and $N_0$, $N_1$ the numbers of earlier bits $s < t$ with context
    $c_s = c_t$ that were 0 and 1,

    $$P(x_t = 1 \mid x_{<t}) = \frac{N_1 + \alpha}{N_0 + N_1 + 2\alpha}, \qquad \alpha = \tfrac12,$$

    the posterior predictive under a Beta(α, α) prior on every table entry. Bits without a
    full context ($t < n - 1$, fair coin flips) get $\frac12$.

    Args:
        bits: the sequences, values in {0, 1}.
        order: n.
        prior: α, the Beta prior's parameter (½ in the paper).

    Returns:
        (B, L) float64: the probability that bit $t$ is 1, given bits $0..t-1$.

    Examples:
        >>> p = bayes_optimal_probabilities(torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0]]), order=2)
        >>> p.tolist()  # bit 3 (context 0, once followed by 1), bit 4 (context 1, once by 0)
        [[0.5, 0.5, 0.5, 0.75, 0.25]]
    """
    where = "bayes_optimal_probabilities"
    _check_order(where, order)
    if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not (prior > 0 and math.isfinite(prior)):
        raise ValueError(f"{where}: expected prior to be a positive finite number, got {prior!r}")
    _check_bits(where, bits, order)
    k = order - 1
    x = bits.to(torch.float64)
    contexts = F.one_hot(_contexts(bits, order), 2**k).to(torch.float64)  # (B, L - k, 2^k)
    target = x[:, k:].unsqueeze(-1)  # (B, L - k, 1)
    # Counts over s < t: an exclusive cumulative sum along time.
    ones = torch.cumsum(contexts * target, dim=1) - contexts * target
    seen = torch.cumsum(contexts, dim=1) - contexts
    n1 = (ones * contexts).sum(-1)
    n = (seen * contexts).sum(-1)
    p = (n1 + prior) / (n + 2 * prior)
    return torch.cat([torch.full_like(x[:, :k], 0.5), p], dim=1)


def optimal_bits_per_sequence(batch: BitBatch, order: int = NGRAM_ORDER, prior: float = NGRAM_PRIOR) -> Tensor:
    r"""The Bayes-optimal estimator's loss on a batch, in bits per sequence (mean over the batch).

    The analytic baseline of Graves et al. (2014), §4.4: the cross-entropy of the targets
    under `bayes_optimal_probabilities`, summed over each sequence's masked steps, in bits,
    the same quantity `memnets.data.bits.bits_per_sequence` gives for a model's logits:

    $$\frac{1}{B} \sum_b \sum_{t \in A_b} -\log_2 P(x_{t+1} \mid x_{\le t}).$$

    Exact, from the sequences in the batch (the tables are not needed). For the full 195
    predictions of a 200-bit sequence it equals
    $-\sum_c \log_2 \frac{B(N^c_1 + \alpha,\, N^c_0 + \alpha)}{B(\alpha, \alpha)}$ over the
    contexts' final counts (the Beta-Bernoulli marginal likelihood).

    Args:
        batch: a batch from `ngram_batch` (inputs and targets (T, B, 1)).
        order: n, as the batch was made with.
        prior: α (½).

    Returns:
        A scalar float64 tensor.

    Examples:
        >>> batch = ngram_batch(8, generator=torch.Generator().manual_seed(0))
        >>> 100 < float(optimal_bits_per_sequence(batch)) < 195
        True
    """
    where = "optimal_bits_per_sequence"
    if not isinstance(batch, BitBatch):
        raise TypeError(f"{where}: batch should be a BitBatch, got: {type(batch).__name__}")
    check_shapes(
        where, inputs=(batch.inputs, "T B 1"), targets=(batch.targets, "T B 1"), mask=(batch.mask, "T B")
    )
    inputs = rearrange(batch.inputs, "t b 1 -> b t")
    targets = rearrange(batch.targets, "t b 1 -> b t")
    bits = torch.cat([inputs, targets[:, -1:]], dim=1)
    p = bayes_optimal_probabilities(bits, order, prior)[:, 1:]  # predictions of x_1 .. x_{L-1}
    y = targets.to(torch.float64)
    nats = -(y * torch.log(p) + (1 - y) * torch.log1p(-p))
    mask = rearrange(batch.mask, "t b -> b t")
    return (nats * mask).sum() / _LN2 / max(bits.shape[0], 1)
