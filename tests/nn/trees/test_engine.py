"""Tests of memnets.nn.trees.engine: level-batched evaluation against a per-node reference.

Every model of the family runs on the same engine; each is checked against the plain
per-node recursion of its paper's equations (tests/nn/trees/_trees.py), in values and
gradients, on random forests with shuffled ids and edges, and at the edges: one node,
an empty forest, a depth of 500 (no recursion), a node with 300 children, malformed
trees, wrong dtypes.
"""

from __future__ import annotations

import contextlib
import inspect
import sys

import pytest
import torch
from torch import nn
from torch.func import functional_call
from torch_geometric.data import Data

from memnets.data.trees import tree_from_nested, tree_from_string
from memnets.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNN, TreeGRU, collate_trees, tree_schedule
from tests.nn.trees._trees import F_IN, HIDDEN, MODELS, random_forest, reference, unpack

DEEP = 500
#: Python frames a depth-500 evaluation may use beyond the caller's (far fewer than 500).
_FRAME_ALLOWANCE = 150


# ---------------------------------------------------------------- batched == reference


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("seed", [0, 1])
def test_batched_matches_per_node_reference_values_and_gradients(name, seed):
    torch.manual_seed(seed)
    model = MODELS[name]().double()
    forest = random_forest(seed)
    batch = collate_trees(forest)
    x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(batch.num_nodes, HIDDEN, dtype=torch.float64)

    h, h_root, c_root = unpack(model, model(x, batch))
    loss = (h * weights).sum() + h_root.square().sum() + (0 if c_root is None else c_root.sum())
    grads = torch.autograd.grad(loss, [x, *model.parameters()])

    h_ref, c_ref, roots = reference(model, x, batch)
    assert roots == batch.schedule.roots.tolist() and len(roots) == len(forest)
    loss_ref = (h_ref * weights).sum() + h_ref[roots].square().sum() + (0 if c_ref is None else c_ref[roots].sum())
    grads_ref = torch.autograd.grad(loss_ref, [x, *model.parameters()])

    torch.testing.assert_close(h, h_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_root, h_ref[roots])
    if c_root is not None:
        torch.testing.assert_close(c_root, c_ref[roots])
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-9, atol=1e-11)


def _on_random_forest(name: str, seed: int):
    """The model ``name`` (seeded), a batch of ``random_forest(seed)``, its inputs and ``h``."""
    torch.manual_seed(0)
    model = MODELS[name]()
    batch = collate_trees(random_forest(seed))
    x = torch.randn(batch.num_nodes, F_IN)
    return model, batch, x, model(x, batch)[0]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_input_formats_agree(name):
    """A Batch with its schedule, the same Data without one, a TreeSchedule and edge_index."""
    model, batch, x, expected = _on_random_forest(name, 3)
    plain = Data(edge_index=batch.edge_index, child_slot=batch.child_slot, num_nodes=batch.num_nodes)
    torch.testing.assert_close(model(x, plain)[0], expected)
    torch.testing.assert_close(model(x, batch.schedule)[0], expected)
    if name not in ("nary", "recursive_nary"):  # bare edge_index: slots from the edge order, sums don't care
        torch.testing.assert_close(model(x, batch.edge_index)[0], expected)


@pytest.mark.parametrize("name", ["childsum", "nary", "gru"])
def test_gradcheck_float64(name):
    torch.manual_seed(0)
    model = MODELS[name]().double()
    batch = collate_trees([tree_from_string("(1 (2 3) (4 (5)))"), tree_from_string("7")])
    x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def run(x, *ps):
        h, roots = functional_call(model, dict(zip(names, ps)), (x, batch))
        return h, roots[0] if isinstance(roots, tuple) else roots

    assert torch.autograd.gradcheck(run, (x, *params), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_single_node_trees_and_empty_forest(name):
    torch.manual_seed(0)
    model = MODELS[name]().double()
    batch = collate_trees([tree_from_string("1"), tree_from_string("2"), tree_from_string("3")])
    x = torch.randn(3, F_IN, dtype=torch.float64)
    h, h_root, _ = unpack(model, model(x, batch))
    h_ref, _, roots = reference(model, x, batch)
    assert roots == [0, 1, 2]
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(h_root, h_ref)

    empty = Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=0)
    h, h_root, _ = unpack(model, model(torch.zeros(0, F_IN, dtype=torch.float64), empty))
    assert h.shape == (0, HIDDEN) and h_root.shape == (0, HIDDEN)


