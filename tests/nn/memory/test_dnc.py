"""Tests of memnets.DNC / memnets.DNCCell (Graves et al. 2016, Nature, Methods).

The reference step below is written from the paper's equations with plain loops and
torch.nn.functional, without memnets.functional, and fed the cell's own interface vector.
"""

from __future__ import annotations

import doctest
import math

import pytest
import torch
from torch.autograd import gradcheck

import memnets
import memnets.nn.memory.dnc as dnc_module
from memnets.functional import content_weights
from memnets.functional.addressing import _EPSILON as CONTENT_EPSILON
from memnets.functional.dnc import _EPSILON as ALLOCATION_EPSILON
from memnets.nn.memory.dnc import DNC, DNCCell, DNCState
from memnets.nn.registry import build_model, model_spec

SMALL = dict(controller_size=12, memory_size=6, word_size=4, num_read_heads=2)


def _random_state(cell: DNCCell, batch: int, gen: torch.Generator, dtype=torch.float64) -> DNCState:
    """A state in range (usages in [0, 1), weightings with row sums <= 1), distinct usages."""
    B, N, W, R, C = batch, cell.memory_size, cell.word_size, cell.num_read_heads, cell.controller_size

    def weighting(*shape):
        return torch.softmax(torch.randn(*shape, generator=gen, dtype=dtype), -1) * 0.9

    link = torch.rand(B, N, N, generator=gen, dtype=dtype) / N
    link = link * (1 - torch.eye(N, dtype=dtype))
    return DNCState(
        controller=(torch.randn(B, C, generator=gen, dtype=dtype), torch.randn(B, C, generator=gen, dtype=dtype)),
        memory=torch.randn(B, N, W, generator=gen, dtype=dtype),
        read_vectors=torch.randn(B, R, W, generator=gen, dtype=dtype),
        usage=torch.rand(B, N, generator=gen, dtype=dtype),
        link=link,
        precedence=weighting(B, N),
        read_weights=weighting(B, R, N),
        write_weights=weighting(B, N),
        link_indices=torch.zeros(B, N, 0, dtype=torch.long),
    )


# ---------------------------------------------------------------- reference step


def _content_ref(memory, key, beta):
    """C(M, k, beta)[i] = softmax_i(beta cos(k, M[i])), for one key; norms sqrt(|v|^2 + eps) as documented."""

    def norm(v):
        return torch.sqrt(v @ v + CONTENT_EPSILON)

    sims = torch.stack([key @ memory[i] / (norm(key) * norm(memory[i])) for i in range(memory.shape[0])])
    return torch.softmax(beta * sims, 0)


def _allocation_ref(u):
    """a[phi_j] = (1 - u[phi_j]) prod_{i<j} u[phi_i] on the documented u = eps + (1 - eps) u."""
    u = ALLOCATION_EPSILON + (1 - ALLOCATION_EPSILON) * u
    N = u.shape[0]
    phi = sorted(range(N), key=lambda n: (float(u[n].detach()), n))
    a = torch.zeros(N, dtype=u.dtype)
    prod = torch.ones((), dtype=u.dtype)
    for j in range(N):
        a[phi[j]] = (1 - u[phi[j]]) * prod
        prod = prod * u[phi[j]]
    return a


