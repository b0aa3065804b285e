"""Tests of memnets.nn.trees: level-batched recursive networks against a per-node reference.

The reference below is written plainly from the papers' equations, one node at a time
by recursion over the children, with its own sigmoid/tanh arithmetic (it must be able to
disagree with the library's gated core).
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

import memnets
from memnets.data.trees import (
    LISTOPS_SEQUENCE_VOCAB,
    LISTOPS_VOCAB,
    chain_tree,
    collate_trees,
    listops_batch,
    tree_from_nested,
    tree_from_string,
    tree_schedule,
)
from memnets.nn.trees import (
    ChildSumTreeLSTM,
    NaryTreeLSTM,
    RecursiveNN,
    SequenceClassifier,
    TreeClassifier,
    TreeGRU,
)

F_IN, HIDDEN = 3, 5
DEEP = 500
#: Python frames a depth-500 evaluation may use beyond the caller's (far fewer than 500).
_FRAME_ALLOWANCE = 150


# ---------------------------------------------------------------- random forests


def random_tree(num_nodes: int, gen: torch.Generator, shape: str, max_children: int) -> list[int]:
    """Parents (pre-shuffle) of a tree: node 0 is the root, parents precede children."""
    parents = [-1]
    counts = [0] * num_nodes
    for node in range(1, num_nodes):
        if shape == "chain":
            parent = node - 1
        elif shape == "star":
            parent = 0 if counts[0] < max_children else node - 1
        else:  # random recursive tree with bounded arity
            free = [j for j in range(node) if counts[j] < max_children]
            parent = free[int(torch.randint(len(free), (1,), generator=gen))]
        counts[parent] += 1
        parents.append(parent)
    return parents


def shuffled_data(parents: list[int], gen: torch.Generator, max_children: int) -> Data:
    """A Data with node ids and edge columns shuffled, and random distinct child slots."""
    n = len(parents)
    perm = torch.randperm(n, generator=gen)  # old id -> new id
    children: dict[int, list[int]] = {}
    for node, parent in enumerate(parents):
        if parent >= 0:
            children.setdefault(parent, []).append(node)
    rows, cols, slots = [], [], []
    for parent, kids in children.items():
        chosen = torch.randperm(max_children, generator=gen)[: len(kids)].sort().values.tolist()
        for kid, slot in zip(kids, chosen):
            rows.append(int(perm[kid]))
            cols.append(int(perm[parent]))
            slots.append(slot)
    order = torch.randperm(len(rows), generator=gen)
    edge_index = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)[:, order]
    child_slot = torch.tensor(slots, dtype=torch.long)[order]
    return Data(edge_index=edge_index, child_slot=child_slot, num_nodes=n)


def random_forest(seed: int, max_children: int = 3) -> list[Data]:
    gen = torch.Generator().manual_seed(seed)
    specs = [(1, "random"), (2, "chain"), (7, "chain"), (9, "star"), (12, "random"), (25, "random"), (4, "random")]
    return [shuffled_data(random_tree(n, gen, shape, max_children), gen, max_children) for n, shape in specs]


# ---------------------------------------------------------------- per-node reference


def _children(data: Data) -> dict[int, list[tuple[int, int]]]:
    kids: dict[int, list[tuple[int, int]]] = {}
    slots = getattr(data, "child_slot", None)
    for e, (child, parent) in enumerate(data.edge_index.t().tolist()):
        slot = int(slots[e]) if slots is not None else len(kids.get(parent, []))
        kids.setdefault(parent, []).append((slot, child))
    return {p: sorted(v) for p, v in kids.items()}


def _sig(a):
    return 1.0 / (1.0 + torch.exp(-a))


def reference(model: nn.Module, x: torch.Tensor, data: Data):
    """Per-node recursive evaluation of ``model``'s equations; returns (h, c or None, roots)."""
    kids = _children(data)
    has_parent = set(data.edge_index[0].tolist())
    roots = [v for v in range(data.num_nodes) if v not in has_parent]
    hid = model.hidden_size
    memo: dict[int, tuple] = {}
    p = dict(model.named_parameters())
    zero = x.new_zeros(hid)

    def lin(w, v):
        return w @ v

    def node(j: int):
        if j in memo:
            return memo[j]
        children = [(slot, node(k)) for slot, k in kids.get(j, [])]
        b_ih, b_hh = p.get("bias_ih"), p.get("bias_hh")
        if isinstance(model, ChildSumTreeLSTM):
            w_i, w_f, w_g, w_o = p["weight_ih"].chunk(4)
            u_i, u_f, u_g, u_o = p["weight_hh"].chunk(4)
            b_i, b_f, b_g, b_o = (b_ih + b_hh).chunk(4)
            h_tilde = sum((hc[0] for _, hc in children), zero)
            i = _sig(lin(w_i, x[j]) + lin(u_i, h_tilde) + b_i)
            o = _sig(lin(w_o, x[j]) + lin(u_o, h_tilde) + b_o)
            u = torch.tanh(lin(w_g, x[j]) + lin(u_g, h_tilde) + b_g)
            c = i * u
            for _, (h_k, c_k) in children:
                c = c + _sig(lin(w_f, x[j]) + lin(u_f, h_k) + b_f) * c_k
            out = (o * torch.tanh(c), c)
        elif isinstance(model, NaryTreeLSTM):
            n = model.arity
            w_i, w_f, w_g, w_o = p["weight_ih"].chunk(4)
            bi_i, bi_f, bi_g, bi_o = b_ih.chunk(4)
            blocks = p["weight_hh"].chunk(3 + n)  # rows: i, f_1..f_N, g, o
            bias_blocks = b_hh.chunk(3 + n)
            hs = [zero] * n
            for slot, (h_k, _) in children:
                hs[slot] = h_k

            def gate(row: int) -> torch.Tensor:
                cols = blocks[row].chunk(n, dim=1)
                return sum((lin(cols[l], hs[l]) for l in range(n)), zero) + bias_blocks[row]

            i = _sig(lin(w_i, x[j]) + bi_i + gate(0))
            u = torch.tanh(lin(w_g, x[j]) + bi_g + gate(1 + n))
            o = _sig(lin(w_o, x[j]) + bi_o + gate(2 + n))
            c = i * u
            for slot, (_, c_k) in children:
                c = c + _sig(lin(w_f, x[j]) + bi_f + gate(1 + slot)) * c_k
            out = (o * torch.tanh(c), c)
        elif isinstance(model, RecursiveNN):
            pre = lin(p["weight_ih"], x[j]) + b_ih + b_hh
            if model.arity is None:
                pre = pre + lin(p["weight_hh"], sum((hc[0] for _, hc in children), zero))
            else:
                cols = p["weight_hh"].chunk(model.arity, dim=1)
                for slot, (h_k,) in children:
                    pre = pre + lin(cols[slot], h_k)
            out = (torch.tanh(pre),)
        elif isinstance(model, TreeGRU):
            h_tilde = sum((hc[0] for _, hc in children), zero)
            x_r, x_z, x_n = (lin(p["weight_ih"], x[j]) + b_ih).chunk(3)
            h_r, h_z, h_n = (lin(p["weight_hh"], h_tilde) + b_hh).chunk(3)
            r, z = _sig(x_r + h_r), _sig(x_z + h_z)
            n_ = torch.tanh(x_n + r * h_n)
            out = ((1 - z) * n_ + z * h_tilde,)
        else:  # pragma: no cover
            raise TypeError(type(model))
        memo[j] = out
        return out

    states = [node(j) for j in range(data.num_nodes)]
    h = torch.stack([s[0] for s in states]) if states else x.new_zeros(0, hid)
    c = torch.stack([s[1] for s in states]) if states and len(states[0]) == 2 else None
    return h, c, roots