@contextlib.contextmanager
def recursion_limit_near_current_depth():
    """Only a few Python frames more than the caller's: a recursion per level would fail."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + _FRAME_ALLOWANCE)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_depth_500_without_recursion_equals_lstm():
    torch.manual_seed(0)
    nested: object = 0
    for _ in range(DEEP):
        nested = (nested,)
    text = "(" * DEEP + "0" + ")" * DEEP
    lstm = nn.LSTM(F_IN, HIDDEN)
    model = ChildSumTreeLSTM(F_IN, HIDDEN)
    model.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    with recursion_limit_near_current_depth():
        with pytest.raises(RecursionError):  # the limit really is below the tree's depth

            def recurse(n):
                return 0 if n == 0 else 1 + recurse(n - 1)

            recurse(DEEP)
        from_nested = tree_from_nested(nested)
        from_text = tree_from_string(text)
        batch = collate_trees([from_nested])
        x = torch.randn(DEEP + 1, F_IN, requires_grad=True)
        h, (h_root, _) = model(x, batch)
        h_root.sum().backward()
    assert torch.equal(from_nested.edge_index, from_text.edge_index)
    assert batch.schedule.num_levels == DEEP + 1
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # Pre-order numbering: node 0 is the root, node DEEP the leaf; as a sequence, leaf first.
    out, (h_n, _) = lstm(x.detach().flip(0).unsqueeze(1))
    torch.testing.assert_close(h_root[0], h_n[0, 0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(h.detach().flip(0), out[:, 0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["childsum", "recursive_sum", "gru"])
def test_wide_node(name):
    """One root with 300 children (child-sum models take any arity)."""
    torch.manual_seed(0)
    model = MODELS[name]().double()
    width = 300
    tree = Data(edge_index=torch.stack([torch.arange(1, width + 1), torch.zeros(width, dtype=torch.long)]),
                num_nodes=width + 1)
    x = torch.randn(width + 1, F_IN, dtype=torch.float64)
    h, h_root, _ = unpack(model, model(x, tree))
    h_ref, _, _ = reference(model, x, tree)
    torch.testing.assert_close(h, h_ref)
    assert torch.isfinite(h_root).all()


@pytest.mark.parametrize(
    "edge_index, num_nodes, message",
    [
        ([[0, 1], [1, 0]], 2, "cycle"),
        ([[1, 2, 0], [0, 1, 2]], 3, "cycle"),
        ([[1], [1]], 2, "cycle"),
        ([[2, 2], [0, 1]], 3, "parent"),
        ([[1, 5], [0, 0]], 3, "outside"),
        ([[1, -1], [0, 0]], 3, "outside"),
    ],
    ids=["2-cycle", "3-cycle", "self-loop", "two-parents", "dangling", "negative"],
)
@pytest.mark.parametrize("name", ["childsum", "nary"])
def test_malformed_trees_raise(edge_index, num_nodes, message, name):
    model = MODELS[name]()
    data = Data(edge_index=torch.tensor(edge_index), num_nodes=num_nodes)
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(num_nodes, F_IN), data)
    with pytest.raises(ValueError, match=message):
        collate_trees([data])


def test_other_bad_inputs_raise():
    model = NaryTreeLSTM(F_IN, HIDDEN, arity=2)
    three = tree_from_string("(1 2 3)")
    with pytest.raises(ValueError, match="arity=2"):
        model(torch.zeros(4, F_IN), three)
    with pytest.raises(ValueError, match="one row per node"):
        model(torch.zeros(5, F_IN), tree_from_string("(1 2)"))
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(3, F_IN + 1), tree_from_string("(1 2)"))
    with pytest.raises(ValueError, match="slot"):
        tree_schedule(torch.tensor([[1, 2], [0, 0]]), 3, child_slot=torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="shape"):
        tree_schedule(torch.zeros(3, 2, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="integer"):
        tree_schedule(torch.zeros(2, 1), 3)
    with pytest.raises(TypeError, match="expected a tree"):
        model(torch.zeros(3, F_IN), [[1, 2], [0, 0]])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cuda_matches_cpu(name):
    model, batch, x, expected = _on_random_forest(name, 5)
    got = model.cuda()(x.cuda(), batch.to("cuda"))[0]
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-5)
    # a CPU schedule is moved to the input's device
    torch.testing.assert_close(model(x.cuda(), batch.schedule)[0].cpu(), expected, rtol=1e-4, atol=1e-5)


def test_level_count_is_tree_height():
    """The batched evaluation does one update per level: depth, not node count."""
    batch = collate_trees([tree_from_string("(1 (2 (3 4)) 5)"), tree_from_string("(1)"), tree_from_string("9")])
    assert batch.schedule.num_levels == 4
    assert len(list(batch.schedule.levels())) == 4


# ---------------------------------------------------------------- dtype policy and constructors


CONSTRUCTORS = {
    "childsum": lambda *a, **k: ChildSumTreeLSTM(*a, **k),
    "nary": lambda *a, **k: NaryTreeLSTM(*a, **k),
    "recursive": lambda *a, **k: RecursiveNN(*a, **k),
    "gru": lambda *a, **k: TreeGRU(*a, **k),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
@pytest.mark.parametrize("sizes, error, message", [
    ((3, 0), ValueError, "hidden_size must be greater than zero, got 0"),
    ((3, -2), ValueError, "hidden_size must be greater than zero, got -2"),
    ((0, 4), ValueError, "input_size must be greater than zero, got 0"),
    ((3.0, 4), TypeError, "input_size should be of type int, got: float"),
    ((3, True), TypeError, "hidden_size should be of type int, got: bool"),
])
def test_constructors_validate_sizes(name, sizes, error, message):
    with pytest.raises(error, match=message):
        CONSTRUCTORS[name](*sizes)


@pytest.mark.parametrize("name", ["nary", "recursive"])
@pytest.mark.parametrize("arity, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError)])
def test_constructors_validate_arity(name, arity, error):
    with pytest.raises(error, match="arity"):
        CONSTRUCTORS[name](3, 4, arity=arity)


def test_recursive_nonlinearity_is_a_choice():
    with pytest.raises(ValueError, match="nonlinearity.*'sigmoid'"):
        RecursiveNN(3, 4, nonlinearity="sigmoid")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dtype_policy_refuses_other_dtypes_naming_both(name):
    """A module computes in its parameters' dtype and refuses others, as torch.nn does."""
    model = MODELS[name]()
    tree = tree_from_string("(1 (2 3))")
    with pytest.raises(ValueError, match=r"torch\.float32.*got torch\.float64"):
        model(torch.zeros(tree.num_nodes, F_IN, dtype=torch.float64), tree)
    with pytest.raises(ValueError, match="floating-point dtype, got torch.int64"):
        model(torch.zeros(tree.num_nodes, F_IN, dtype=torch.long), tree)
    h, _, _ = unpack(model, model.double()(torch.zeros(tree.num_nodes, F_IN, dtype=torch.float64), tree))
    assert h.dtype == torch.float64


@pytest.mark.parametrize("model_class", [ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNN, TreeGRU])
def test_parameters_can_be_made_in_a_dtype(model_class):
    model = model_class(F_IN, HIDDEN, dtype=torch.float64)
    assert all(p.dtype == torch.float64 for p in model.parameters())
