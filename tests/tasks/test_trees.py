"""Tests of the tree task scripts (tasks.listops, tasks.arithmetic) and their shared code."""

from __future__ import annotations

import json

import pytest
import torch

import memnets
from memnets.data.trees import LISTOPS_SEQUENCE_VOCAB, listops_batch
from memnets.nn.models.trees import TreeClassifier
from memnets.nn.recurrent import SequenceToVector
from memnets.nn.trees import tree_schedule
from tasks import arithmetic, listops
from tasks._trees import TreeTask, forest_slice, predict

_TINY = ["--hidden-size", "8", "--embedding-size", "4", "--steps", "4", "--batch-size", "8", "--eval-every", "2",
         "--eval-size", "16", "--test-size", "20", "--no-progress", "--no-plots", "--device", "cpu"]


def test_forest_slice_is_the_trees_of_the_slice():
    batch = listops_batch(6, torch.Generator().manual_seed(0))
    part = forest_slice(batch.tree, 2, 5)
    again = listops_batch(6, torch.Generator().manual_seed(0)).tree
    low, high = int(again.ptr[2]), int(again.ptr[5])
    assert part.num_nodes == high - low and torch.equal(part.token, again.token[low:high])
    s = tree_schedule(part.edge_index, part.num_nodes, part.child_slot)
    assert torch.equal(s.roots, part.ptr[:-1]) and part.batch.tolist() == sorted(part.batch.tolist())


def test_task_batches_carry_their_schedule_and_the_lstm_reads_the_strings():
    task = TreeTask(listops_batch, max_depth=4)
    batch = task.sample(5, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert batch.tree.schedule.num_nodes == batch.tree.num_nodes
    lstm = SequenceToVector(len(LISTOPS_SEQUENCE_VOCAB), 8, 10)
    out = predict(lstm, batch)
    assert out.shape == (5, 10)
    # the readout sees each string's last real token: more padding changes nothing
    padded = torch.cat([batch.sequence, torch.full((7, 5), LISTOPS_SEQUENCE_VOCAB.index("<pad>"))])
    batch.sequence = padded
    torch.testing.assert_close(predict(lstm, batch), out)


@pytest.mark.parametrize("script, extra", [(listops, ["--max-depth", "3"]), (arithmetic, ["--max-test-depth", "5"]),
                                           (listops, ["--model", "lstm", "--max-depth", "3"])])
def test_scripts_train_evaluate_and_write_metrics(tmp_path, script, extra):
    results = script.main(["--out", str(tmp_path)] + _TINY + extra)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["steps"] == 4 and set(written["evaluation"]) == set(results["evaluation"])
    for evaluation in written["evaluation"].values():
        assert evaluation["examples"] == 20 and sum(v["examples"] for v in evaluation["by_depth"].values()) == 20
    loaded = memnets.load(tmp_path / "model.pt")
    assert isinstance(loaded, SequenceToVector if "lstm" in extra else TreeClassifier)


@pytest.mark.parametrize("script, argv, message", [
    (listops, ["--max-args", "1"], "max_args"),
    (listops, ["--cell", "lstm"], "cell"),
    (listops, ["--cell", "nary", "--arity", "none"], "arity"),
    (listops, ["--subexpression-prob", "1.5"], "subexpression_prob"),
    (arithmetic, ["--min-depth", "5"], "min_depth <= max_depth"),
    (arithmetic, ["--value-scale", "0"], "value_scale"),
    (arithmetic, ["--hidden-size", "0"], "hidden_size"),
    (arithmetic, ["--steps", "-1"], "steps"),
    (listops, ["--lr", "0"], "lr"),
    (listops, ["--batch-size", "0"], "batch_size"),
    (listops, ["--readout", "cell", "--cell", "gru"], "cell state"),
])
def test_bad_options_exit_2_before_any_work(tmp_path, capsys, script, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--out", str(tmp_path / "run")] + argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_listops_tree_lstm_learns(tmp_path):
    """A short ListOps run (shallow expressions) through the task script: the Tree-LSTM
    learns well beyond the majority class (about 12 %) and its checkpoint reloads."""
    results = listops.main(["--out", str(tmp_path), "--steps", "600", "--max-depth", "4", "--hidden-size", "64",
                            "--eval-every", "300", "--eval-size", "500", "--test-size", "1000", "--no-progress",
                            "--no-plots", "--device", "cpu"])
    assert results["evaluation"]["test"]["accuracy"] > 0.5
    assert isinstance(memnets.load(tmp_path / "model.pt"), TreeClassifier)
