"""Tests of memnets.nn.trees._fused: the fused Child-Sum Tree-LSTM against the composed one.

`ChildSumTreeLSTM` evaluates a forest with `child_sum_forest` (in-place buffers, a
hand-derived backward pass); the composed evaluation of `LevelBatched` (autograd over
`tree_lstm_update`, level by level) is the definition it must equal, in values and in
every gradient, on random forests, forests of one-node trees, forests with more leaves
than a tile, without bias, and when passes overlap (buffers handed on by the pool).
The per-node reference of the paper's equations is in test_engine.
"""

from __future__ import annotations

import pytest
import torch

from memnets.data.trees import listops_batch, tree_from_string
from memnets.nn.trees import ChildSumTreeLSTM, LevelBatched, collate_trees
from memnets.nn.trees import _fused
from tests.nn.trees._trees import F_IN, HIDDEN, random_forest


def _composed(model: ChildSumTreeLSTM, x: torch.Tensor, tree):
    h, (h_root, c_root) = LevelBatched._propagate(model, x, tree)
    return h, h_root, c_root


def _fused_out(model: ChildSumTreeLSTM, x: torch.Tensor, tree):
    h, (h_root, c_root) = model(x, tree)
    return h, h_root, c_root


def _loss(h, h_root, c_root, weights):
    return (h * weights).sum() + h_root.square().sum() + c_root.sin().sum()


def _compare(model: ChildSumTreeLSTM, tree, num_nodes: int, dtype=torch.float64, x_grad: bool = True):
    """Values and gradients (x and every parameter) of the fused pass against the composed one."""
    x = torch.randn(num_nodes, model.input_size, dtype=dtype, requires_grad=x_grad)
    weights = torch.randn(num_nodes, model.hidden_size, dtype=dtype)
    inputs = [x, *model.parameters()] if x_grad else list(model.parameters())
    fused = _fused_out(model, x, tree)
    composed = _composed(model, x, tree)
    tol = {"rtol": 1e-12, "atol": 1e-13} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    for a, b in zip(fused, composed):
        torch.testing.assert_close(a, b, **tol)
    grads = torch.autograd.grad(_loss(*fused, weights), inputs, materialize_grads=True)
    grads_ref = torch.autograd.grad(_loss(*composed, weights), inputs, materialize_grads=True)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, **tol)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_fused_equals_composed_on_random_forests(seed, bias):
    torch.manual_seed(seed)
    model = ChildSumTreeLSTM(F_IN, HIDDEN, bias=bias).double()
    batch = collate_trees(random_forest(seed))
    _compare(model, batch, batch.num_nodes)


def test_fused_equals_composed_on_listops_in_float32():
    torch.manual_seed(0)
    forest = listops_batch(32, torch.Generator().manual_seed(0)).tree
    _compare(ChildSumTreeLSTM(8, 16), forest, forest.num_nodes, dtype=torch.float32)


def test_fused_equals_composed_without_input_gradient():
    """x without requires_grad (the benchmark's case): the parameters' gradients alone."""
    torch.manual_seed(1)
    model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    batch = collate_trees(random_forest(1))
    _compare(model, batch, batch.num_nodes, x_grad=False)


def test_fused_on_one_node_trees_and_the_empty_forest():
    torch.manual_seed(2)
    model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    batch = collate_trees([tree_from_string(str(d)) for d in range(5)])
    _compare(model, batch, batch.num_nodes)
    empty = torch.zeros(2, 0, dtype=torch.long)
    h, (h_root, c_root) = model(torch.zeros(0, F_IN, dtype=torch.float64), empty)
    assert h.shape == (0, HIDDEN) and h_root.shape == (0, HIDDEN) and c_root.shape == (0, HIDDEN)


