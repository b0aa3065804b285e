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
    dfs_graph,
    dijkstra_graph,
    draw_seeds,
    graph_batch,
    shortest_path_graph,
    shortest_path_steps,
)
from tasks import _harness
from tests.tasks.test_cli import assert_usage_errors

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
    for positions, suffix in (("random", ""), ("linear", "_linear")):
        right = nodes = whole = 0
        for seed in draw_seeds(_harness.evaluation_generator(0), 5):
            data = bellman_ford_graph(8, seed=seed, positions=positions)
            if positions == "linear":  # CLRS's encoding: node i at i / n
                assert data.x[:, -1].tolist() == pytest.approx([i / 8 for i in range(8)])
            graph = nx.Graph()
            graph.add_nodes_from(range(8))
            for (u, v), (w, loop) in zip(data.edge_index.t().tolist(), data.edge_attr.tolist()):
                if not loop:
                    graph.add_edge(u, v, weight=w)
            truth = torch.tensor(bellman_ford_predecessors(graph, int(data.source_index)))
            hits = model.predict(data) == truth
            right, nodes, whole = right + int(hits.sum()), nodes + 8, whole + int(hits.all())
        assert results["evaluation"]["n=8"][f"accuracy{suffix}"] == pytest.approx(right / nodes)
        assert results["evaluation"]["n=8"][f"graph_accuracy{suffix}"] == pytest.approx(whole / 5)
    assert _files(tmp_path)["evaluation"] == results["evaluation"]


def _weighted_graph(data) -> nx.Graph:
    """The networkx graph of a weighted pointer example (its edges without the self-loops)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(data.num_nodes))
    for (u, v), (w, loop) in zip(data.edge_index.t().tolist(), data.edge_attr.tolist()):
        if not loop:
            graph.add_edge(u, v, weight=w)
    return graph


def _networkx_dijkstra_parents(data) -> torch.Tensor:
    """Each node's predecessor from networkx's Dijkstra (the source and unreached nodes: themselves)."""
    source = int(data.source_index)
    predecessors, _ = nx.dijkstra_predecessor_and_distance(_weighted_graph(data), source)
    parents = list(range(data.num_nodes))
    for node, options in predecessors.items():
        if options:
            assert len(options) == 1  # continuous weights: one shortest-path predecessor
            parents[node] = options[0]
    return torch.tensor(parents)


def _networkx_dfs_parents(data) -> torch.Tensor:
    """Each node's parent in networkx's depth-first forest, explored in index order (networkx
    takes roots and successors in insertion order: nodes and edges are inserted sorted)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(data.num_nodes))
    graph.add_edges_from(sorted((u, v) for u, v in data.edge_index.t().tolist() if u != v))
    parents = list(range(data.num_nodes))
    for node, parent in nx.dfs_predecessors(graph).items():
        parents[node] = parent
    return torch.tensor(parents)


@pytest.mark.parametrize("script, make_graph, truth, extra, processor, edge_dim", [
    ("dijkstra", dijkstra_graph, _networkx_dijkstra_parents, [], "MPNNConv", 2),  # weight, self-loop mark
    ("dfs", dfs_graph, _networkx_dfs_parents, [], "MPNNConv", 1),  # self-loop mark
    ("dfs", dfs_graph, _networkx_dfs_parents, ["--processor", "ggnn"], "GatedGraphConv", 0),
])
def test_dijkstra_and_dfs_scripts_report_the_accuracy_of_their_checkpoint(tmp_path, script, make_graph, truth,
                                                                          extra, processor, edge_dim):
    """metrics.json's pointer and whole-graph accuracy equal those computed here graph by graph,
    on the same test graphs (the generators' default densities: DFS's directed p = 0.5), against
    networkx's Dijkstra / depth-first search -- a wrong metric, density, batching or ground truth fails."""
    import importlib

    module = importlib.import_module(f"tasks.{script}")
    results = module.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "5",
                           "--test-sizes", "7", "9", "--n", "7", "--hidden-channels", "8", *extra])
    saved = _files(tmp_path)
    assert saved["task"] == script and saved["evaluation"] == results["evaluation"]
    assert set(results["evaluation"]) == {"n=7", "n=9"}
    model = memnets.load(tmp_path / "model.pt")
    assert type(model).__name__ == "GraphPointerNet" and not model.training
    assert type(model.processor).__name__ == processor and model.edge_dim == edge_dim
    for index, n in enumerate((7, 9)):
        right = whole = 0
        for seed in draw_seeds(_harness.evaluation_generator(index), 5):
            data = make_graph(n, seed=seed)
            hits = model.predict(data) == truth(data)
            right, whole = right + int(hits.sum()), whole + int(hits.all())
        assert results["evaluation"][f"n={n}"]["accuracy"] == pytest.approx(right / (5 * n))
        assert results["evaluation"][f"n={n}"]["graph_accuracy"] == pytest.approx(whole / 5)


