"""The model of the tree tasks: token embeddings, a tree encoder, a readout of the roots."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from memnets._checks import check_choice, check_positive_int, check_shapes
from memnets.nn.registry import register_model
from memnets.nn.trees import ChildSumTreeLSTM, NaryTreeLSTM, RecursiveNN, TreeGRU

__all__ = ["TREE_CELLS", "TREE_READOUTS", "TreeClassifier"]

#: Tree encoders that `TreeClassifier` can build, by name.
TREE_CELLS = ("childsum", "nary", "recursive", "gru")
#: Root states the readout of `TreeClassifier` can read: h, the LSTM cell c, or both.
TREE_READOUTS = ("hidden", "cell", "both")
#: The encoders with a cell state c.
_LSTM_CELLS = ("childsum", "nary")


@register_model
class TreeClassifier(nn.Module):
    r"""Token embeddings, a tree encoder, and a readout of each tree's root state.

    $$x_j = E[\text{token}_j], \qquad h = \text{Encoder}(x, \text{tree}), \qquad
      y_b = \text{MLP}(h_{\text{root}(b)})$$

    The model the tree tasks (ListOps, arithmetic) train; outputs are logits for
    classification or values for regression (``num_outputs=1``). For the Tree-LSTMs the
    readout may read the root's cell state instead, $y_b = \text{MLP}(c_{\text{root}(b)})$
    (``readout="cell"``), or both, $\text{MLP}([h; c])$: $h = o \odot \tanh(c)$ is
    bounded in $(-1, 1)$, $c$ is not, and a sum of children's cells passes through $c$
    linearly (forget gates at 1).

    Args:
        vocab_size: number of node tokens.
        num_outputs: classes (or 1 for a regression).
        cell: ``"childsum"`` (`ChildSumTreeLSTM`), ``"nary"``
            (`NaryTreeLSTM`), ``"recursive"`` (`RecursiveNN`) or ``"gru"``
            (`TreeGRU`).
        embedding_size: token embedding size F.
        hidden_size: the encoder's state size H.
        arity: N for ``"nary"`` (required) and ``"recursive"`` (``None``: child-sum).
        head_size: hidden units of the readout MLP (``None``: a linear readout).
        readout: the root state the readout reads: ``"hidden"`` (h), ``"cell"`` (c) or
            ``"both"`` ([h; c]); c only for ``"childsum"`` and ``"nary"``.

    Shapes:
        token: (V,) integer in ``[0, vocab_size)``; tree: V nodes, B roots -> (B, num_outputs).

    Examples:
        >>> import torch
        >>> model = TreeClassifier(14, 10, hidden_size=16)
        >>> edge_index = torch.tensor([[1, 2], [0, 0]])  # [MAX 3 7 ]
        >>> model(torch.tensor([10, 3, 7]), edge_index).shape
        torch.Size([1, 10])
    """

    def __init__(self, vocab_size: int, num_outputs: int, cell: str = "childsum", embedding_size: int = 64,
                 hidden_size: int = 128, arity: int | None = None, head_size: int | None = None,
                 readout: str = "hidden"):
        super().__init__()
        check_positive_int("TreeClassifier", vocab_size=vocab_size, num_outputs=num_outputs,
                           embedding_size=embedding_size, hidden_size=hidden_size)
        check_choice("TreeClassifier", "cell", cell, TREE_CELLS)
        if cell == "nary" and arity is None:
            raise ValueError("TreeClassifier: cell='nary' needs an arity, got None")
        if head_size is not None:
            check_positive_int("TreeClassifier", head_size=head_size)
        check_choice("TreeClassifier", "readout", readout, TREE_READOUTS)
        if readout != "hidden" and cell not in _LSTM_CELLS:
            raise ValueError(f"TreeClassifier: readout={readout!r} needs a cell state, one of the cells "
                             f"{_LSTM_CELLS}, got cell={cell!r}")
        self.vocab_size, self.cell, self.readout = vocab_size, cell, readout
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        if cell == "childsum":
            self.encoder: nn.Module = ChildSumTreeLSTM(embedding_size, hidden_size)
        elif cell == "nary":
            self.encoder = NaryTreeLSTM(embedding_size, hidden_size, arity=arity)
        elif cell == "recursive":
            self.encoder = RecursiveNN(embedding_size, hidden_size, arity=arity)
        else:
            self.encoder = TreeGRU(embedding_size, hidden_size)
        width = 2 * hidden_size if readout == "both" else hidden_size
        if head_size is None:
            self.head: nn.Module = nn.Linear(width, num_outputs)
        else:
            self.head = nn.Sequential(nn.Linear(width, head_size), nn.ReLU(), nn.Linear(head_size, num_outputs))

    def reset_parameters(self) -> None:
        """Redraw the embedding (normal), the encoder (uniform ±1/√H) and the readout (torch's)."""
        self.embedding.reset_parameters()
        self.encoder.reset_parameters()
        for layer in self.head.modules():
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def forward(self, token: Tensor, tree: Any) -> Tensor:
        """The outputs for each tree of the forest, in root order (ascending root id).

        Raises:
            ValueError: a token outside ``[0, vocab_size)`` (checked for CPU tensors; on
                an accelerator the check would synchronise, and the embedding's own
                device assertion fires instead), or a non-integer ``token``.
        """
        check_shapes("TreeClassifier", token=(token, "V"))
        if token.is_floating_point() or token.is_complex() or token.dtype == torch.bool:
            raise ValueError(f"TreeClassifier: expected integer token ids, got dtype {token.dtype}")
        if token.device.type == "cpu" and token.numel():
            low, high = int(token.min()), int(token.max())
            if low < 0 or high >= self.vocab_size:
                raise ValueError(f"TreeClassifier: expected token ids in [0, vocab_size={self.vocab_size}), "
                                 f"got values in [{low}, {high}]")
        _, roots = self.encoder(self.embedding(token), tree)
        if not isinstance(roots, tuple):
            return self.head(roots)
        h_root, c_root = roots
        state = {"hidden": h_root, "cell": c_root}.get(self.readout)
        return self.head(torch.cat([h_root, c_root], dim=1) if state is None else state)
