"""Tests of memnets.functional.dnc against slow loops written from the paper.

Graves et al. (2016), Nature, Methods ("Dynamic memory allocation", "Temporal memory
linkage", "Read weighting"). Each reference below is a plain Python loop over batch, head
and slot, written from the equation and nothing else.
"""

from __future__ import annotations

import doctest
import itertools

import pytest
import torch
from torch.autograd import gradcheck

import memnets.functional as MF
import memnets.functional.dnc as dnc_module
from memnets.functional.dnc import (
    _EPSILON,
    allocation_weights,
    directional_weights,
    link_update,
    precedence_update,
    read_weighting,
    retention_vector,
    sparse_directional_weights,
    sparse_link_update,
    usage_update,
    write_weighting,
)

DTYPE = torch.float64


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(2016)


def _unit(*shape: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(*shape, generator=generator, dtype=DTYPE)


def _weighting(*shape: int, generator: torch.Generator) -> torch.Tensor:
    """Non-negative rows summing to at most 1 (a softmax times a random total)."""
    w = torch.softmax(2.0 * torch.randn(*shape, generator=generator, dtype=DTYPE), dim=-1)
    return w * torch.rand(*shape[:-1], 1, generator=generator, dtype=DTYPE)


# ------------------------------------------------------------------ reference loops


def retention_ref(read_weights, free_gates):
    B, R, N = read_weights.shape
    out = torch.ones(B, N, dtype=DTYPE)
    for b in range(B):
        for n in range(N):
            for i in range(R):
                out[b, n] *= 1.0 - float(free_gates[b, i]) * float(read_weights[b, i, n])
    return out


def usage_ref(usage, write_weights, read_weights, free_gates):
    psi = retention_ref(read_weights, free_gates)
    B, N = usage.shape
    out = torch.zeros(B, N, dtype=DTYPE)
    for b in range(B):
        for n in range(N):
            u, w = float(usage[b, n]), float(write_weights[b, n])
            out[b, n] = (u + w - u * w) * float(psi[b, n])
    return out


def allocation_ref(usage, epsilon=_EPSILON):
    """a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i], phi ascending usage (ties: lower index)."""
    B, N = usage.shape
    out = torch.zeros(B, N, dtype=DTYPE)
    for b in range(B):
        u = [epsilon + (1.0 - epsilon) * float(usage[b, n]) for n in range(N)]
        phi = sorted(range(N), key=lambda n: (u[n], n))
        prod = 1.0
        for j in range(N):
            out[b, phi[j]] = (1.0 - u[phi[j]]) * prod
            prod *= u[phi[j]]
    return out


def write_weighting_ref(allocation, content, allocation_gate, write_gate):
    B, N = allocation.shape
    out = torch.zeros(B, N, dtype=DTYPE)
    for b in range(B):
        ga, gw = float(allocation_gate[b]), float(write_gate[b])
        for n in range(N):
            out[b, n] = gw * (ga * float(allocation[b, n]) + (1.0 - ga) * float(content[b, n]))
    return out


def precedence_ref(precedence, write_weights):
    B, N = precedence.shape
    out = torch.zeros(B, N, dtype=DTYPE)
    for b in range(B):
        total = sum(float(write_weights[b, n]) for n in range(N))
        for n in range(N):
            out[b, n] = (1.0 - total) * float(precedence[b, n]) + float(write_weights[b, n])
    return out


def link_ref(link, precedence, write_weights):
    B, N, _ = link.shape
    out = torch.zeros(B, N, N, dtype=DTYPE)
    for b in range(B):
        for i in range(N):
            for j in range(N):
                if i == j:
                    continue
                wi, wj = float(write_weights[b, i]), float(write_weights[b, j])
                out[b, i, j] = (1.0 - wi - wj) * float(link[b, i, j]) + wi * float(precedence[b, j])
    return out


def directional_ref(link, read_weights):
    B, R, N = read_weights.shape
    fwd = torch.zeros(B, R, N, dtype=DTYPE)
    bwd = torch.zeros(B, R, N, dtype=DTYPE)
    for b in range(B):
        for r in range(R):
            for i in range(N):
                fwd[b, r, i] = sum(float(link[b, i, j]) * float(read_weights[b, r, j]) for j in range(N))
                bwd[b, r, i] = sum(float(link[b, j, i]) * float(read_weights[b, r, j]) for j in range(N))
    return fwd, bwd


def read_weighting_ref(backward, content, forward, modes):
    B, R, N = content.shape
    out = torch.zeros(B, R, N, dtype=DTYPE)
    for b in range(B):
        for r in range(R):
            pi = [float(v) for v in modes[b, r]]
            for n in range(N):
                out[b, r, n] = pi[0] * float(backward[b, r, n]) + pi[1] * float(content[b, r, n]) + pi[2] * float(
                    forward[b, r, n]
                )
    return out


# ------------------------------------------------------------------- against loops


def test_public_names():
    for name in dnc_module.__all__:
        assert getattr(MF, name) is getattr(dnc_module, name)


def test_docstring_examples():
    result = doctest.testmod(dnc_module, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


def test_retention_and_usage_against_loop(gen):
    B, R, N = 3, 2, 7
    usage, ww = _unit(B, N, generator=gen), _weighting(B, N, generator=gen)
    wr, f = _weighting(B, R, N, generator=gen), _unit(B, R, generator=gen)
    torch.testing.assert_close(retention_vector(wr, f), retention_ref(wr, f))
    torch.testing.assert_close(usage_update(usage, ww, wr, f), usage_ref(usage, ww, wr, f))


def test_usage_stays_in_unit_interval(gen):
    B, R, N = 4, 3, 9
    usage = torch.zeros(B, N, dtype=DTYPE)
    for _ in range(20):
        usage = usage_update(usage, _weighting(B, N, generator=gen), _weighting(B, R, N, generator=gen),
                             _unit(B, R, generator=gen))
        assert usage.min() >= 0.0 and usage.max() <= 1.0


def test_allocation_against_loop(gen):
    usage = _unit(4, 9, generator=gen)
    torch.testing.assert_close(allocation_weights(usage), allocation_ref(usage))
    # The paper's formula without the floor: within epsilon of it.
    torch.testing.assert_close(allocation_weights(usage), allocation_ref(usage, 0.0), atol=2 * _EPSILON, rtol=0)


def test_allocation_ties_against_loop():
    usage = torch.tensor([[0.5, 0.2, 0.5, 0.2, 1.0, 0.0, 0.0]], dtype=DTYPE)
    a = allocation_weights(usage)
    torch.testing.assert_close(a, allocation_ref(usage))
    assert int(a.argmax()) == 5  # the lower index of the two free slots


def test_allocation_picks_least_used_slot(gen):
    usage = 0.5 + 0.5 * _unit(6, 11, generator=gen)
    free = torch.randint(0, 11, (6,), generator=gen)
    usage[torch.arange(6), free] = 0.01
    a = allocation_weights(usage)
    assert torch.equal(a.argmax(-1), free)
    assert (a.sum(-1) <= 1.0 + 1e-12).all()
    assert torch.equal(allocation_weights(usage.float()).argmax(-1), free)


def test_allocation_extremes():
    a = allocation_weights(torch.zeros(2, 5, dtype=DTYPE))  # empty memory: the first slot
    torch.testing.assert_close(a[:, 0], torch.full((2,), 1.0 - _EPSILON, dtype=DTYPE))
    assert a[:, 1:].max() < 1e-5
    full = allocation_weights(torch.ones(2, 5, dtype=DTYPE))  # nothing free: no allocation
    torch.testing.assert_close(full, torch.zeros(2, 5, dtype=DTYPE))


def test_allocation_is_a_permutation_equivariant(gen):
    usage = _unit(3, 8, generator=gen)
    perm = torch.randperm(8, generator=gen)
    torch.testing.assert_close(allocation_weights(usage[:, perm]), allocation_weights(usage)[:, perm])


def test_write_weighting_against_loop(gen):
    B, N = 3, 6
    alloc, content = _weighting(B, N, generator=gen), _weighting(B, N, generator=gen)
    ga, gw = _unit(B, generator=gen), _unit(B, generator=gen)
    torch.testing.assert_close(write_weighting(alloc, content, ga, gw), write_weighting_ref(alloc, content, ga, gw))


def test_precedence_and_link_against_loop(gen):
    B, N = 3, 6
    link = _unit(B, N, N, generator=gen) / N
    p, ww = _weighting(B, N, generator=gen), _weighting(B, N, generator=gen)
    torch.testing.assert_close(precedence_update(p, ww), precedence_ref(p, ww))
    new = link_update(link, p, ww)
    torch.testing.assert_close(new, link_ref(link, p, ww))
    assert torch.equal(torch.diagonal(new, dim1=-2, dim2=-1), torch.zeros(B, N, dtype=DTYPE))


def test_directional_and_read_weighting_against_loop(gen):
    B, R, N = 2, 3, 5
    link = _unit(B, N, N, generator=gen) / N
    wr = _weighting(B, R, N, generator=gen)
    fwd, bwd = directional_weights(link, wr)
    ref_f, ref_b = directional_ref(link, wr)
    torch.testing.assert_close(fwd, ref_f)
    torch.testing.assert_close(bwd, ref_b)
    content = _weighting(B, R, N, generator=gen)
    modes = torch.softmax(torch.randn(B, R, 3, generator=gen, dtype=DTYPE), -1)
    torch.testing.assert_close(read_weighting(bwd, content, fwd, modes), read_weighting_ref(bwd, content, fwd, modes))


def test_link_matrix_recovers_write_order(gen):
    """Write one-hot to the slots in a random order: L points each slot to its predecessor,
    and forward/backward weightings walk the order of writes."""
    N = 7
    order = torch.randperm(N, generator=gen).tolist()
    link = torch.zeros(1, N, N, dtype=DTYPE)
    p = torch.zeros(1, N, dtype=DTYPE)
    for slot in order:
        w = torch.zeros(1, N, dtype=DTYPE)
        w[0, slot] = 1.0
        link = link_update(link, p, w)
        p = precedence_update(p, w)
    expected = torch.zeros(N, N, dtype=DTYPE)
    for prev, nxt in itertools.pairwise(order):
        expected[nxt, prev] = 1.0
    torch.testing.assert_close(link[0], expected)
    # Follow the forward weighting from the first written slot: the whole write order.
    w = torch.zeros(1, 1, N, dtype=DTYPE)
    w[0, 0, order[0]] = 1.0
    walked = [order[0]]
    for _ in range(N - 1):
        w, _ = directional_weights(link, w)
        walked.append(int(w.argmax()))
    assert walked == order
    # And backward from the last one.
    w = torch.zeros(1, 1, N, dtype=DTYPE)
    w[0, 0, order[-1]] = 1.0
    back = [order[-1]]
    for _ in range(N - 1):
        _, w = directional_weights(link, w)
        back.append(int(w.argmax()))
    assert back == order[::-1]


def test_link_stays_bounded(gen):
    B, N = 3, 6
    link = torch.zeros(B, N, N, dtype=DTYPE)
    p = torch.zeros(B, N, dtype=DTYPE)
    for _ in range(30):
        w = _weighting(B, N, generator=gen)
        link = link_update(link, p, w)
        p = precedence_update(p, w)
        assert link.min() >= 0.0 and link.max() <= 1.0
        assert link.sum(-1).max() <= 1.0 + 1e-12 and link.sum(-2).max() <= 1.0 + 1e-12
        assert p.sum(-1).max() <= 1.0 + 1e-12


# ---------------------------------------------------------------------- gradients


def test_gradcheck(gen):
    B, R, N = 2, 2, 5
    args = dict(generator=gen)
    usage, ww = _unit(B, N, **args), _weighting(B, N, **args)
    wr, f = _weighting(B, R, N, **args), _unit(B, R, **args)
    link, p = _unit(B, N, N, **args) / N, _weighting(B, N, **args)
    content = _weighting(B, R, N, **args)
    modes = torch.softmax(torch.randn(B, R, 3, generator=gen, dtype=DTYPE), -1)
    ga, gw = _unit(B, **args), _unit(B, **args)
    alloc_usage = torch.tensor([[0.1, 0.7, 0.3, 0.9, 0.5], [0.2, 0.05, 0.6, 0.4, 0.8]], dtype=DTYPE)  # no ties
    cases = [
        (retention_vector, (wr, f)),
        (usage_update, (usage, ww, wr, f)),
        (allocation_weights, (alloc_usage,)),
        (write_weighting, (ww, ww.flip(-1), ga, gw)),
        (precedence_update, (p, ww)),
        (link_update, (link, p, ww)),
        (directional_weights, (link, wr)),
        (read_weighting, (content.flip(-1), content, content.roll(1, -1), modes)),
    ]
    for fn, inputs in cases:
        inputs = tuple(t.clone().requires_grad_(True) for t in inputs)
        assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5), fn.__name__


def test_allocation_gradient_follows_the_sorted_product():
    """d a[phi_j] / d u[phi_k] for k < j is (1 - u[phi_j]) prod_{i<j, i != k} u[phi_i] (order fixed)."""
    usage = torch.tensor([[0.3, 0.1, 0.6]], dtype=DTYPE, requires_grad=True)
    a = allocation_weights(usage)
    (grad,) = torch.autograd.grad(a[0, 2], usage)  # slot 2 is phi_3; phi = (1, 0, 2)
    s = 1.0 - _EPSILON
    u = [_EPSILON + s * v for v in (0.3, 0.1, 0.6)]
    expected = torch.tensor([[(1 - u[2]) * u[1] * s, (1 - u[2]) * u[0] * s, -u[0] * u[1] * s]], dtype=DTYPE)
    torch.testing.assert_close(grad, expected)


# ------------------------------------------------------------------------- edges


@pytest.mark.parametrize("N", [1, 4])
def test_finite_at_the_edges(N):
    """Zero usage, zero weightings, one slot: values and gradients finite (float32)."""
    B, R = 2, 2
    zeros = torch.zeros(B, N, requires_grad=True)
    a = allocation_weights(zeros)
    u = usage_update(zeros, zeros, torch.zeros(B, R, N), torch.ones(B, R))
    link = link_update(torch.zeros(B, N, N), zeros, zeros)
    fwd, bwd = directional_weights(link, torch.zeros(B, R, N))
    out = a.sum() + u.sum() + link.sum() + fwd.sum() + bwd.sum() + precedence_update(zeros, zeros).sum()
    (grad,) = torch.autograd.grad(out, zeros)
    for t in (a, u, link, fwd, bwd, grad):
        assert torch.isfinite(t).all()
    if N == 1:
        torch.testing.assert_close(a, torch.full((B, 1), 1.0 - _EPSILON))
        assert torch.equal(link, torch.zeros(B, 1, 1))
    full = torch.ones(B, N, requires_grad=True)
    (grad,) = torch.autograd.grad(allocation_weights(full).sum(), full)
    assert torch.isfinite(grad).all()


def test_empty_batch():
    B, R, N = 0, 2, 4
    assert allocation_weights(torch.zeros(B, N)).shape == (0, N)
    assert usage_update(torch.zeros(B, N), torch.zeros(B, N), torch.zeros(B, R, N), torch.zeros(B, R)).shape == (0, N)
    assert link_update(torch.zeros(B, N, N), torch.zeros(B, N), torch.zeros(B, N)).shape == (0, N, N)
    fwd, bwd = directional_weights(torch.zeros(B, N, N), torch.zeros(B, R, N))
    assert fwd.shape == bwd.shape == (0, R, N)


def test_inputs_not_modified(gen):
    link, p, w = _unit(2, 4, 4, generator=gen), _weighting(2, 4, generator=gen), _weighting(2, 4, generator=gen)
    copies = [t.clone() for t in (link, p, w)]
    link_update(link, p, w)
    precedence_update(p, w)
    allocation_weights(p)
    for t, c in zip((link, p, w), copies):
        assert torch.equal(t, c)


# ------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    "call",
    [
        lambda: retention_vector(torch.zeros(2, 3, 4), torch.zeros(2, 2)),
        lambda: usage_update(torch.zeros(2, 4), torch.zeros(2, 5), torch.zeros(2, 1, 4), torch.zeros(2, 1)),
        lambda: usage_update(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 1, 4), torch.zeros(3, 1)),
        lambda: allocation_weights(torch.zeros(4)),
        lambda: write_weighting(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(2, 1), torch.zeros(2)),
        lambda: precedence_update(torch.zeros(2, 4), torch.zeros(2, 3)),
        lambda: link_update(torch.zeros(2, 4, 3), torch.zeros(2, 4), torch.zeros(2, 4)),
        lambda: link_update(torch.zeros(2, 4, 4), torch.zeros(2, 3), torch.zeros(2, 4)),
        lambda: directional_weights(torch.zeros(2, 4, 4), torch.zeros(2, 1, 5)),
        lambda: read_weighting(torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(2, 1, 4), torch.zeros(2, 1, 2)),
        lambda: allocation_weights([0.0, 1.0]),
    ],
)
def test_bad_shapes(call):
    with pytest.raises(ValueError, match="expected"):
        call()