def reference_step(cell: DNCCell, x, state: DNCState):
    """One DNC step from the paper's Methods, sample by sample."""
    controller_in = torch.cat([x, state.read_vectors.flatten(1)], -1)
    h, c = cell.controller(controller_in, state.controller)
    xi = cell.interface_vector(h)
    B, N = state.usage.shape
    R = cell.num_read_heads
    out = {k: [] for k in DNCState._fields[1:-1]}
    for b in range(B):
        M = state.memory[b]
        # usage: psi = prod_i (1 - f_i w^r_{t-1,i}); u = (u + w - u w) psi
        psi = torch.ones(N, dtype=x.dtype)
        for i in range(R):
            psi = psi * (1 - xi.free_gates[b, i] * state.read_weights[b, i])
        u_prev, ww_prev = state.usage[b], state.write_weights[b]
        u = (u_prev + ww_prev - u_prev * ww_prev) * psi
        a = _allocation_ref(u)
        cw = _content_ref(M, xi.write_key[b, 0], xi.write_strength[b, 0])
        ga, gw = xi.allocation_gate[b], xi.write_gate[b]
        ww = gw * (ga * a + (1 - ga) * cw)
        e, v = xi.erase[b, 0], xi.write_vector[b, 0]
        M = M * (1 - torch.outer(ww, e)) + torch.outer(ww, v)
        p_prev = state.precedence[b]
        L = torch.zeros(N, N, dtype=x.dtype)
        for i in range(N):
            for j in range(N):
                if i != j:
                    L[i, j] = (1 - ww[i] - ww[j]) * state.link[b, i, j] + ww[i] * p_prev[j]
        p = (1 - ww.sum()) * p_prev + ww
        wr, reads = [], []
        for i in range(R):
            w_prev = state.read_weights[b, i]
            f, bw = L @ w_prev, L.T @ w_prev
            cr = _content_ref(M, xi.read_keys[b, i], xi.read_strengths[b, i])
            pi = xi.read_modes[b, i]
            w = pi[0] * bw + pi[1] * cr + pi[2] * f
            wr.append(w)
            reads.append(M.T @ w)
        for key, value in (("memory", M), ("read_vectors", torch.stack(reads)), ("usage", u), ("link", L),
                           ("precedence", p), ("read_weights", torch.stack(wr)), ("write_weights", ww)):
            out[key].append(value)
    new = DNCState((h, c), **{k: torch.stack(v) for k, v in out.items()}, link_indices=state.link_indices)
    logits = cell.output(torch.cat([h, new.read_vectors.flatten(1)], -1))
    return logits, new


# --------------------------------------------------------------------------- tests


def test_public_names():
    assert memnets.DNC is DNC and memnets.DNCCell is DNCCell and memnets.DNCState is DNCState


