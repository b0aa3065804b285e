"""Tests of memnets.functional.addressing against slow loops written from the paper.

Graves, Wayne & Danihelka (2014), §3.3, eqs. (5)-(9). Each reference below is a plain
Python loop over batch, head and slot, written from the equation and nothing else.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

import memnets.functional as MF
from memnets.functional.addressing import circular_shift, content_weights, interpolate, sharpen

DTYPE = torch.float64


def _simplex(*shape: int, generator: torch.Generator) -> torch.Tensor:
    return torch.softmax(2.0 * torch.randn(*shape, generator=generator, dtype=DTYPE), dim=-1)


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


# ------------------------------------------------------------------ reference loops


def content_ref(memory, keys, strengths):
    """Eqs. (5)-(6): softmax over i of beta * cos(k, M(i))."""
    B, N, _ = memory.shape
    H = keys.shape[1]
    out = torch.zeros(B, H, N, dtype=DTYPE)
    for b in range(B):
        for h in range(H):
            k = keys[b, h]
            sims = []
            for i in range(N):
                m = memory[b, i]
                cos = float(k @ m) / (math.sqrt(float(k @ k)) * math.sqrt(float(m @ m)))
                sims.append(float(strengths[b, h]) * cos)
            top = max(sims)
            exps = [math.exp(s - top) for s in sims]
            for i in range(N):
                out[b, h, i] = exps[i] / sum(exps)
    return out


def interpolate_ref(w_content, w_prev, gate):
    """Eq. (7): g w^c + (1 - g) w_{t-1}."""
    B, H, N = w_content.shape
    out = torch.zeros(B, H, N, dtype=DTYPE)
    for b in range(B):
        for h in range(H):
            g = float(gate[b, h])
            for i in range(N):
                out[b, h, i] = g * float(w_content[b, h, i]) + (1 - g) * float(w_prev[b, h, i])
    return out


def shift_ref(w, shift):
    """Eq. (8): w~(i) = sum_{k=-S..S} s(k) w((i - k) mod N)."""
    B, H, N = w.shape
    S = (shift.shape[-1] - 1) // 2
    out = torch.zeros(B, H, N, dtype=DTYPE)
    for b in range(B):
        for h in range(H):
            for i in range(N):
                total = 0.0
                for k in range(-S, S + 1):
                    total += float(shift[b, h, k + S]) * float(w[b, h, (i - k) % N])
                out[b, h, i] = total
    return out


def sharpen_ref(w, gamma):
    """Eq. (9): w^gamma / sum_j w_j^gamma."""
    B, H, N = w.shape
    out = torch.zeros(B, H, N, dtype=DTYPE)
    for b in range(B):
        for h in range(H):
            powered = [float(w[b, h, i]) ** float(gamma[b, h]) for i in range(N)]
            for i in range(N):
                out[b, h, i] = powered[i] / sum(powered)
    return out


# --------------------------------------------------------------------- values


@pytest.mark.parametrize("B,H,N,W", [(1, 1, 1, 1), (2, 3, 5, 4), (3, 2, 7, 6)])
def test_content_weights_matches_loop(gen, B, H, N, W):
    memory = torch.randn(B, N, W, generator=gen, dtype=DTYPE)
    keys = torch.randn(B, H, W, generator=gen, dtype=DTYPE)
    strengths = 5.0 * torch.rand(B, H, generator=gen, dtype=DTYPE)
    out = content_weights(memory, keys, strengths)
    assert out.shape == (B, H, N)
    torch.testing.assert_close(out, content_ref(memory, keys, strengths), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("B,H,N", [(1, 1, 1), (2, 3, 5), (3, 2, 8)])
def test_interpolate_matches_loop(gen, B, H, N):
    w_content, w_prev = _simplex(B, H, N, generator=gen), _simplex(B, H, N, generator=gen)
    gate = torch.rand(B, H, generator=gen, dtype=DTYPE)
    torch.testing.assert_close(interpolate(w_content, w_prev, gate), interpolate_ref(w_content, w_prev, gate))


@pytest.mark.parametrize("B,H,N,S", [(2, 3, 6, 1), (1, 2, 10, 2), (2, 1, 5, 0), (2, 2, 3, 2), (1, 1, 1, 1), (1, 2, 2, 3)])
def test_circular_shift_matches_loop(gen, B, H, N, S):
    """Includes 2S+1 > N, where several offsets land on the same slot."""
    w = _simplex(B, H, N, generator=gen)
    shift = _simplex(B, H, 2 * S + 1, generator=gen)
    torch.testing.assert_close(circular_shift(w, shift), shift_ref(w, shift))


@pytest.mark.parametrize("B,H,N", [(1, 1, 1), (2, 3, 5), (3, 2, 9)])
def test_sharpen_matches_loop(gen, B, H, N):
    w = _simplex(B, H, N, generator=gen)
    gamma = 1.0 + 4.0 * torch.rand(B, H, generator=gen, dtype=DTYPE)
    torch.testing.assert_close(sharpen(w, gamma), sharpen_ref(w, gamma))


def test_sharpen_with_exact_zeros_matches_loop(gen):
    w = _simplex(2, 3, 6, generator=gen)
    w[:, :, ::2] = 0.0
    w = w / w.sum(-1, keepdim=True)
    gamma = 1.0 + 3.0 * torch.rand(2, 3, generator=gen, dtype=DTYPE)
    out = sharpen(w, gamma)
    torch.testing.assert_close(out, sharpen_ref(w, gamma))
    assert (out[:, :, ::2] < 1e-15).all()  # at most _MIN_WEIGHT ** gamma, relative


def test_shift_direction_positive_offset_moves_focus_up():
    """A one-hot shift at +1 moves a one-hot weighting from slot i to slot i+1 (N-1 -> 0)."""
    N, S = 5, 2
    shift = torch.zeros(1, 1, 2 * S + 1)
    shift[..., S + 1] = 1.0  # offset +1
    for i in range(N):
        w = torch.zeros(1, 1, N)
        w[..., i] = 1.0
        out = circular_shift(w, shift)
        assert out[0, 0].argmax().item() == (i + 1) % N
        assert out[0, 0, (i + 1) % N].item() == 1.0
    shift = torch.zeros(1, 1, 2 * S + 1)
    shift[..., S - 2] = 1.0  # offset -2
    w = torch.zeros(1, 1, N)
    w[..., 1] = 1.0
    assert circular_shift(w, shift)[0, 0].argmax().item() == (1 - 2) % N


def test_content_weights_focus_and_scale_invariance(gen):
    memory = torch.randn(2, 6, 4, generator=gen, dtype=DTYPE)
    keys = memory[:, [3, 1]].clone()
    strong = torch.full((2, 2), 50.0, dtype=DTYPE)
    w = content_weights(memory, keys, strong)
    assert w.argmax(-1).tolist() == [[3, 1], [3, 1]]
    # Cosine similarity: scaling a key by a positive number changes nothing.
    torch.testing.assert_close(content_weights(memory, 7.0 * keys, strong), w)
    # beta = 0 gives the uniform weighting.
    torch.testing.assert_close(content_weights(memory, keys, torch.zeros(2, 2, dtype=DTYPE)),
                               torch.full((2, 2, 6), 1 / 6, dtype=DTYPE))


# ----------------------------------------------------------------- simplex


def test_all_stages_keep_weightings_on_the_simplex(gen):
    B, H, N, W, S = 4, 3, 9, 5, 2
    memory = torch.randn(B, N, W, generator=gen)
    keys = torch.randn(B, H, W, generator=gen)
    w = content_weights(memory, keys, 10 * torch.rand(B, H, generator=gen))
    stages = [w]
    w = interpolate(w, torch.softmax(torch.randn(B, H, N, generator=gen), -1), torch.rand(B, H, generator=gen))
    stages.append(w)
    w = circular_shift(w, torch.softmax(torch.randn(B, H, 2 * S + 1, generator=gen), -1))
    stages.append(w)
    w = sharpen(w, 1 + 20 * torch.rand(B, H, generator=gen))
    stages.append(w)
    for out in stages:
        assert (out >= 0).all()
        torch.testing.assert_close(out.sum(-1), torch.ones(B, H))


# ----------------------------------------------------------------- gradients


def test_gradcheck_content_weights_with_zero_key_and_zero_memory_row(gen):
    memory = torch.randn(2, 5, 3, generator=gen, dtype=DTYPE)
    memory[0, 2] = 0.0
    memory[1] = 0.0  # the whole memory of one batch element
    keys = torch.randn(2, 2, 3, generator=gen, dtype=DTYPE)
    keys[0, 1] = 0.0
    strengths = 3.0 * torch.rand(2, 2, generator=gen, dtype=DTYPE)
    assert gradcheck(content_weights, (memory.requires_grad_(), keys.requires_grad_(), strengths.requires_grad_()))


def test_gradcheck_interpolate(gen):
    args = (_simplex(2, 3, 4, generator=gen), _simplex(2, 3, 4, generator=gen), torch.rand(2, 3, generator=gen, dtype=DTYPE))
    assert gradcheck(interpolate, tuple(a.requires_grad_() for a in args))


@pytest.mark.parametrize("N,S", [(5, 1), (3, 2), (1, 1)])
def test_gradcheck_circular_shift(gen, N, S):
    args = (_simplex(2, 2, N, generator=gen), _simplex(2, 2, 2 * S + 1, generator=gen))
    assert gradcheck(circular_shift, tuple(a.requires_grad_() for a in args))


def test_gradcheck_sharpen(gen):
    args = (_simplex(2, 3, 5, generator=gen), 1 + 3 * torch.rand(2, 3, generator=gen, dtype=DTYPE))
    assert gradcheck(sharpen, tuple(a.requires_grad_() for a in args))


def test_gradcheck_sharpen_at_exact_zeros(gen):
    """The analytic gradient at w = 0 is 0 (d w^gamma / dw at 0, gamma > 1); the central
    difference agrees with it for gamma >= 2 at gradcheck's default step."""
    w = _simplex(2, 3, 6, generator=gen)
    w[0, :, 1] = 0.0
    w[1, 2, ::2] = 0.0
    gamma = 2.0 + 2.0 * torch.rand(2, 3, generator=gen, dtype=DTYPE)
    assert gradcheck(sharpen, (w.requires_grad_(), gamma.requires_grad_()))