# ------------------------------------------------------------ sparse temporal links


def _to_dense(values, indices):
    B, N, _ = values.shape
    return torch.zeros(B, N, N, dtype=values.dtype).scatter_add(-1, indices, values)


def test_sparse_links_with_k_equal_n_are_exact(gen):
    B, R, N = 3, 2, 6
    link = torch.zeros(B, N, N, dtype=DTYPE)
    values, indices = torch.zeros(B, N, N, dtype=DTYPE), torch.zeros(B, N, N, dtype=torch.long)
    p = torch.zeros(B, N, dtype=DTYPE)
    for _ in range(8):
        w = _weighting(B, N, generator=gen)
        link = link_update(link, p, w)
        values, indices = sparse_link_update(values, indices, p, w, N)
        p = precedence_update(p, w)
        torch.testing.assert_close(_to_dense(values, indices), link)
    wr = _weighting(B, R, N, generator=gen)
    for got, expected in zip(sparse_directional_weights(values, indices, wr), directional_weights(link, wr)):
        torch.testing.assert_close(got, expected)


def test_sparse_links_against_loop(gen):
    """One update with K < N against the definition: decay every stored entry, add the
    top-k outer product on the top-k rows, zero the diagonal, keep each rebuilt row's K largest."""
    B, N, K, k = 2, 7, 3, 2
    values = _unit(B, N, K, generator=gen) / N
    indices = torch.stack([torch.randperm(N, generator=gen)[:K] for _ in range(B * N)]).view(B, N, K)
    p, w = _weighting(B, N, generator=gen), _weighting(B, N, generator=gen)
    new_values, new_indices = sparse_link_update(values, indices, p, w, k)
    for b in range(B):
        rows = set(w[b].topk(k).indices.tolist())
        cols = set(p[b].topk(k).indices.tolist())
        for i in range(N):
            row = {}
            for v, j in zip(values[b, i].tolist(), indices[b, i].tolist()):
                row[j] = row.get(j, 0.0) + (1 - float(w[b, i]) - float(w[b, j])) * v
            if i in rows:
                for j in cols:
                    row[j] = row.get(j, 0.0) + float(w[b, i]) * float(p[b, j])
                row[i] = 0.0
                top = sorted(row.values(), reverse=True)[:K]
                top += [0.0] * (K - len(top))
                assert sorted(new_values[b, i].tolist(), reverse=True) == pytest.approx(top)
            else:
                got = {j: v for v, j in zip(new_values[b, i].tolist(), new_indices[b, i].tolist())}
                assert got == pytest.approx(row)