def test_fused_leaves_in_several_tiles(monkeypatch):
    """More leaves than a tile, and a last tile that is not full."""
    monkeypatch.setattr(_fused, "_TILE_ROWS", 4)
    torch.manual_seed(3)
    model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    batch = collate_trees(random_forest(3) + [tree_from_string("(1 2 3 4 5 6 7)")])
    assert batch.schedule.node_ptr[1] % 4 != 0
    _compare(model, batch, batch.num_nodes)


def test_fused_without_grad_gives_the_same_values():
    torch.manual_seed(4)
    model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    batch = collate_trees(random_forest(4))
    x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64)
    with torch.no_grad():
        values = _fused_out(model, x, batch)
    for a, b in zip(values, _fused_out(model, x, batch)):
        assert torch.equal(a, b.detach())


def test_overlapping_passes_keep_their_own_buffers():
    """Two forward passes, then their backward passes in the other order, then a third pass
    on the reused buffers: each gradient is its own pass's (the pool hands a buffer on only
    once the pass that held it is done)."""
    torch.manual_seed(5)
    model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    batches = [collate_trees(random_forest(seed)) for seed in (5, 6)]
    xs = [torch.randn(b.num_nodes, F_IN, dtype=torch.float64, requires_grad=True) for b in batches]
    expected = []
    for b, x in zip(batches, xs):
        expected.append(torch.autograd.grad(_loss(*_composed(model, x, b), 1.0), [x, *model.parameters()]))
    losses = [_loss(*_fused_out(model, x, b), 1.0) for b, x in zip(batches, xs)]
    for k in (1, 0):
        grads = torch.autograd.grad(losses[k], [xs[k], *model.parameters()])
        for g, g_ref in zip(grads, expected[k]):
            torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-13)
    for _ in range(2):  # passes on buffers from the pool
        grads = torch.autograd.grad(_loss(*_fused_out(model, xs[0], batches[0]), 1.0), [xs[0], *model.parameters()])
        for g, g_ref in zip(grads, expected[0]):
            torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-13)


def test_pool_hands_on_the_smallest_buffer_that_fits():
    pool = _fused._BufferPool()
    like = torch.zeros(1)
    small, large = pool.take(10, like), pool.take(100, like)
    small_ptr, large_ptr = small.data_ptr(), large.data_ptr()
    pool.give(small)
    pool.give(large)
    assert pool.take(50, like).data_ptr() == large_ptr  # the small one does not fit
    reused = pool.take(5, like)
    assert reused.data_ptr() == small_ptr and reused.numel() == 5
    assert pool.take(5, like).data_ptr() not in (small_ptr, large_ptr)  # none left: a new one
    for k in range(_fused._POOL_SIZE + 2):
        pool.give(torch.zeros(k + 1))
    assert len(pool._free[(like.dtype, like.device)]) == _fused._POOL_SIZE


def test_no_double_backward():
    """The hand-derived backward pass is not differentiable: asking for it raises."""
    torch.manual_seed(6)
    model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    batch = collate_trees([tree_from_string("(1 (2 3))")])
    x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(model(x, batch)[1][0].sum(), x, create_graph=True)
    with pytest.raises(RuntimeError):
        grad.sum().backward()


def test_a_pass_under_inference_mode_leaves_the_pool_usable():
    """Buffers made under inference_mode are never handed to an ordinary pass (which could not
    write them)."""
    model = ChildSumTreeLSTM(4, 8)
    forest = listops_batch(6, torch.Generator().manual_seed(0)).tree
    x = torch.randn(forest.num_nodes, 4)
    with torch.inference_mode():
        expected, _ = model(x, forest)
    h, _ = model(x, forest)
    h.sum().backward()
    assert torch.allclose(h, expected)


def test_autocast_takes_the_composed_evaluation():
    model = ChildSumTreeLSTM(4, 8)
    forest = listops_batch(6, torch.Generator().manual_seed(0)).tree
    x = torch.randn(forest.num_nodes, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h, _ = model(x, forest)
    reference, _ = model(x, forest)
    assert h.dtype == torch.bfloat16 and torch.allclose(h.float(), reference, atol=0.05)
    h.float().sum().backward()