def _unpack(model, out):
    h, roots = out
    if isinstance(roots, tuple):
        return h, roots[0], roots[1]
    return h, roots, None


MODELS = {
    "childsum": lambda: ChildSumTreeLSTM(F_IN, HIDDEN),
    "nary": lambda: NaryTreeLSTM(F_IN, HIDDEN, arity=3),
    "recursive_sum": lambda: RecursiveNN(F_IN, HIDDEN),
    "recursive_nary": lambda: RecursiveNN(F_IN, HIDDEN, arity=3),
    "gru": lambda: TreeGRU(F_IN, HIDDEN),
}


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

    h, h_root, c_root = _unpack(model, model(x, batch))
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


@pytest.mark.parametrize("name", sorted(MODELS))
def test_input_formats_agree(name):
    """A Batch with its schedule, the same Data without one, a TreeSchedule and edge_index."""
    torch.manual_seed(0)
    model = MODELS[name]()
    batch = collate_trees(random_forest(3))
    x = torch.randn(batch.num_nodes, F_IN)
    expected = model(x, batch)[0]
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


# ---------------------------------------------------------------- chains are sequences


@pytest.mark.parametrize("lstm_class", [nn.LSTM, memnets.LSTM], ids=["torch.nn.LSTM", "memnets.LSTM"])
@pytest.mark.parametrize("model_class", ["childsum", "nary1"])
def test_chain_tree_lstm_equals_lstm(lstm_class, model_class):
    """One child per node: the Tree-LSTM is the LSTM over the sequence, with the same weights."""
    torch.manual_seed(0)
    lengths = [1, 6, 11]
    lstm = lstm_class(F_IN, HIDDEN).double()
    if model_class == "childsum":
        tree_model = ChildSumTreeLSTM(F_IN, HIDDEN).double()
    else:
        tree_model = NaryTreeLSTM(F_IN, HIDDEN, arity=1).double()
    tree_model.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    batch = collate_trees([chain_tree(n) for n in lengths])
    x = torch.randn(batch.num_nodes, F_IN, dtype=torch.float64)
    h, (h_root, c_root) = tree_model(x, batch)
    start = 0
    for b, n in enumerate(lengths):
        out, (h_n, c_n) = lstm(x[start:start + n].unsqueeze(1))
        torch.testing.assert_close(h[start:start + n], out[:, 0])
        torch.testing.assert_close(h_root[b], h_n[0, 0])
        torch.testing.assert_close(c_root[b], c_n[0, 0])
        start += n


