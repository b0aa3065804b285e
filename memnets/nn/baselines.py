"""Plain recurrent baselines that share the NTM's calling convention."""

from __future__ import annotations

from torch import Tensor, nn

from memnets._checks import check_shapes
from memnets.nn.registry import register_model
from memnets.nn.recurrent.rnn import LSTM

__all__ = ["LSTMBaseline"]


@register_model
class LSTMBaseline(nn.Module):
    r"""A stacked LSTM with a linear read-out at every step: the baseline of the NTM tasks.

    Graves, Wayne & Danihelka (2014), §4, compare the NTM with "a standard LSTM network"
    of three stacked layers; this is that network, built on `memnets.LSTM`:

    $$h^{(1..L)}_t = \mathrm{LSTM}(x_t, h^{(1..L)}_{t-1}), \qquad y_t = W_y h^{(L)}_t + b_y.$$

    It has the same ``forward(x, state=None) -> (logits, state)`` as `memnets.NTM`,
    so the task scripts swap one for the other with ``--model lstm``.

    Args:
        input_size: input channels.
        output_size: output channels (logits).
        hidden_size: units per LSTM layer.
        num_layers: stacked LSTM layers.
        batch_first: inputs and outputs are (B, T, ·) instead of (T, B, ·).

    Shapes:
        x: (T, B, input_size) -> logits (T, B, output_size); state: ``(h, c)``, each
        (num_layers, B, hidden_size).

    Examples:
        >>> model = LSTMBaseline(9, 8, hidden_size=32)
        >>> logits, state = model(torch.zeros(5, 2, 9))
    """

    def __init__(self, input_size: int, output_size: int, hidden_size: int = 256, num_layers: int = 3,
                 batch_first: bool = False):
        super().__init__()
        self.input_size, self.output_size = input_size, output_size
        self.lstm = LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=batch_first)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        check_shapes("LSTMBaseline", x=(x, "T B C"), C=self.input_size)
        hidden, state = self.lstm(x, state)
        return self.readout(hidden), state
