"""Train a Child-Sum Tree-LSTM on trees of your own.

Each example is a tree whose leaves are digits; the label is the largest digit in the
tree. Trees come in as nested tuples (`tree_from_nested`) or as a plain child -> parent
edge list in a torch_geometric `Data`; a batch of trees is torch_geometric's `Batch`,
and the Tree-LSTM runs over it level by level, all trees at once.
"""

import random

import torch
from torch_geometric.data import Batch, Data

import memnets
from memnets.data import tree_from_nested

torch.manual_seed(0)
rng = random.Random(0)


def random_tree(depth: int):
    """Nested tuples: an internal node is a tuple of 2 or 3 subtrees, a leaf a digit."""
    if depth == 0 or rng.random() < 0.3:
        return rng.randrange(10)
    return tuple(random_tree(depth - 1) for _ in range(rng.choice((2, 3))))


def leaves(tree):
    return [tree] if isinstance(tree, int) else [x for child in tree for x in leaves(child)]


def example(tree) -> Data:
    built = tree_from_nested(tree)  # nodes in pre-order, root 0; internal nodes: token -1
    # keep the fields a batch needs: the edges, each child's slot, the tokens, the label
    return Data(edge_index=built.edge_index, child_slot=built.child_slot, token=built.token,
                num_nodes=built.num_nodes, y=torch.tensor(max(leaves(tree))))


# The same kind of tree from an edge list: edge_index is (2, E), child -> parent.
#        0            node 0 is the root; nodes 1 and 2 its children; 3 and 4 children of 2
#       / \
#      1   2
#         / \
#        3   4
by_hand = Data(
    edge_index=torch.tensor([[1, 2, 3, 4], [0, 0, 2, 2]]),
    child_slot=torch.tensor([0, 1, 0, 1]),  # per edge: the child's place among its siblings
    token=torch.tensor([-1, 7, -1, 2, 5]),
    num_nodes=5,
    y=torch.tensor(7),
)

train = [example(random_tree(3)) for _ in range(2000)] + [by_hand]
test = [example(random_tree(3)) for _ in range(500)]


class MaxDigit(torch.nn.Module):
    """Embed the leaves' digits, run the Tree-LSTM, classify each tree from its root."""

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.embed = torch.nn.Embedding(11, 16)  # 10 digits + "internal node"
        self.tree_lstm = memnets.ChildSumTreeLSTM(16, hidden)
        self.out = torch.nn.Linear(hidden, 10)

    def forward(self, batch) -> torch.Tensor:
        token = torch.where(batch.token < 0, torch.full_like(batch.token, 10), batch.token)
        # every node's state (V, H), and the roots' (h, c), one row per tree in batch order
        _, (h_root, _) = self.tree_lstm(self.embed(token), batch)
        return self.out(h_root)  # (number of trees, 10)


model = MaxDigit()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
for epoch in range(1, 4):
    rng.shuffle(train)
    for start in range(0, len(train), 50):
        batch = Batch.from_data_list(train[start : start + 50])
        loss = torch.nn.functional.cross_entropy(model(batch), batch.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        batch = Batch.from_data_list(test)
        accuracy = (model(batch).argmax(-1) == batch.y).float().mean().item()
    print(f"epoch {epoch}  loss {loss.item():.3f}  test accuracy {accuracy:.3f}")