@pytest.mark.parametrize("kind", ["gru", "rnn"])
def test_chain_tree_gru_and_recursive_equal_torch_cells(kind):
    torch.manual_seed(0)
    cell = nn.GRUCell(F_IN, HIDDEN) if kind == "gru" else nn.RNNCell(F_IN, HIDDEN)
    model = TreeGRU(F_IN, HIDDEN) if kind == "gru" else RecursiveNN(F_IN, HIDDEN)
    model.load_state_dict(cell.state_dict())
    x = torch.randn(9, F_IN)
    h, h_root = model(x, chain_tree(9))
    state = torch.zeros(1, HIDDEN)
    for t in range(9):
        state = cell(x[t : t + 1], state)
        torch.testing.assert_close(h[t], state[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_root[0], state[0], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("name", sorted(MODELS))
def test_single_node_trees_and_empty_forest(name):
    torch.manual_seed(0)
    model = MODELS[name]().double()
    batch = collate_trees([tree_from_string("1"), tree_from_string("2"), tree_from_string("3")])
    x = torch.randn(3, F_IN, dtype=torch.float64)
    h, h_root, _ = _unpack(model, model(x, batch))
    h_ref, _, roots = reference(model, x, batch)
    assert roots == [0, 1, 2]
    torch.testing.assert_close(h, h_ref)
    torch.testing.assert_close(h_root, h_ref)

    empty = Data(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=0)
    h, h_root, _ = _unpack(model, model(torch.zeros(0, F_IN, dtype=torch.float64), empty))
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
    h, h_root, _ = _unpack(model, model(x, tree))
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
    with pytest.raises(ValueError, match="expected a tree"):
        model(torch.zeros(3, F_IN), [[1, 2], [0, 0]])


# ---------------------------------------------------------------- task models


def test_tree_classifier_and_sequence_classifier_shapes_and_load(tmp_path):
    batch = listops_batch(5, torch.Generator().manual_seed(0))
    for cell, arity in [("childsum", None), ("nary", 5), ("recursive", None), ("gru", None)]:
        model = TreeClassifier(len(LISTOPS_VOCAB), 10, cell=cell, hidden_size=8, embedding_size=4, arity=arity,
                               head_size=6)
        assert model(batch.tree.token, batch.tree).shape == (5, 10)
    seq = SequenceClassifier(len(LISTOPS_SEQUENCE_VOCAB), 10, hidden_size=8, embedding_size=4)
    logits = seq(batch.sequence, batch.lengths)
    assert logits.shape == (5, 10)
    # the readout sees each sequence's last real token: padding more changes nothing
    padded = torch.cat([batch.sequence, torch.full((7, 5), LISTOPS_SEQUENCE_VOCAB.index("<pad>"))])
    torch.testing.assert_close(seq(padded, batch.lengths), logits)
    with pytest.raises(ValueError, match="cell"):
        TreeClassifier(14, 10, cell="lstm")


def test_tree_classifier_checkpoint_roundtrip(tmp_path):
    from memnets.training import TrainConfig, fit
    from memnets.training.loop import Task

    class Tiny(Task):
        def sample(self, batch_size, generator, device):
            return listops_batch(batch_size, generator, device, max_depth=3)

        def loss(self, model, batch):
            loss = nn.functional.cross_entropy(model(batch.tree.token, batch.tree), batch.target)
            return loss, {}

    model = TreeClassifier(14, 10, hidden_size=8, embedding_size=4)
    fit(model, Tiny(), TrainConfig(out=str(tmp_path), steps=2, batch_size=4, progress=False, device="cpu"))
    loaded = memnets.load(tmp_path / "model.pt")
    batch = listops_batch(3, torch.Generator().manual_seed(1), max_depth=3)
    model.eval()
    torch.testing.assert_close(loaded(batch.tree.token, batch.tree), model(batch.tree.token, batch.tree))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_cuda_matches_cpu(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    batch = collate_trees(random_forest(5))
    x = torch.randn(batch.num_nodes, F_IN)
    expected = model(x, batch)[0]
    got = model.cuda()(x.cuda(), batch.to("cuda"))[0]
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-5)
    # a CPU schedule is moved to the input's device
    torch.testing.assert_close(model(x.cuda(), batch.schedule)[0].cpu(), expected, rtol=1e-4, atol=1e-5)


def test_level_count_is_tree_height():
    """The batched evaluation does one update per level: depth, not node count."""
    batch = collate_trees([tree_from_string("(1 (2 (3 4)) 5)"), tree_from_string("(1)"), tree_from_string("9")])
    assert batch.schedule.num_levels == 4
    assert len(list(batch.schedule.levels())) == 4


@pytest.mark.slow
def test_listops_tree_lstm_learns(tmp_path):
    """A short ListOps run (shallow expressions) through the task script: the Tree-LSTM
    learns well beyond the majority class (about 12 %) and its checkpoint reloads."""
    from tasks.listops import main

    results = main(["--out", str(tmp_path), "--steps", "600", "--max-depth", "4", "--hidden-size", "64",
                    "--eval-every", "300", "--eval-size", "500", "--test-size", "1000", "--no-progress",
                    "--no-plots", "--device", "cpu"])
    assert results["evaluation"]["test"]["accuracy"] > 0.5  # measured: 0.64
    assert isinstance(memnets.load(tmp_path / "model.pt"), TreeClassifier)