def test_dijkstra_and_dfs_bad_options_are_one_line_and_exit_status_2(tmp_path):
    out = str(tmp_path / "out")
    cases = [
        ("tasks.dijkstra", ["--processor", "ggnn"], "the edge weights need processor 'mpnn' or 'triplet', got 'ggnn'"),
        ("tasks.dijkstra", ["--n", "0"], "n must be greater than zero, got 0"),
        ("tasks.dijkstra", ["--processor", "triplet", "--aggr", "add"], "aggregates by max"),
        ("tasks.dijkstra", ["--max-step-factor", "0.5"], "expected max_step_factor in [1.0, inf], got 0.5"),
        ("tasks.dfs", ["--p", "1.5"], "expected p in [0.0, 1.0], got 1.5"),
        ("tasks.dfs", ["--processor", "ggnn", "--update", "lstm"], "GRU update"),
        ("tasks.dfs", ["--test-sizes", "16", "0"], "test_sizes[1] must be greater than zero, got 0"),
        ("tasks.dfs", ["--processor", "gcn"], "expected processor to be one of"),
    ]
    assert_usage_errors(tmp_path, [(module, ["--out", out, *argv], message) for module, argv, message in cases])


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


@pytest.mark.parametrize("make_graph, directed", [(bfs_graph, False), (dfs_graph, True)])
def test_training_mixture_draws_clrs_sizes_and_densities(make_graph, directed):
    """--train-mixture: one CLRS size per batch, one edge draw q per graph, an undirected edge
    kept with probability q² (both directions drawn, as CLRS's sampler) and a directed one q."""
    from tasks._graphs import CLRS_TRAIN_Q, CLRS_TRAIN_SIZES, PointerTask

    task = PointerTask(make_graph, 16, 0.25, 4, (16, 32), mixture=True, directed=directed)
    generator = torch.Generator().manual_seed(0)
    sizes, densities = set(), []
    for _ in range(60):
        batch = task.sample(16, generator, torch.device("cpu"))
        n = int(batch.ptr[1])
        assert set(torch.diff(batch.ptr).tolist()) == {n} and 16 <= batch.train_steps <= 32
        sizes.add(n)
        if n >= 11:
            for data in batch.to_data_list():
                edges = int((data.edge_attr[:, -1] == 0).sum())  # without the self-loops
                densities.append(edges / (n * (n - 1)))
    assert sizes == set(CLRS_TRAIN_SIZES)
    expected = sum(q if directed else q * q for q in CLRS_TRAIN_Q) / len(CLRS_TRAIN_Q)
    assert sum(densities) / len(densities) == pytest.approx(expected, abs=0.03)
    assert max(densities) - min(densities) > 0.4  # per-graph probabilities, not one per batch
    again = PointerTask(make_graph, 16, 0.25, 4, (16, 32), mixture=True, directed=directed)
    first = again.sample(16, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(first.edge_index, PointerTask(make_graph, 16, 0.25, 4, (16, 32), mixture=True,
                                                     directed=directed).sample(
        16, torch.Generator().manual_seed(0), torch.device("cpu")).edge_index)


def test_bfs_script_trains_on_the_mixture(tmp_path):
    from tasks import bfs

    results = bfs.main(["--out", str(tmp_path), *TINY, "--eval-graphs", "2", "--test-graphs", "2",
                        "--test-sizes", "8", "--n", "8", "--hidden-channels", "8", "--train-mixture"])
    assert _files(tmp_path)["evaluation"] == results["evaluation"]
    assert set(results["evaluation"]["n=8"]) >= {"accuracy", "graph_accuracy", "accuracy_linear"}