def test_docstring_examples():
    result = doctest.testmod(dnc_module, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


def test_step_against_reference():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    cell = DNCCell(5, 3, **SMALL).double()
    state = _random_state(cell, 3, gen)
    x = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    logits, new = cell(x, state)
    ref_logits, ref = reference_step(cell, x, state)
    torch.testing.assert_close(logits, ref_logits)
    for name in DNCState._fields[1:]:
        torch.testing.assert_close(getattr(new, name), getattr(ref, name), msg=name)
    torch.testing.assert_close(new.controller[0], ref.controller[0])


def test_sequence_against_reference_from_zero_state():
    torch.manual_seed(1)
    cell = DNCCell(5, 3, **SMALL).double()
    model = DNC(5, 3, **SMALL).double()
    model.cell.load_state_dict(cell.state_dict())
    x = torch.randn(6, 2, 5, dtype=torch.float64)
    logits, state = model(x)
    s = cell.initial_state(2)
    for t in range(6):
        y, s = reference_step(cell, x[t], s)
        # The initial zero usage ties every slot: the reference breaks ties by index too.
        torch.testing.assert_close(logits[t], y)
    for name in DNCState._fields[1:]:
        torch.testing.assert_close(getattr(state, name), getattr(s, name), msg=name)


def test_cell_matches_model_and_continuation():
    torch.manual_seed(2)
    model = DNC(5, 3, **SMALL)
    x = torch.randn(7, 4, 5)
    logits, state = model(x)
    s = model.initial_state(4)
    for t in range(7):
        y, s = model.cell(x[t], s)
        torch.testing.assert_close(y, logits[t])
    first, mid = model(x[:3])
    rest, end = model(x[3:], mid)
    torch.testing.assert_close(torch.cat([first, rest]), logits)
    torch.testing.assert_close(end.link, state.link)


def test_batch_first():
    torch.manual_seed(3)
    model = DNC(5, 3, **SMALL)
    bf = DNC(5, 3, batch_first=True, **SMALL)
    bf.load_state_dict(model.state_dict())
    x = torch.randn(6, 2, 5)
    torch.testing.assert_close(bf(x.transpose(0, 1))[0], model(x)[0].transpose(0, 1))


def test_state_shapes_and_trace():
    model = DNC(5, 3, **SMALL)
    logits, states = model.trace(torch.randn(4, 2, 5))
    assert logits.shape == (4, 2, 3)
    N, W, R = SMALL["memory_size"], SMALL["word_size"], SMALL["num_read_heads"]
    assert states.memory.shape == (4, 2, N, W)
    assert states.usage.shape == (4, 2, N) and states.precedence.shape == (4, 2, N)
    assert states.link.shape == (4, 2, N, N)
    assert states.read_weights.shape == (4, 2, R, N) and states.write_weights.shape == (4, 2, N)
    assert states.read_vectors.shape == (4, 2, R, W)
    assert states.controller[0].shape == (4, 2, SMALL["controller_size"])
    assert torch.equal(torch.diagonal(states.link, dim1=-2, dim2=-1), torch.zeros(4, 2, N))
    assert (states.usage >= 0).all() and (states.usage <= 1).all()
    with pytest.raises(ValueError, match="T=0"):
        model.trace(torch.randn(0, 2, 5))


def test_content_only_reduction():
    """allocation=False, temporal_links=False: w^w = g^w C(M_{t-1}, k^w), w^r = C(M_t, k^r)."""
    torch.manual_seed(4)
    cell = DNCCell(5, 3, allocation=False, temporal_links=False, **SMALL).double()
    full = DNCCell(5, 3, **SMALL)
    R, W = SMALL["num_read_heads"], SMALL["word_size"]
    assert cell.interface_size == R * W + R + 3 * W + 2  # no free, allocation gates or read modes
    assert full.interface_size == R * W + 3 * W + 5 * R + 3  # the paper's (W R) + 3W + 5R + 3
    gen = torch.Generator().manual_seed(4)
    state = cell.initial_state(3)
    for _ in range(4):
        x = torch.randn(3, 5, generator=gen, dtype=torch.float64)
        h, _ = cell.controller(torch.cat([x, state.read_vectors.flatten(1)], -1), state.controller)
        xi = cell.interface_vector(h)
        assert xi.free_gates is None and xi.allocation_gate is None and xi.read_modes is None
        ww = xi.write_gate[:, None] * content_weights(state.memory, xi.write_key, xi.write_strength)[:, 0]
        memory = state.memory * (1 - ww[..., None] * xi.erase) + ww[..., None] * xi.write_vector
        wr = content_weights(memory, xi.read_keys, xi.read_strengths)
        _, state = cell(x, state)
        torch.testing.assert_close(state.write_weights, ww)
        torch.testing.assert_close(state.memory, memory)
        torch.testing.assert_close(state.read_weights, wr)
        torch.testing.assert_close(state.read_vectors, torch.bmm(wr, memory))
        assert not state.usage.any() and not state.link.any() and not state.precedence.any()


@pytest.mark.parametrize("allocation,temporal_links", [(True, False), (False, True)])
def test_one_part_off(allocation, temporal_links):
    torch.manual_seed(5)
    model = DNC(5, 3, allocation=allocation, temporal_links=temporal_links, **SMALL)
    _, state = model(torch.randn(5, 2, 5))
    assert bool(state.usage.any()) == allocation
    assert bool(state.link.any()) == temporal_links
    assert torch.isfinite(state.memory).all()


def test_gradcheck():
    torch.manual_seed(6)
    model = DNC(3, 2, controller_size=5, memory_size=4, word_size=3, num_read_heads=2).double()
    x = torch.randn(3, 2, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda inp: model(inp)[0], (x,), eps=1e-6, atol=1e-5)


def test_gradcheck_through_the_state():
    torch.manual_seed(7)
    cell = DNCCell(3, 2, controller_size=4, memory_size=3, word_size=2, num_read_heads=2).double()
    state = _random_state(cell, 2, torch.Generator().manual_seed(7))
    names = ("memory", "usage", "link", "precedence", "read_weights", "write_weights")
    x = torch.randn(2, 3, dtype=torch.float64)

    def f(*tensors):
        s = state._replace(**dict(zip(names, tensors)))
        y, s = cell(x, s)
        return y, s.memory, s.usage, s.link, s.read_weights

    inputs = tuple(getattr(state, n).clone().requires_grad_(True) for n in names)
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("memory_size", [1, 5])
def test_finite_at_the_edges(memory_size):
    """Zero memory and usage (the initial state), one slot, long runs: finite values and gradients."""
    torch.manual_seed(8)
    model = DNC(4, 2, controller_size=8, memory_size=memory_size, word_size=3, num_read_heads=2)
    for x in (torch.zeros(12, 3, 4), 10.0 * torch.randn(12, 3, 4)):
        logits, state = model(x)
        grads = torch.autograd.grad(logits.square().sum(), list(model.parameters()))
        assert torch.isfinite(logits).all()
        assert all(torch.isfinite(t).all() for t in state[1:])
        assert all(torch.isfinite(g).all() for g in grads)
    if memory_size == 1:
        assert not state.link.any()


def test_empty_batch():
    model = DNC(4, 2, **SMALL)
    logits, state = model(torch.randn(3, 0, 4))
    assert logits.shape == (3, 0, 2) and state.link.shape == (0, 6, 6)
    assert model(torch.randn(0, 2, 4))[0].shape == (0, 2, 2)


def test_state_dict_round_trip_and_registry(tmp_path):
    torch.manual_seed(9)
    model = DNC(5, 3, batch_first=True, allocation=False, **SMALL)
    rebuilt = build_model(model_spec(model))
    assert isinstance(rebuilt, DNC) and rebuilt.batch_first and not rebuilt.cell.allocation
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(rebuilt(x)[0], model(x)[0])
    cell = DNCCell(5, 3, **SMALL)
    assert isinstance(build_model(model_spec(cell)), DNCCell)

    from memnets.training.checkpoint import save_model

    save_model(model, tmp_path / "dnc.pt")
    loaded = memnets.load(tmp_path / "dnc.pt")
    torch.testing.assert_close(loaded(x)[0], model(x)[0])


def test_reset_parameters_changes_weights():
    model = DNC(5, 3, **SMALL)
    before = [p.clone() for p in model.parameters()]
    model.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("link_sparsity", [None, 2])
def test_compile_without_graph_breaks(link_sparsity):
    torch.manual_seed(10)
    model = DNC(5, 3, link_sparsity=link_sparsity, **SMALL)
    x = torch.randn(3, 2, 5)
    expected, _ = model(x)
    torch._dynamo.reset()
    model.cell.compile_step(fullgraph=True, backend="eager")
    got, _ = model(x)
    torch.testing.assert_close(got, expected)


# ------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(memory_size=0), ValueError),
        (dict(word_size=-1), ValueError),
        (dict(num_read_heads=0), ValueError),
        (dict(controller_size=2.5), TypeError),
        (dict(allocation=1), TypeError),
        (dict(temporal_links="yes"), TypeError),
        (dict(batch_first=None), TypeError),
    ],
)
def test_bad_constructor_arguments(kwargs, error):
    with pytest.raises(error, match="DNC"):
        DNC(5, 3, **kwargs)


