"""scripts/clrs_eval.py: CLRS graphs rebuilt as memnets encodes its own, a checkpoint scored on
them as the task scripts score theirs, and one-line errors for bad input.

dm-clrs is not installed here (it brings jax and tensorflow): the exported file is written
by hand from memnets' own generators with CLRS's layout, so every figure has a known value.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

import memnets
from memnets.data.graphs import bellman_ford_graph, bfs_graph, dfs_graph

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("clrs_eval", ROOT / "scripts" / "clrs_eval.py")
clrs_eval = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clrs_eval)


def _clrs_file(path: Path, algorithm: str, examples: list, flip: int = 0) -> None:
    """Examples of a memnets generator written in the layout `export` writes (A, s, pos, pi);
    ``flip`` labels are set wrong on purpose, so that `labels` must see them."""
    A, s, pos, pi, sizes = [], [], [], [], []
    for k, data in enumerate(examples):
        n = data.num_nodes
        matrix = np.zeros((n, n))
        for (u, v), attr in zip(data.edge_index.t().tolist(), data.edge_attr.tolist()):
            if u != v:
                matrix[u, v] = attr[0] if len(attr) == 2 else 1.0
        matrix[np.arange(n), np.arange(n)] = 1.0 if algorithm == "bfs" else 0.0  # CLRS keeps self-loops
        labels = data.predecessor_index.clone()
        if k < flip:
            labels[0] = (labels[0] + 1) % n
        A.append(matrix.reshape(-1))
        pos.append(np.arange(n) / n)
        pi.append(labels.numpy())
        sizes.append(n)
        if algorithm != "dfs":
            s.append(data.x[:, 0].numpy())
    arrays = {"algorithm": np.array(algorithm), "num_nodes": np.array(sizes), "A": np.concatenate(A),
              "pos": np.concatenate(pos), "pi": np.concatenate(pi)}
    if s:
        arrays["s"] = np.concatenate(s)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.fixture(scope="module")
def bfs_checkpoint(tmp_path_factory):
    from tasks import bfs

    out = tmp_path_factory.mktemp("bfs")
    bfs.main(["--out", str(out), "--steps", "3", "--n", "8", "--hidden-channels", "8", "--eval-graphs", "2",
              "--test-graphs", "2", "--test-sizes", "8", "--no-progress", "--no-plots", "--device", "cpu"])
    return out / "model.pt"


def test_evaluate_scores_the_checkpoint_as_on_its_own_graphs(tmp_path, bfs_checkpoint):
    examples = [bfs_graph(n, seed=seed, positions="linear") for seed, n in enumerate([8, 8, 9, 12, 1])]
    _clrs_file(tmp_path / "bfs.npz", "bfs", examples, flip=2)
    result = clrs_eval.main(["evaluate", str(bfs_checkpoint), str(tmp_path / "bfs.npz"),
                             "--json", str(tmp_path / "out.json")])
    model = memnets.load(bfs_checkpoint)
    flipped = [data.clone() for data in examples]
    for data in flipped[:2]:  # the two flipped labels, as _clrs_file flips them
        data.predecessor_index[0] = (data.predecessor_index[0] + 1) % data.num_nodes
    batch = Batch.from_data_list(flipped)
    hits = model.predict(batch) == batch.predecessor_index
    per_graph = torch.zeros(5).index_add_(0, batch.batch, (~hits).float())
    assert result["labels"] == pytest.approx(1 - 2 / 38)  # memnets' BFS differs exactly where pi was flipped
    assert result["accuracy"] == pytest.approx(float(hits.float().mean()))
    assert result["graph_accuracy"] == pytest.approx(float((per_graph == 0).float().mean()))
    assert result["graphs"] == 5 and result["nodes"] == [1, 8, 9, 12]
    assert json.loads((tmp_path / "out.json").read_text()) == result


@pytest.mark.parametrize("make, algorithm", [(bellman_ford_graph, "bellman_ford"), (dfs_graph, "dfs")])
def test_graphs_come_back_as_memnets_builds_them(tmp_path, make, algorithm):
    """Weights, edge directions, self-loops and positions survive the round trip: the rebuilt
    example equals the generator's (positions="linear"), and memnets' labels equal pi."""
    examples = [make(10, seed=seed, positions="linear") for seed in range(4)]
    _clrs_file(tmp_path / "g.npz", algorithm, examples)
    name, graphs = clrs_eval.load_graphs(tmp_path / "g.npz")
    assert name == algorithm
    for original, graph in zip(examples, graphs):
        data, ours = clrs_eval.to_data(algorithm, graph)
        assert ours == original.predecessor_index.tolist()
        assert torch.equal(data.x, original.x)
        key = lambda d: sorted(zip(d.edge_index.t().tolist(), d.edge_attr.tolist()))  # noqa: E731
        assert key(data) == key(original)
    directed = clrs_eval.to_networkx("dfs", np.array([[0, 1], [0, 0]]))
    assert isinstance(directed, nx.DiGraph) and list(directed.edges) == [(0, 1)]


def _error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        clrs_eval.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("clrs_eval.py: error:")
    return err


def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys, bfs_checkpoint):
    data = tmp_path / "bfs.npz"
    _clrs_file(data, "bfs", [bfs_graph(8, seed=0, positions="linear")])
    assert "does not exist" in _error(capsys, ["evaluate", str(bfs_checkpoint), str(tmp_path / "none.npz")])
    assert "checkpoint" in _error(capsys, ["evaluate", str(tmp_path / "none.pt"), str(data)])
    with open(tmp_path / "other.npz", "wb") as handle:
        np.savez(handle, x=np.zeros(3))
    assert "lacks" in _error(capsys, ["evaluate", str(bfs_checkpoint), str(tmp_path / "other.npz")])
    weighted = tmp_path / "bf.npz"
    _clrs_file(weighted, "bellman_ford", [bellman_ford_graph(8, seed=0, positions="linear")])
    assert "does not take bellman_ford's graphs" in _error(capsys, ["evaluate", str(bfs_checkpoint), str(weighted)])
    (tmp_path / "taken.json").write_text("{}")
    assert "exists; pass --force" in _error(capsys, ["evaluate", str(bfs_checkpoint), str(data),
                                                     "--json", str(tmp_path / "taken.json")])
    assert (tmp_path / "taken.json").read_text() == "{}"  # nothing a user made is overwritten
    assert "--num-samples >= 1" in _error(capsys, ["export", "--algorithm", "bfs", "--num-samples", "0",
                                                   "--out", str(tmp_path / "x.npz")])


def test_export_without_dm_clrs_says_how_to_install_it(tmp_path, capsys):
    if importlib.util.find_spec("clrs") is not None:
        pytest.skip("dm-clrs is installed here")
    assert "pip install dm-clrs" in _error(capsys, ["export", "--algorithm", "bfs", "--out", str(tmp_path / "x.npz")])
    assert not (tmp_path / "x.npz").exists()
