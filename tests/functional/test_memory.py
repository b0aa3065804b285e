"""Tests of memnets.functional.memory against slow loops written from the paper.

Graves, Wayne & Danihelka (2014), §3.1-3.2, eqs. (2)-(4).
"""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

import memnets.functional as MF
from memnets.functional.memory import memory_read, memory_write

DTYPE = torch.float64


@pytest.fixture
def gen() -> torch.Generator:
    return torch.Generator().manual_seed(99)


def _simplex(*shape: int, generator: torch.Generator) -> torch.Tensor:
    return torch.softmax(2.0 * torch.randn(*shape, generator=generator, dtype=DTYPE), dim=-1)


def read_ref(memory, w):
    """Eq. (2): r = sum_i w(i) M(i)."""
    B, N, W = memory.shape
    H = w.shape[1]
    out = torch.zeros(B, H, W, dtype=DTYPE)
    for b in range(B):
        for h in range(H):
            for i in range(N):
                for j in range(W):
                    out[b, h, j] += float(w[b, h, i]) * float(memory[b, i, j])
    return out


def write_ref(memory, w, erase, add):
    """Eqs. (3)-(4), heads in order: head h erases then adds on what head h-1 left."""
    B, N, W = memory.shape
    H = w.shape[1]
    out = memory.clone()
    for b in range(B):
        for h in range(H):
            for i in range(N):
                for j in range(W):
                    erased = float(out[b, i, j]) * (1.0 - float(w[b, h, i]) * float(erase[b, h, j]))
                    out[b, i, j] = erased + float(w[b, h, i]) * float(add[b, h, j])
    return out


def write_paper_product_form(memory, w, erase, add):
    """The paper's multi-head form: all erases (a commuting product), then all adds."""
    keep = torch.ones_like(memory)
    added = torch.zeros_like(memory)
    for h in range(w.shape[1]):
        keep = keep * (1 - w[:, h, :, None] * erase[:, h, None, :])
        added = added + w[:, h, :, None] * add[:, h, None, :]
    return memory * keep + added


def _write_args(gen, B, H, N, W):
    return (
        torch.randn(B, N, W, generator=gen, dtype=DTYPE),
        _simplex(B, H, N, generator=gen),
        torch.rand(B, H, W, generator=gen, dtype=DTYPE),
        torch.randn(B, H, W, generator=gen, dtype=DTYPE),
    )


@pytest.mark.parametrize("B,H,N,W", [(1, 1, 1, 1), (2, 3, 5, 4), (3, 2, 6, 2)])
def test_memory_read_matches_loop(gen, B, H, N, W):
    memory = torch.randn(B, N, W, generator=gen, dtype=DTYPE)
    w = _simplex(B, H, N, generator=gen)
    out = memory_read(memory, w)
    assert out.shape == (B, H, W)
    torch.testing.assert_close(out, read_ref(memory, w))


@pytest.mark.parametrize("B,H,N,W", [(1, 1, 1, 1), (2, 1, 5, 4), (2, 2, 5, 3), (3, 3, 4, 2)])
def test_memory_write_matches_loop(gen, B, H, N, W):
    args = _write_args(gen, B, H, N, W)
    out = memory_write(*args)
    assert out.shape == (B, N, W)
    torch.testing.assert_close(out, write_ref(*args))


def test_one_head_equals_paper_product_form_several_heads_differ(gen):
    args = _write_args(gen, 2, 1, 5, 3)
    torch.testing.assert_close(memory_write(*args), write_paper_product_form(*args))
    # Two heads at the same slot: here head 2's erase also removes head 1's add.
    memory = torch.zeros(1, 2, 1, dtype=DTYPE)
    w = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]], dtype=DTYPE)
    erase = torch.ones(1, 2, 1, dtype=DTYPE)
    add = torch.tensor([[[3.0], [5.0]]], dtype=DTYPE)
    assert memory_write(memory, w, erase, add)[0, 0, 0].item() == 5.0  # sequential: last write wins
    assert write_paper_product_form(memory, w, erase, add)[0, 0, 0].item() == 8.0  # erase all, add all


def test_write_full_erase_and_add_replaces_the_slot():
    memory = torch.arange(12.0).reshape(1, 4, 3)
    w = torch.zeros(1, 1, 4)
    w[..., 2] = 1.0
    out = memory_write(memory, w, torch.ones(1, 1, 3), torch.full((1, 1, 3), -1.0))
    expected = memory.clone()
    expected[0, 2] = -1.0
    torch.testing.assert_close(out, expected)