# ------------------------------------------------------------- finiteness


def test_finite_forward_and_backward_at_zero_memory_and_zero_keys():
    memory = torch.zeros(2, 4, 3, requires_grad=True)
    keys = torch.zeros(2, 2, 3, requires_grad=True)
    strengths = torch.full((2, 2), 5.0, requires_grad=True)
    w = content_weights(memory, keys, strengths)
    torch.testing.assert_close(w, torch.full((2, 2, 4), 0.25))
    w.pow(2).sum().backward()
    for t in (memory, keys, strengths):
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize("gamma_value", [1.0, 1.3, 2.0, 30.0])
def test_sharpen_finite_for_zero_and_all_zero_weights(gamma_value):
    w = torch.tensor([[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]], requires_grad=True)
    gamma = torch.full((1, 2), gamma_value, requires_grad=True)
    out = sharpen(w, gamma)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0, 0], torch.tensor([0.0, 0.0, 1.0, 0.0]))
    torch.testing.assert_close(out[0, 1], torch.full((4,), 0.25))  # all zeros -> uniform
    (out * torch.arange(4.0)).sum().backward()
    assert torch.isfinite(w.grad).all() and torch.isfinite(gamma.grad).all()


def test_whole_pipeline_backward_is_finite_at_degenerate_inputs():
    """Zero memory, zero keys, one-hot (exact zeros) previous weightings, saturated shift."""
    B, H, N, W = 2, 2, 6, 3
    memory = torch.zeros(B, N, W, requires_grad=True)
    keys = torch.zeros(B, H, W, requires_grad=True)
    beta = torch.zeros(B, H, requires_grad=True)
    w_prev = torch.zeros(B, H, N)
    w_prev[..., 0] = 1.0
    gate = torch.zeros(B, H, requires_grad=True)
    shift = torch.tensor([0.0, 0.0, 1.0]).expand(B, H, 3).clone().requires_grad_()
    gamma = torch.full((B, H), 1.0, requires_grad=True)
    w = content_weights(memory, keys, beta)
    w = interpolate(w, w_prev, gate)
    w = circular_shift(w, shift)
    w = sharpen(w, gamma)
    assert torch.isfinite(w).all()
    w[..., 1].sum().backward()
    for t in (memory, keys, beta, gate, shift, gamma):
        assert torch.isfinite(t.grad).all()