def test_sparse_links_recover_one_hot_write_order(gen):
    """One-hot writes: one predecessor per slot, so K = k = 1 is exact."""
    N = 6
    order = torch.randperm(N, generator=gen).tolist()
    link = torch.zeros(1, N, N, dtype=DTYPE)
    values, indices = torch.zeros(1, N, 1, dtype=DTYPE), torch.zeros(1, N, 1, dtype=torch.long)
    p = torch.zeros(1, N, dtype=DTYPE)
    for slot in order:
        w = torch.zeros(1, N, dtype=DTYPE)
        w[0, slot] = 1.0
        link = link_update(link, p, w)
        values, indices = sparse_link_update(values, indices, p, w, 1)
        p = precedence_update(p, w)
    torch.testing.assert_close(_to_dense(values, indices), link)


def test_sparse_links_gradcheck(gen):
    B, R, N, K = 2, 2, 5, 3
    values = _unit(B, N, K, generator=gen) / N
    indices = torch.stack([torch.randperm(N, generator=gen)[:K] for _ in range(B * N)]).view(B, N, K)
    p, w = _weighting(B, N, generator=gen), _weighting(B, N, generator=gen)
    wr = _weighting(B, R, N, generator=gen)
    inputs = tuple(t.clone().requires_grad_(True) for t in (values, p, w))
    assert gradcheck(lambda v, pp, ww: sparse_link_update(v, indices, pp, ww, 2)[0], inputs, eps=1e-6, atol=1e-5)
    inputs = tuple(t.clone().requires_grad_(True) for t in (values, wr))
    assert gradcheck(lambda v, r: sparse_directional_weights(v, indices, r), inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sparse_link_update(torch.zeros(2, 4, 2), torch.zeros(2, 4, 3, dtype=torch.long), torch.zeros(2, 4),
                                   torch.zeros(2, 4), 1),
        lambda: sparse_link_update(torch.zeros(2, 4, 2), torch.zeros(2, 4, 2), torch.zeros(2, 4), torch.zeros(2, 4), 1),
        lambda: sparse_link_update(torch.zeros(2, 4, 2), torch.zeros(2, 4, 2, dtype=torch.long), torch.zeros(2, 4),
                                   torch.zeros(2, 4), 5),
        lambda: sparse_link_update(torch.zeros(2, 4, 2), torch.zeros(2, 4, 2, dtype=torch.long), torch.zeros(2, 4),
                                   torch.zeros(2, 4), 0),
        lambda: sparse_directional_weights(torch.zeros(2, 4, 2), torch.zeros(2, 4, 2, dtype=torch.long),
                                           torch.zeros(2, 1, 5)),
    ],
)
def test_sparse_links_bad_arguments(call):
    with pytest.raises(ValueError):
        call()
