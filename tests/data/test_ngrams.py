"""Tests of memnets.data.ngrams: dynamic N-grams (Graves et al. 2014, §4.4) and the
Bayes-optimal estimator, against slow loops and the estimator's known properties."""

from __future__ import annotations

import doctest
import math

import pytest
import torch

import memnets.data.ngrams as ngrams_module
from memnets.data.bits import BitBatch, bits_per_sequence, masked_bce_loss
from memnets.data.ngrams import (
    NGRAM_LENGTH,
    NGRAM_ORDER,
    bayes_optimal_probabilities,
    ngram_batch,
    ngram_contexts,
    ngram_sequences,
    ngram_tables,
    optimal_bits_per_sequence,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ reference loops


def estimator_ref(bits, order):
    """P(x_t = 1) = (N1 + 1/2) / (N0 + N1 + 1), counting earlier bits with the same context."""
    B, L = bits.shape
    k = order - 1
    out = torch.full((B, L), 0.5, dtype=torch.float64)
    for b in range(B):
        seq = [int(v) for v in bits[b]]
        counts = {}
        for t in range(k, L):
            context = tuple(seq[t - k : t])
            n0, n1 = counts.get(context, (0, 0))
            out[b, t] = (n1 + 0.5) / (n0 + n1 + 1)
            counts[context] = (n0 + (seq[t] == 0), n1 + (seq[t] == 1))
    return out


def marginal_bits(bits, order):
    """-log2 of the Beta(1/2, 1/2)-Bernoulli marginal likelihood of each sequence's table-driven bits."""
    k = order - 1
    out = []
    log_b0 = 2 * math.lgamma(0.5) - math.lgamma(1.0)
    for seq in bits.long().tolist():
        counts = {}
        for t in range(k, len(seq)):
            n0, n1 = counts.get(tuple(seq[t - k : t]), (0, 0))
            counts[tuple(seq[t - k : t])] = (n0 + (seq[t] == 0), n1 + (seq[t] == 1))
        total = 0.0
        for n0, n1 in counts.values():
            log_b = math.lgamma(n1 + 0.5) + math.lgamma(n0 + 0.5) - math.lgamma(n0 + n1 + 1.0)
            total -= (log_b - log_b0) / math.log(2)
        out.append(total)
    return torch.tensor(out, dtype=torch.float64)


# --------------------------------------------------------------------------- tests


def test_docstring_examples():
    result = doctest.testmod(ngrams_module, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


def test_batch_layout():
    batch = ngram_batch(5, generator=gen())
    assert isinstance(batch, BitBatch)
    T = NGRAM_LENGTH - 1
    assert batch.inputs.shape == batch.targets.shape == (T, 5, 1)
    assert batch.mask.shape == (T, 5) and batch.mask.dtype == torch.bool
    assert batch.lengths.tolist() == [T] * 5
    # mask on the predictions of bits 5..199; next-bit targets
    assert batch.mask[:, 0].tolist() == [t + 1 >= NGRAM_ORDER - 1 for t in range(T)]
    torch.testing.assert_close(batch.targets[:-1][batch.mask[:-1]], batch.inputs[1:][batch.mask[:-1]])
    assert not batch.targets[~batch.mask].any()
    assert set(batch.inputs.unique().tolist()) <= {0.0, 1.0}
    # logits of 0 cost 1 bit per prediction; the metrics of the bit tasks apply
    assert float(bits_per_sequence(torch.zeros_like(batch.targets), batch)) == pytest.approx(195.0)
    assert float(masked_bce_loss(torch.zeros_like(batch.targets), batch)) == pytest.approx(math.log(2))


def test_seeded():
    a, b = ngram_batch(3, generator=gen(7)), ngram_batch(3, generator=gen(7))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    c = ngram_batch(3, generator=gen(8))
    assert not torch.equal(a.inputs, c.inputs)


def test_tables_are_beta_half_half():
    tables = ngram_tables(2000, generator=gen(1))
    assert tables.shape == (2000, 32)
    assert (tables >= 0).all() and (tables <= 1).all()
    # Beta(1/2, 1/2): mean 1/2, variance 1/8, CDF (2/pi) arcsin(sqrt(x)).
    assert float(tables.mean()) == pytest.approx(0.5, abs=0.005)
    assert float(tables.var()) == pytest.approx(0.125, abs=0.003)
    for x in (0.05, 0.25, 0.75):
        cdf = 2 / math.pi * math.asin(math.sqrt(x))
        assert float((tables < x).double().mean()) == pytest.approx(cdf, abs=0.01)


def test_sequences_follow_their_table():
    tables = torch.tensor([[0.1, 0.9, 0.5, 0.2]])  # order 3
    bits = ngram_sequences(tables.expand(400, -1), length=300, generator=gen(2))
    contexts = ngram_contexts(bits, order=3)
    following = bits[:, 2:]
    for c, p in enumerate(tables[0].tolist()):
        chosen = following[contexts == c]
        assert float(chosen.mean()) == pytest.approx(p, abs=0.01)
    assert float(bits[:, :2].mean()) == pytest.approx(0.5, abs=0.03)  # the fair first bits


def test_sequences_against_loop():
    """The same uniforms, drawn in the documented order, give the same bits as a plain loop."""
    tables = ngram_tables(3, order=4, generator=gen(3))
    bits = ngram_sequences(tables, length=40, generator=gen(4))
    uniforms = torch.rand(3, 40, generator=gen(4))
    for b in range(3):
        seq = []
        for t in range(40):
            if t < 3:
                seq.append(int(uniforms[b, t] < 0.5))
            else:
                c = seq[t - 3] * 4 + seq[t - 2] * 2 + seq[t - 1]
                seq.append(int(uniforms[b, t] < tables[b, c]))
        assert bits[b].long().tolist() == seq


def test_contexts_against_loop():
    bits = ngram_sequences(ngram_tables(2, generator=gen(5)), length=30, generator=gen(6))
    contexts = ngram_contexts(bits)
    for b in range(2):
        for t in range(5, 30):
            expected = int("".join(str(int(v)) for v in bits[b, t - 5 : t].tolist()), 2)
            assert int(contexts[b, t - 5]) == expected


def test_estimator_against_loop():
    batch_bits = ngram_sequences(ngram_tables(4, generator=gen(9)), generator=gen(10))
    torch.testing.assert_close(bayes_optimal_probabilities(batch_bits), estimator_ref(batch_bits, NGRAM_ORDER))
    short = ngram_sequences(ngram_tables(3, order=3, generator=gen(11)), length=25, generator=gen(12))
    torch.testing.assert_close(bayes_optimal_probabilities(short, order=3), estimator_ref(short, 3))


def test_optimal_loss_equals_the_marginal_likelihood():
    """The product of sequential predictive probabilities is the Beta-Bernoulli marginal likelihood."""
    batch = ngram_batch(6, generator=gen(13))
    bits = torch.cat([batch.inputs[:, :, 0].T, batch.targets[-1:, :, 0].T], dim=1)
    expected = marginal_bits(bits, NGRAM_ORDER).mean()
    torch.testing.assert_close(optimal_bits_per_sequence(batch), expected)


def test_optimal_loss_close_to_the_oracle():
    """Knowing the table is better on average, but the estimator's regret is modest:
    about (1/2) log2 n per context seen n times (about 60 bits here at most)."""
    torch.manual_seed(0)
    g = gen(14)
    tables = ngram_tables(300, generator=g)
    bits = ngram_sequences(tables, generator=g)
    contexts = ngram_contexts(bits)
    p = tables.gather(1, contexts).double()
    y = bits[:, 5:].double()
    # xlogy: a table entry can be exactly 0 or 1 in float32 (Beta(1/2, 1/2) has mass near both ends)
    oracle = float(-(torch.xlogy(y, p) + torch.xlogy(1 - y, 1 - p)).sum(1).mean()) / math.log(2)
    p_opt = bayes_optimal_probabilities(bits)[:, 5:]
    optimal = float(-(y * torch.log2(p_opt) + (1 - y) * torch.log2(1 - p_opt)).sum(1).mean())
    assert oracle < optimal < oracle + 60
    assert optimal < 195  # better than guessing


def test_estimator_properties():
    # Symmetric in 0 and 1; in (0, 1); starts at 1/2 for every new context.
    bits = ngram_sequences(ngram_tables(5, generator=gen(15)), generator=gen(16))
    p = bayes_optimal_probabilities(bits)
    torch.testing.assert_close(bayes_optimal_probabilities(1 - bits), 1 - p)
    assert (p > 0).all() and (p < 1).all()
    assert torch.equal(p[:, :5], torch.full((5, 5), 0.5, dtype=torch.float64))
    # A context always followed by 1: n ones in a row give (n + 1/2) / (n + 1).
    ones = torch.ones(1, 12)
    torch.testing.assert_close(
        bayes_optimal_probabilities(ones)[0, 5:], torch.tensor([(n + 0.5) / (n + 1) for n in range(7)], dtype=torch.float64)
    )


def test_empty_mask_steps_are_ignored():
    batch = ngram_batch(2, length=10, order=3, generator=gen(17))
    assert batch.inputs.shape == (9, 2, 1) and int(batch.mask[:, 0].sum()) == 8
    assert float(optimal_bits_per_sequence(batch, order=3)) > 0


@pytest.mark.parametrize(
    "call,error",
    [
        (lambda: ngram_batch(0), ValueError),
        (lambda: ngram_batch(2.0), TypeError),
        (lambda: ngram_batch(2, length=5), ValueError),
        (lambda: ngram_batch(2, order=1), ValueError),
        (lambda: ngram_batch(2, generator=0), TypeError),
        (lambda: ngram_tables(2, order=True), TypeError),
        (lambda: ngram_sequences(torch.rand(2, 6)), ValueError),
        (lambda: ngram_sequences(torch.full((2, 4), 1.5)), ValueError),
        (lambda: ngram_sequences(torch.rand(2, 4), length=2), ValueError),
        (lambda: bayes_optimal_probabilities(torch.rand(2, 10)), ValueError),
        (lambda: bayes_optimal_probabilities(torch.ones(2, 3)), ValueError),
        (lambda: bayes_optimal_probabilities(torch.ones(10)), ValueError),
        (lambda: bayes_optimal_probabilities(torch.ones(2, 10), prior=0.0), ValueError),
        (lambda: optimal_bits_per_sequence((1, 2, 3, 4)), TypeError),
    ],
)
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()


def test_device_argument():
    batch = ngram_batch(2, generator=gen(18), device="cpu")
    assert batch.inputs.device.type == "cpu"
