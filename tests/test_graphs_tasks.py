"""The graph task scripts: they run through the shared loop, write the run files, and their
checkpoints load with memnets.load. Learning runs are marked slow."""

from __future__ import annotations

import json

import pytest
import torch
from torch_geometric.data import Batch

import memnets
from memnets.data.graphs import bfs_graph, connectivity_graph, graph_batch, shortest_path_graph, shortest_path_steps

TINY = ["--steps", "2", "--eval-every", "1", "--log-every", "1", "--no-progress", "--no-plots", "--device", "cpu"]


def _files(out):
    assert (out / "model.pt").exists() and (out / "metrics.jsonl").exists()
    return json.loads((out / "metrics.json").read_text())


def test_bfs_script_and_checkpoint(tmp_path):
    from tasks import bfs

    results = bfs.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                        "--test-sizes", "8", "12", "--n", "8", "--hidden-channels", "8", "--max-step-factor", "2"])
    assert set(results["test"]) == {"n=8", "n=12"} and _files(tmp_path)["task"] == "bfs"
    model = memnets.load(tmp_path / "model.pt")
    assert type(model).__name__ == "GraphPointerNet" and not model.training
    batch = graph_batch(bfs_graph, 3, torch.Generator().manual_seed(0), n=8)
    assert model.predict(batch).shape == (24,)


def test_bellman_ford_script(tmp_path):
    from tasks import bellman_ford

    results = bellman_ford.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                                 "--test-sizes", "8", "--n", "8", "--hidden-channels", "8", "--reinject-inputs"])
    assert 0.0 <= results["test"]["n=8"]["accuracy"] <= 1.0
    assert memnets.load(tmp_path / "model.pt").processor.node_attr_dim == 2


def test_shortest_path_script(tmp_path):
    from tasks import shortest_path

    results = shortest_path.main(["--out", str(tmp_path), *TINY, "--train-graphs", "5", "--eval-graphs", "3",
                                  "--test-graphs", "3", "--hidden-channels", "8"])
    assert set(results) >= {"train", "test"}
    model = memnets.load(tmp_path / "model.pt")
    paths = shortest_path.decode_paths(model, [shortest_path_graph(seed=s) for s in range(4)], torch.device("cpu"))
    assert all(1 < len(p) <= 9 for p in paths)
    log_p = model(Batch.from_data_list(shortest_path_steps(shortest_path_graph(seed=0))))
    assert torch.isfinite(log_p).all()


def test_connectivity_script(tmp_path):
    from tasks import connectivity

    results = connectivity.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                                 "--test-sizes", "8", "--n", "8", "--hidden-channels", "8", "--readout", "gated"])
    assert set(results["test"]) == {"n=8"}
    model = memnets.load(tmp_path / "model.pt")
    assert model(graph_batch(connectivity_graph, 2, torch.Generator().manual_seed(0), n=8)).shape == (2, 2)


@pytest.mark.slow
def test_bfs_learns(tmp_path):
    from tasks import bfs

    torch.set_num_threads(1)
    results = bfs.main(["--out", str(tmp_path), "--steps", "400", "--no-progress", "--no-plots", "--device", "cpu",
                        "--test-graphs", "64", "--test-sizes", "16"])
    assert results["test"]["n=16"]["accuracy"] > 0.97


@pytest.mark.slow
def test_connectivity_learns_and_generalises(tmp_path):
    from tasks import connectivity

    torch.set_num_threads(1)
    results = connectivity.main(["--out", str(tmp_path), "--steps", "300", "--no-progress", "--no-plots",
                                 "--device", "cpu", "--test-graphs", "128", "--test-sizes", "16", "32"])
    assert results["test"]["n=16"]["accuracy"] > 0.95 and results["test"]["n=32"]["accuracy"] > 0.9


@pytest.mark.slow
def test_shortest_path_learns(tmp_path):
    from tasks import shortest_path

    torch.set_num_threads(1)
    results = shortest_path.main(["--out", str(tmp_path), "--no-progress", "--no-plots", "--device", "cpu",
                                  "--test-graphs", "200"])
    assert results["train"]["path_accuracy"] == 1.0 and results["test"]["path_accuracy"] > 0.85
