"""Swap `torch.nn.LSTM` for `memnets.LSTM`, then change the LSTM itself.

1. A model written for `torch.nn.LSTM` takes `memnets.LSTM` unchanged: same arguments,
   same parameter names, the same outputs; state dicts load both ways.
2. `variant=` selects another update of the gated core: here the coupled LSTM
   (no input gate, i = 1 - f; Greff et al. 2017), trained on the adding problem.
3. A variant of your own: a cell that computes its pre-activations as it likes (here with
   layer normalisation) and calls the library's one LSTM update,
   `memnets.functional.lstm_update`.
"""

import torch

import memnets
from memnets.data import ADDING_BASELINE_MSE, adding_problem
from memnets.functional import lstm_update

torch.manual_seed(0)


class Regressor(torch.nn.Module):
    """An LSTM over the sequence, a linear layer on its last output."""

    def __init__(self, rnn: torch.nn.Module, hidden: int):
        super().__init__()
        self.rnn, self.out = rnn, torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x)  # (T, B, H)
        return self.out(output[-1])


# 1. the drop-in: same weights, same outputs
reference = torch.nn.LSTM(2, 32)
ours = memnets.LSTM(2, 32)
ours.load_state_dict(reference.state_dict())
x, y = adding_problem(4, 20, generator=torch.Generator().manual_seed(0))
assert torch.allclose(ours(x)[0], reference(x)[0], atol=1e-6)
print("memnets.LSTM == torch.nn.LSTM on the same weights")


# 3. a variant of your own: layer-normalised pre-activations, the library's update
class LayerNormLSTMCell(torch.nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = torch.nn.Linear(input_size, 4 * hidden_size)
        self.hh = torch.nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        self.norm_ih = torch.nn.LayerNorm(4 * hidden_size)
        self.norm_hh = torch.nn.LayerNorm(4 * hidden_size)

    def forward(self, x_t, state):
        h, c = state
        gates = self.norm_ih(self.ih(x_t)) + self.norm_hh(self.hh(h))  # (B, 4H): i, f, g, o
        return lstm_update(gates, c)  # (h, c), the same update every family uses


class LayerNormLSTM(torch.nn.Module):
    """The cell over a sequence, returning (output, (h_n, c_n)) like torch.nn.LSTM."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.cell = LayerNormLSTMCell(input_size, hidden_size)

    def forward(self, x):
        h = c = x.new_zeros(x.size(1), self.cell.hidden_size)
        outputs = []
        for x_t in x:
            h, c = self.cell(x_t, (h, c))
            outputs.append(h)
        return torch.stack(outputs), (h[None], c[None])


def train(rnn: torch.nn.Module, steps: int = 300) -> float:
    model = Regressor(rnn, 32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = adding_problem(32, 20, generator=generator)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        x, y = adding_problem(500, 20, generator=torch.Generator().manual_seed(2))
        return torch.nn.functional.mse_loss(model(x), y).item()


# 2. a built-in variant, and 3. the custom one, on the adding problem (T = 20)
print(f"always answering 1: test MSE {ADDING_BASELINE_MSE:.3f}")
for name, rnn in [
    ("memnets.LSTM (vanilla)", memnets.LSTM(2, 32)),
    ("memnets.LSTM (coupled)", memnets.LSTM(2, 32, variant="coupled")),
    ("layer-normalised LSTM", LayerNormLSTM(2, 32)),
]:
    print(f"{name:24s} test MSE {train(rnn):.4f}")