def test_bad_inputs():
    model = DNC(5, 3, **SMALL)
    with pytest.raises(ValueError, match="expected x"):
        model(torch.randn(4, 2, 6))
    with pytest.raises(ValueError, match="expected x"):
        model(torch.randn(4, 5))
    with pytest.raises(ValueError, match="dtype"):
        model(torch.randn(4, 2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="dtype"):
        model.cell(torch.randn(2, 5, dtype=torch.float64))
    state = model.initial_state(2)
    with pytest.raises(ValueError, match="expected link"):
        model(torch.randn(4, 2, 5), state._replace(link=torch.zeros(2, 6, 5)))
    with pytest.raises(ValueError, match="dtype"):
        model(torch.randn(4, 2, 5), state._replace(usage=torch.zeros(2, 6, dtype=torch.float64)))
    with pytest.raises(ValueError, match="DNCState"):
        model(torch.randn(4, 2, 5), (1, 2))
    with pytest.raises(ValueError, match=r"dimension B should be 3, is 2"):
        model(torch.randn(4, 3, 5), state)  # state of batch 2
    with pytest.raises(ValueError):
        model.initial_state(-1)


def test_memory_of_the_link_matrix_is_quadratic():
    """The docstring's cost statement: L is (B, N, N) per step."""
    model = DNC(5, 3, controller_size=8, memory_size=32, word_size=4, num_read_heads=1)
    _, state = model(torch.randn(2, 3, 5))
    assert state.link.numel() == 3 * 32 * 32
    assert math.isclose(state.link.element_size() * state.link[0].numel(), 4 * 32**2)


def test_autocast_keeps_the_memory_in_float32():
    """Under bf16 autocast the controller runs in bf16; the memory management stays float32."""
    torch.manual_seed(11)
    model = DNC(5, 3, **SMALL)
    x = torch.randn(4, 2, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, state = model(x)
        more, state = model(x, state)  # the returned state continues under autocast too
    assert state.memory.dtype == state.link.dtype == state.usage.dtype == torch.float32
    assert torch.isfinite(logits.float()).all() and torch.isfinite(more.float()).all()
    reference, _ = model(x)
    torch.testing.assert_close(logits.float(), reference, atol=0.1, rtol=0.1)


# ------------------------------------------------------------ sparse temporal links


def test_sparse_links_with_k_equal_n_match_the_full_matrix():
    torch.manual_seed(12)
    dense = DNC(5, 3, **SMALL).double()
    sparse = DNC(5, 3, link_sparsity=SMALL["memory_size"], **SMALL).double()
    sparse.load_state_dict(dense.state_dict())
    x = torch.randn(6, 2, 5, dtype=torch.float64)
    logits, state = dense(x)
    got, sparse_state = sparse(x)
    torch.testing.assert_close(got, logits)
    rebuilt = torch.zeros_like(state.link).scatter_add(-1, sparse_state.link_indices, sparse_state.link)
    torch.testing.assert_close(rebuilt, state.link)


def test_sparse_links_run_and_round_trip():
    torch.manual_seed(13)
    model = DNC(5, 3, link_sparsity=2, **SMALL)
    logits, states = model.trace(torch.randn(7, 3, 5))
    assert states.link.shape == (7, 3, SMALL["memory_size"], 2) and states.link_indices.dtype == torch.long
    assert torch.isfinite(logits).all() and torch.isfinite(states.link).all()
    grads = torch.autograd.grad(logits.square().sum(), list(model.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)
    rebuilt = build_model(model_spec(model))
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.cell.link_sparsity == 2
    x = torch.randn(4, 2, 5)
    first, mid = model(x[:2])
    rest, _ = model(x[2:], mid)
    torch.testing.assert_close(torch.cat([first, rest]), model(x)[0])


@pytest.mark.parametrize("value,error", [(0, ValueError), (7, ValueError), (2.0, TypeError)])
def test_bad_link_sparsity(value, error):
    with pytest.raises(error, match="link_sparsity"):
        DNC(5, 3, link_sparsity=value, **SMALL)


def test_sparse_state_is_checked():
    model = DNC(5, 3, link_sparsity=2, **SMALL)
    state = model.initial_state(2)
    with pytest.raises(ValueError, match="link"):
        model(torch.randn(3, 2, 5), state._replace(link=torch.zeros(2, 6, 6)))
    with pytest.raises(ValueError, match="int64"):
        model(torch.randn(3, 2, 5), state._replace(link_indices=torch.zeros(2, 6, 2)))
