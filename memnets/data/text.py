r"""A small public-domain text shipped with the package, and character-level batches of it.

The corpus is William Shakespeare's *The Tempest* (first printed in the First Folio,
1623; public domain). The file ``corpus/tempest.txt`` is the modern-spelling text as
distributed in the Open Shakespeare package of the Open Knowledge Foundation (2008), which
took only Project Gutenberg texts stated to be in the public domain and removed the
Project Gutenberg headers; it is shipped unchanged (98,439 ASCII characters). See
``docs/classic.md`` for the source and licence notes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

__all__ = ["CORPORA", "corpus_path", "load_corpus", "CharVocabulary", "split_text", "random_windows"]

#: Corpora shipped in ``memnets/data/corpus``: name -> file name.
CORPORA = {"tempest": "tempest.txt"}
_CORPUS_DIR = Path(__file__).resolve().parent / "corpus"


def corpus_path(name: str = "tempest") -> Path:
    """The path of a shipped corpus."""
    if name not in CORPORA:
        raise ValueError(f"corpus_path: expected a corpus in {sorted(CORPORA)}, got {name!r}")
    return _CORPUS_DIR / CORPORA[name]


def load_corpus(name: str = "tempest") -> str:
    """The text of a shipped corpus.

    Examples:
        >>> text = load_corpus()
        >>> text[:11]
        'THE TEMPEST'
    """
    return corpus_path(name).read_text(encoding="ascii")


class CharVocabulary:
    """The sorted set of characters of a text, with encoding to and from integer ids.

    Args:
        text: the text whose characters make the vocabulary.

    Examples:
        >>> vocab = CharVocabulary("abca")
        >>> vocab.encode("cab").tolist(), vocab.decode(torch.tensor([0, 2]))
        ([2, 0, 1], 'ac')
    """

    def __init__(self, text: str):
        if not text:
            raise ValueError("CharVocabulary: expected a non-empty text, got ''")
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """Characters -> ids (int64)."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"CharVocabulary.encode: characters outside the vocabulary: {unknown!r}")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: Tensor) -> str:
        """ids -> characters."""
        return "".join(self.chars[i] for i in ids.tolist())


def split_text(ids: Tensor, held_out: float = 0.1) -> tuple[Tensor, Tensor]:
    """Split a text into a training part and the held-out tail.

    Args:
        ids: the encoded text (N,).
        held_out: the fraction kept for evaluation, taken from the end.

    Returns:
        ``(train, held_out)``.
    """
    if ids.dim() != 1:
        raise ValueError(f"split_text: expected ids of shape (N,), got {tuple(ids.shape)}")
    if not 0 < held_out < 1:
        raise ValueError(f"split_text: expected 0 < held_out < 1, got {held_out!r}")
    cut = int(round(len(ids) * (1 - held_out)))
    return ids[:cut], ids[cut:]


def random_windows(ids: Tensor, batch_size: int, length: int, generator: torch.Generator | None = None
                   ) -> tuple[Tensor, Tensor]:
    """Random windows of a text: inputs and the next characters (teacher forcing).

    Args:
        ids: the encoded text (N,), N > length.
        batch_size: windows B.
        length: characters per window T.
        generator: the random generator.

    Returns:
        ``(inputs, targets)`` with ``targets[t] = inputs[t + 1]`` along the text.

    Shapes:
        -> inputs (T, B), targets (T, B), int64.
    """
    if ids.dim() != 1 or len(ids) <= length:
        raise ValueError(f"random_windows: expected ids of shape (N,) with N > length = {length}, "
                         f"got {tuple(ids.shape)}")
    starts = torch.randint(0, len(ids) - length, (batch_size,), generator=generator)
    index = starts[None, :] + torch.arange(length + 1)[:, None]
    window = ids[index]
    return window[:-1], window[1:]
