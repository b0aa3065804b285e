"""The graph task scripts: they run through the task harness, write the run files, report what the
model does (checked against an evaluation written here from scratch), validate their options, and
their checkpoints load with memnets.load. Learning runs are marked slow."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import torch
from torch_geometric.data import Batch

import memnets
from memnets.data.graphs import (
    bellman_ford_graph,
    bellman_ford_predecessors,
    bfs_graph,
    connectivity_graph,
    draw_seeds,
    graph_batch,
    shortest_path_graph,
    shortest_path_steps,
)
from tasks import _harness

TINY = ["--steps", "2", "--eval-every", "1", "--log-every", "1", "--no-progress", "--no-plots", "--device", "cpu"]


def _files(out):
    assert (out / "model.pt").exists() and (out / "metrics.jsonl").exists()
    return json.loads((out / "metrics.json").read_text())


def test_bfs_script_and_checkpoint(tmp_path):
    from tasks import bfs

    results = bfs.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                        "--test-sizes", "8", "12", "--n", "8", "--hidden-channels", "8", "--max-step-factor", "2"])
    assert set(results["evaluation"]) == {"n=8", "n=12"} and _files(tmp_path)["task"] == "bfs"
    model = memnets.load(tmp_path / "model.pt")
    assert type(model).__name__ == "GraphPointerNet" and not model.training
    batch = graph_batch(bfs_graph, 3, torch.Generator().manual_seed(0), n=8)
    assert model.predict(batch).shape == (24,)


def test_bellman_ford_script_reports_the_accuracy_of_its_checkpoint(tmp_path):
    """metrics.json's pointer accuracy equals one computed here graph by graph, on the same test
    graphs, against networkx's Bellman-Ford -- a wrong metric, seed, batching or ground truth fails."""
    from tasks import bellman_ford

    results = bellman_ford.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "5",
                                 "--test-sizes", "8", "--n", "8", "--hidden-channels", "8", "--reinject-inputs"])
    model = memnets.load(tmp_path / "model.pt")
    assert model.processor.node_attr_dim == 2
    right = nodes = whole = 0
    for seed in draw_seeds(_harness.evaluation_generator(0), 5):
        data = bellman_ford_graph(8, seed=seed)
        graph = nx.Graph()
        graph.add_nodes_from(range(8))
        for (u, v), (w, loop) in zip(data.edge_index.t().tolist(), data.edge_attr.tolist()):
            if not loop:
                graph.add_edge(u, v, weight=w)
        truth = torch.tensor(bellman_ford_predecessors(graph, int(data.source_index)))
        hits = model.predict(data) == truth
        right, nodes, whole = right + int(hits.sum()), nodes + 8, whole + int(hits.all())
    assert results["evaluation"]["n=8"]["accuracy"] == pytest.approx(right / nodes)
    assert results["evaluation"]["n=8"]["graph_accuracy"] == pytest.approx(whole / 5)
    assert _files(tmp_path)["evaluation"] == results["evaluation"]


def test_shortest_path_script(tmp_path):
    from tasks import shortest_path

    results = shortest_path.main(["--out", str(tmp_path), *TINY, "--train-graphs", "5", "--eval-graphs", "3",
                                  "--test-graphs", "3", "--hidden-channels", "8"])
    assert set(results["evaluation"]) == {"train", "test"}
    model = memnets.load(tmp_path / "model.pt")
    paths = shortest_path.decode_paths(model, [shortest_path_graph(seed=s) for s in range(4)], torch.device("cpu"))
    assert all(1 < len(p) <= 9 for p in paths)
    log_p = model(Batch.from_data_list(shortest_path_steps(shortest_path_graph(seed=0))))
    assert torch.isfinite(log_p).all()


def test_connectivity_script(tmp_path):
    from tasks import connectivity

    results = connectivity.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                                 "--test-sizes", "8", "--n", "8", "--hidden-channels", "8", "--readout", "gated"])
    assert set(results["evaluation"]) == {"n=8"}
    model = memnets.load(tmp_path / "model.pt")
    assert model(graph_batch(connectivity_graph, 2, torch.Generator().manual_seed(0), n=8)).shape == (2, 2)


def test_pointer_tasks_train_the_triplet_processor(tmp_path):
    from tasks import bellman_ford

    results = bellman_ford.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                                 "--test-sizes", "6", "--n", "6", "--hidden-channels", "8", "--processor", "triplet"])
    assert results["model"] == "GraphPointerNet/triplet"
    model = memnets.load(tmp_path / "model.pt")
    assert type(model.processor).__name__ == "TripletMPNNConv" and model.processor.edge_dim == 2


@pytest.mark.parametrize("script, argv, match", [
    ("bfs", ["--n", "0"], "n must be greater than zero"),
    ("bfs", ["--p", "2"], "p"),
    ("bfs", ["--processor", "gcn"], "processor"),
    ("bfs", ["--processor", "ggnn", "--update", "lstm"], "GRU update"),
    ("bfs", ["--hidden-channels", "1"], "hidden_channels"),
    ("bfs", ["--test-sizes", "16", "0"], "test_sizes"),
    ("bellman_ford", ["--processor", "ggnn"], "need processor 'mpnn' or 'triplet'"),
    ("bfs", ["--processor", "triplet", "--aggr", "add"], "aggregates by max"),
    ("connectivity", ["--readout", "attention"], "readout"),
    ("connectivity", ["--n", "1"], "n"),
    ("shortest_path", ["--train-graphs", "0"], "train_graphs"),
])
def test_bad_options_exit_2_with_one_line_before_any_work(tmp_path, capsys, script, argv, match):
    import importlib

    module = importlib.import_module(f"tasks.{script}")
    with pytest.raises(SystemExit) as stop:
        module.main(["--out", str(tmp_path / "run"), *TINY, *argv])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err
    assert not (tmp_path / "run").exists()  # nothing was trained or written


@pytest.mark.slow
def test_bfs_learns(tmp_path):
    from tasks import bfs

    torch.set_num_threads(1)
    results = bfs.main(["--out", str(tmp_path), "--steps", "400", "--no-progress", "--no-plots", "--device", "cpu",
                        "--test-graphs", "64", "--test-sizes", "16"])
    assert results["evaluation"]["n=16"]["accuracy"] > 0.97


@pytest.mark.slow
def test_connectivity_learns_and_generalises(tmp_path):
    from tasks import connectivity

    torch.set_num_threads(1)
    results = connectivity.main(["--out", str(tmp_path), "--steps", "300", "--no-progress", "--no-plots",
                                 "--device", "cpu", "--test-graphs", "128", "--test-sizes", "16", "32"])
    assert results["evaluation"]["n=16"]["accuracy"] > 0.95 and results["evaluation"]["n=32"]["accuracy"] > 0.9


@pytest.mark.slow
def test_shortest_path_learns(tmp_path):
    from tasks import shortest_path

    torch.set_num_threads(1)
    results = shortest_path.main(["--out", str(tmp_path), "--no-progress", "--no-plots", "--device", "cpu",
                                  "--test-graphs", "200"])
    assert results["evaluation"]["train"]["path_accuracy"] == 1.0
    assert results["evaluation"]["test"]["path_accuracy"] > 0.85
