"""Tests of memnets.nn.models.trees: the TreeClassifier of the tree tasks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import memnets
from memnets.data.trees import LISTOPS_VOCAB, listops_batch
from memnets.nn.models.trees import TREE_CELLS, TreeClassifier


@pytest.mark.parametrize("cell, arity", [("childsum", None), ("nary", 5), ("recursive", None), ("gru", None)])
def test_tree_classifier_shapes_for_every_cell(cell, arity):
    batch = listops_batch(5, torch.Generator().manual_seed(0))
    model = TreeClassifier(len(LISTOPS_VOCAB), 10, cell=cell, hidden_size=8, embedding_size=4, arity=arity,
                           head_size=6)
    assert model(batch.tree.token, batch.tree).shape == (5, 10)
    assert set(TREE_CELLS) == {"childsum", "nary", "recursive", "gru"}


def test_tree_classifier_reads_the_root_states():
    """The readout of tree b is the head applied to the encoder's state of tree b's root."""
    torch.manual_seed(0)
    batch = listops_batch(4, torch.Generator().manual_seed(3))
    model = TreeClassifier(len(LISTOPS_VOCAB), 10, hidden_size=8, embedding_size=4)
    h, _ = model.encoder(model.embedding(batch.tree.token), batch.tree)
    torch.testing.assert_close(model(batch.tree.token, batch.tree), model.head(h[batch.tree.ptr[:-1]]))


def test_tree_classifier_rejects_bad_arguments_and_tokens():
    with pytest.raises(ValueError, match="cell"):
        TreeClassifier(14, 10, cell="lstm")
    with pytest.raises(ValueError, match="arity"):
        TreeClassifier(14, 10, cell="nary")
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        TreeClassifier(14, 10, hidden_size=0)
    with pytest.raises(TypeError, match="vocab_size should be of type int"):
        TreeClassifier(14.0, 10)
    model = TreeClassifier(14, 10, hidden_size=8, embedding_size=4)
    batch = listops_batch(2, torch.Generator().manual_seed(0))
    for bad in (14, -1):
        token = batch.tree.token.clone()
        token[0] = bad
        with pytest.raises(ValueError, match=r"token ids in \[0, vocab_size=14\)"):
            model(token, batch.tree)
    with pytest.raises(ValueError, match="integer token ids"):
        model(batch.tree.token.float(), batch.tree)


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


@pytest.mark.parametrize("readout", ["hidden", "cell", "both"])
def test_tree_classifier_readout_of_h_c_or_both(readout):
    torch.manual_seed(0)
    batch = listops_batch(4, torch.Generator().manual_seed(3))
    model = TreeClassifier(len(LISTOPS_VOCAB), 3, cell="nary", arity=5, hidden_size=8, embedding_size=4,
                           readout=readout)
    _, (h_root, c_root) = model.encoder(model.embedding(batch.tree.token), batch.tree)
    state = {"hidden": h_root, "cell": c_root, "both": torch.cat([h_root, c_root], 1)}[readout]
    torch.testing.assert_close(model(batch.tree.token, batch.tree), model.head(state))
    with pytest.raises(ValueError, match="needs a cell state"):
        TreeClassifier(14, 10, cell="gru", readout=readout if readout != "hidden" else "cell")
    with pytest.raises(ValueError, match="readout"):
        TreeClassifier(14, 10, readout="root")
