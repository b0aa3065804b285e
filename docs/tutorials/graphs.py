"""Train a gated graph neural network (GGNN) on graphs of your own.

Each example is a random directed graph with one marked node, the source; the task is
to tell, for every node, whether it can be reached from the source along the edges.
The graphs are torch_geometric `Data` objects built from plain tensors, batched by
torch_geometric's `Batch`; `memnets.GatedGraphConv` passes messages along the edges for
a fixed number of steps, and a linear layer classifies each node from its final state.
At the end, `memnets.GatedGraphReadout` turns the node states into one vector per graph.
"""

import random

import torch
from torch_geometric.data import Batch, Data

import memnets

torch.manual_seed(0)
rng = random.Random(0)
STEPS = 6  # message-passing steps: a node up to 6 edges away can be told apart


def random_graph() -> Data:
    num_nodes = rng.randint(5, 12)
    edges = [(u, v) for u in range(num_nodes) for v in range(num_nodes)
             if u != v and rng.random() < 0.15]
    source = rng.randrange(num_nodes)
    reached, frontier = {source}, [source]  # breadth-first search from the source
    for _ in range(STEPS):
        frontier = [v for u, v in edges if u in frontier and v not in reached]
        reached.update(frontier)
    x = torch.zeros(num_nodes, 1)
    x[source] = 1.0  # the annotation: 1 on the source, 0 elsewhere
    edge_index = torch.tensor(edges, dtype=torch.long).reshape(-1, 2).T  # (2, E): source -> target
    y = torch.tensor([float(v in reached) for v in range(num_nodes)])
    return Data(x=x, edge_index=edge_index, y=y)


train = [random_graph() for _ in range(1500)]
test = [random_graph() for _ in range(300)]


class Reachability(torch.nn.Module):
    def __init__(self, hidden: int = 16):
        super().__init__()
        # annotations are zero-padded to the state size (Li et al. 2016)
        self.ggnn = memnets.GatedGraphConv(hidden, num_layers=STEPS)
        self.out = torch.nn.Linear(hidden, 1)

    def forward(self, batch) -> torch.Tensor:
        h = self.ggnn(batch.x, batch.edge_index)  # (V, hidden): every node's final state
        return self.out(h).squeeze(-1), h  # a logit per node


model = Reachability()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
loss_fn = torch.nn.BCEWithLogitsLoss()
for epoch in range(1, 4):
    rng.shuffle(train)
    for start in range(0, len(train), 50):
        batch = Batch.from_data_list(train[start : start + 50])
        logits, _ = model(batch)
        loss = loss_fn(logits, batch.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        batch = Batch.from_data_list(test)
        logits, h = model(batch)
        accuracy = ((logits > 0).float() == batch.y).float().mean().item()
    print(f"epoch {epoch}  loss {loss.item():.3f}  node accuracy {accuracy:.3f}")

# One vector per graph: GGNN's gated readout over each graph's nodes (Li et al. 2016, eq. 7).
readout = memnets.GatedGraphReadout(hidden_channels=16, in_channels=1, out_channels=8)
with torch.no_grad():
    per_graph = readout(h, batch.x, batch.batch, num_graphs=batch.num_graphs)
print("graph vectors:", tuple(per_graph.shape))  # (number of graphs, 8)