def test_gradcheck_memory_read(gen):
    memory = torch.randn(2, 4, 3, generator=gen, dtype=DTYPE)
    memory[0, 1] = 0.0
    w = _simplex(2, 2, 4, generator=gen)
    assert gradcheck(memory_read, (memory.requires_grad_(), w.requires_grad_()))


@pytest.mark.parametrize("H", [1, 3])
def test_gradcheck_memory_write(gen, H):
    args = _write_args(gen, 2, H, 4, 3)
    assert gradcheck(memory_write, tuple(a.requires_grad_() for a in args))


def test_gradcheck_memory_write_saturated_heads(gen):
    """w = 1 and e = 1 make a factor (1 - w e) exactly 0: the several-head closed form's
    products must still differentiate correctly."""
    memory, w, erase, add = _write_args(gen, 1, 3, 3, 2)
    w = torch.zeros_like(w)
    w[0, :, 1] = 1.0
    w[0, 2, 0] = 0.5
    w[0, 2, 1] = 0.5
    erase = erase.clone()
    erase[0, :2, 0] = 1.0
    assert gradcheck(memory_write, (memory.requires_grad_(), w.requires_grad_(), erase.requires_grad_(), add.requires_grad_()))


def test_zero_memory_is_finite_and_inputs_untouched():
    memory = torch.zeros(2, 3, 4, requires_grad=True)
    w = torch.zeros(2, 2, 3)
    w[..., 0] = 1.0
    w.requires_grad_()
    erase = torch.ones(2, 2, 4, requires_grad=True)
    add = torch.zeros(2, 2, 4, requires_grad=True)
    out = memory_write(memory, w, erase, add)
    r = memory_read(out, w)
    (out.sum() + r.pow(2).sum()).backward()
    for t in (memory, w, erase, add):
        assert torch.isfinite(t.grad).all()
    assert torch.equal(memory.detach(), torch.zeros(2, 3, 4))


def test_memory_write_is_pure(gen):
    args = _write_args(gen, 2, 2, 4, 3)
    copies = [a.clone() for a in args]
    memory_write(*args)
    memory_read(args[0], args[1])
    for before, after in zip(copies, args):
        assert torch.equal(before, after)


def test_exported_from_memnets_functional():
    assert MF.memory_read is memory_read
    assert MF.memory_write is memory_write


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: memory_read(torch.zeros(2, 5, 3), torch.zeros(2, 1, 4)), r"w.*\(2, 1, 4\)"),
        (lambda: memory_read(torch.zeros(5, 3), torch.zeros(2, 1, 5)), r"rank"),
        (lambda: memory_write(torch.zeros(2, 5, 3), torch.zeros(2, 1, 5), torch.zeros(2, 1, 4), torch.zeros(2, 1, 3)), r"erase"),
        (lambda: memory_write(torch.zeros(2, 5, 3), torch.zeros(2, 1, 5), torch.zeros(2, 1, 3), torch.zeros(2, 2, 3)), r"add"),
        (lambda: memory_write(torch.zeros(2, 5, 3), torch.zeros(3, 1, 5), torch.zeros(2, 1, 3), torch.zeros(2, 1, 3)), r"w"),
    ],
)
def test_shape_errors_name_expected_and_received(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "expected" in str(info.value) and "got" in str(info.value)


# ------------------------------------------------------------------ value and dtype checks


def test_memory_write_refuses_erase_outside_unit_interval():
    memory = torch.zeros(1, 3, 2)
    w = torch.full((1, 1, 3), 1 / 3)
    erase = torch.full((1, 1, 2), 0.5)
    erase[0, 0, 1] = 1.5
    with pytest.raises(ValueError, match=r"memory_write: expected every value of erase .* got 1.5 at index \(0, 0, 1\)"):
        memory_write(memory, w, erase, torch.zeros(1, 1, 2))


def test_memory_ops_refuse_mixed_dtypes():
    memory = torch.zeros(1, 3, 2)
    w = torch.full((1, 1, 3), 1 / 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"memory_read: expected w of the same dtype as memory \(torch.float32\), got torch.float64"):
        memory_read(memory, w)
    with pytest.raises(ValueError, match="memory_write: expected memory of a floating-point dtype, got torch.int64"):
        memory_write(memory.long(), w.float(), torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))