# ------------------------------------------------------------- contract


def test_functions_are_pure(gen):
    memory = torch.randn(2, 5, 3, generator=gen)
    keys = torch.randn(2, 2, 3, generator=gen)
    w = torch.softmax(torch.randn(2, 2, 5, generator=gen), -1)
    copies = [t.clone() for t in (memory, keys, w)]
    content_weights(memory, keys, torch.ones(2, 2))
    interpolate(w, w, torch.ones(2, 2))
    circular_shift(w, torch.full((2, 2, 3), 1 / 3))
    sharpen(w, torch.ones(2, 2))
    for before, after in zip(copies, (memory, keys, w)):
        assert torch.equal(before, after)


def test_exported_from_memnets_functional():
    assert MF.content_weights is content_weights
    assert MF.interpolate is interpolate
    assert MF.circular_shift is circular_shift
    assert MF.sharpen is sharpen


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: content_weights(torch.zeros(2, 5, 3), torch.zeros(2, 2, 4), torch.zeros(2, 2)), r"keys.*\(2, 2, 4\)"),
        (lambda: content_weights(torch.zeros(2, 5, 3), torch.zeros(2, 2, 3), torch.zeros(2, 3)), r"strengths"),
        (lambda: content_weights(torch.zeros(5, 3), torch.zeros(2, 2, 3), torch.zeros(2, 2)), r"rank 3.*rank 2"),
        (lambda: interpolate(torch.zeros(2, 2, 5), torch.zeros(2, 2, 4), torch.zeros(2, 2)), r"w_prev"),
        (lambda: interpolate(torch.zeros(2, 2, 5), torch.zeros(2, 2, 5), torch.zeros(2)), r"gate"),
        (lambda: circular_shift(torch.zeros(2, 2, 5), torch.zeros(2, 2, 4)), r"odd"),
        (lambda: circular_shift(torch.zeros(2, 2, 5), torch.zeros(2, 3, 3)), r"shift"),
        (lambda: sharpen(torch.zeros(2, 2, 5), torch.zeros(2, 2, 1)), r"gamma"),
    ],
)
def test_shape_errors_name_expected_and_received(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "expected" in str(info.value) and "got" in str(info.value)


# ------------------------------------------------------------------ value and dtype checks


def _head_inputs(B=2, H=1, N=4, W=3):
    g = torch.Generator().manual_seed(0)
    memory = torch.randn(B, N, W, generator=g)
    keys = torch.randn(B, H, W, generator=g)
    w = torch.softmax(torch.randn(B, H, N, generator=g), -1)
    return memory, keys, w


@pytest.mark.parametrize("bad", [-1.0, float("inf"), float("nan")])
def test_content_weights_refuses_bad_strengths(bad):
    memory, keys, _ = _head_inputs()
    strengths = torch.ones(2, 1)
    strengths[1, 0] = bad
    with pytest.raises(ValueError, match=r"content_weights: expected every value of strengths .* index \(1, 0\)"):
        content_weights(memory, keys, strengths)


def test_content_weights_accepts_zero_strength_and_gives_uniform_weights():
    memory, keys, _ = _head_inputs()
    w = content_weights(memory, keys, torch.zeros(2, 1))
    torch.testing.assert_close(w, torch.full_like(w, 0.25))


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_interpolate_refuses_gates_outside_unit_interval(bad):
    _, _, w = _head_inputs()
    with pytest.raises(ValueError, match=r"interpolate: expected every value of gate to be finite and in \[0.0, 1.0\]"):
        interpolate(w, w, torch.full((2, 1), bad))


@pytest.mark.parametrize("bad", [0.5, float("inf"), float("nan"), -2.0])
def test_sharpen_refuses_gamma_below_one_or_not_finite(bad):
    _, _, w = _head_inputs()
    with pytest.raises(ValueError, match=r"sharpen: expected every value of gamma to be finite and in \[1.0, inf\]"):
        sharpen(w, torch.full((2, 1), bad))


def test_sharpen_refuses_non_finite_weights():
    _, _, w = _head_inputs()
    w[0, 0, 2] = float("nan")
    with pytest.raises(ValueError, match=r"sharpen: expected every value of w to be finite .* index \(0, 0, 2\)"):
        sharpen(w, torch.full((2, 1), 2.0))


def test_circular_shift_refuses_negative_shift_weights():
    _, _, w = _head_inputs()
    with pytest.raises(ValueError, match="circular_shift: expected every value of shift"):
        circular_shift(w, torch.tensor([[[0.5, -0.5, 1.0]]]).expand(2, 1, 3))


def test_addressing_refuses_mixed_and_integer_dtypes():
    memory, keys, w = _head_inputs()
    with pytest.raises(ValueError, match=r"content_weights: expected keys of the same dtype as memory \(torch.float32\), got torch.float64"):
        content_weights(memory, keys.double(), torch.ones(2, 1))
    with pytest.raises(ValueError, match="content_weights: expected memory of a floating-point dtype, got torch.int64"):
        content_weights(memory.long(), keys, torch.ones(2, 1))
    with pytest.raises(ValueError, match="interpolate: expected gate of the same dtype"):
        interpolate(w, w, torch.ones(2, 1, dtype=torch.float64))


def test_value_checks_are_skipped_under_compile_tracing(monkeypatch):
    # The documented decision: no value read-back where it would cost a sync or a graph break.
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    _, _, w = _head_inputs()
    out = sharpen(w, torch.full((2, 1), 0.5))  # gamma < 1 passes unchecked
    assert torch.isfinite(out).all()
