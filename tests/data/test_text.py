"""Tests of memnets.data.text: the shipped corpus and character batches."""

import pytest
import torch

from memnets.data.text import CharVocabulary, corpus_path, load_corpus, random_windows, split_text


def test_corpus_ships_with_the_package():
    text = load_corpus("tempest")
    assert corpus_path().exists()
    assert text.startswith("THE TEMPEST") and "Prospero" in text.title()
    assert 90_000 < len(text) < 110_000
    assert "gutenberg" not in text.lower()
    with pytest.raises(ValueError):
        load_corpus("hamlet")


def test_vocabulary_round_trip():
    text = load_corpus()
    vocab = CharVocabulary(text)
    ids = vocab.encode(text[:500])
    assert vocab.decode(ids) == text[:500]
    assert len(vocab) == len(set(text))
    with pytest.raises(ValueError):
        vocab.encode("\u00e9")


def test_split_and_random_windows():
    ids = torch.arange(1000)
    train, held = split_text(ids, 0.1)
    assert len(train) == 900 and len(held) == 100 and held[0] == 900
    x, y = random_windows(train, 4, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 4)
    torch.testing.assert_close(y[:-1], x[1:])
    torch.testing.assert_close(y[0], x[0] + 1)
    with pytest.raises(ValueError):
        random_windows(ids[:5], 2, 5)
