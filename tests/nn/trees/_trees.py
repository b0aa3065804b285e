"""Shared helpers of the tree-family tests: random forests and a per-node reference.

The reference is written plainly from the papers' equations, one node at a time by
recursion over the children, with its own sigmoid/tanh arithmetic (it must be able to
disagree with the library's gated core).
"""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.data import Data

from memnets.data.trees import chain_tree
from memnets.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNN, TreeGRU, collate_trees

__all__ = ["F_IN", "HIDDEN", "MODELS", "random_tree", "shuffled_data", "random_forest", "reference", "unpack",
           "chain_equals_cell", "chain_equals_lstm"]

F_IN, HIDDEN = 3, 5


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


def unpack(model, out):
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


def chain_equals_cell(cell: nn.Module, model: nn.Module) -> None:
    """On a chain of 9 nodes, ``model`` (a one-state tree model) loaded with ``cell``'s
    weights gives the states of ``cell`` run over the sequence."""
    model.load_state_dict(cell.state_dict())
    x = torch.randn(9, F_IN)
    h, h_root = model(x, chain_tree(9))
    state = torch.zeros(1, HIDDEN)
    for t in range(9):
        state = cell(x[t : t + 1], state)
        torch.testing.assert_close(h[t], state[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h_root[0], state[0], rtol=1e-5, atol=1e-6)


def chain_equals_lstm(lstm: nn.Module, tree_model: nn.Module) -> None:
    """On chains of 1, 6 and 11 nodes, ``tree_model`` (a Tree-LSTM, float64) loaded with the
    one-layer ``lstm``'s weights gives its outputs and final ``(h, c)``."""
    lengths = [1, 6, 11]
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
