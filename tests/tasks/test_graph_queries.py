"""The graph-query script: every model runs end to end and writes metrics.json; the evaluations
score oracles (written here from networkx) perfectly and meet the same queries; metrics.json
agrees with a recount from the checkpoint; the baseline learns traversal; bad options are
usage errors."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import torch
from torch import nn

import memnets
from memnets.data.graph_queries import decode_triples, encode_queries, query_channels, traversal_batch, traversal_queries
from tasks import _harness
from tasks import graph_queries as script
from tests.tasks.test_cli import assert_usage_errors

_TINY = ["--no-compile", "--controller-size", "16", "--memory-size", "16", "--word-size", "8", "--no-progress",
         "--eval-sequences", "8", "--final-sequences", "8", "--device", "cpu", "--batch-size", "4", "--steps", "2",
         "--eval-every", "2", "--lstm-hidden-size", "16", "--lstm-layers", "1", "--gnn-hidden", "8",
         "--gnn-steps", "2", "--test-nodes", "12", "--test-hops", "5"]

_WORD = query_channels()[1]


@pytest.mark.parametrize("model, query", [("dnc", "traversal"), ("dnc", "shortest_path"), ("ntm", "shortest_path"),
                                          ("lstm", "traversal"), ("gnn", "traversal"), ("gnn", "shortest_path")])
def test_every_model_runs_and_writes_metrics_json(tmp_path, model, query):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    plots = ["--plots"] if model == "dnc" and query == "traversal" else ["--no-plots"]
    results = script.main(["--out", str(out), "--model", model, "--query", query, *_TINY, *plots])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == results and saved["task"] == "graph_queries" and saved["query"] == query
    assert saved["steps"] == 2 and saved["examples"] == 8
    expected = ["train", "n=12"] + (["hops=5"] if query == "traversal" else [])
    assert list(results["evaluation"]) == expected  # metrics.json sorts its keys
    keys = {"exact", "step_accuracy"} | (set() if model == "gnn" else {"wrong_bits", "bits"})
    for metrics in saved["evaluation"].values():
        assert set(metrics) == keys and 0 <= metrics["exact"] <= 1 and 0 <= metrics["step_accuracy"] <= 1
    name = {"dnc": "DNC", "ntm": "NTM", "lstm": "SequenceToSequence", "gnn": "NodeSelectionGGNN"}[model]
    assert saved["model"] == name and type(memnets.load(out / "model.pt")).__name__ == name
    if plots == ["--plots"]:
        assert (out / "sequence.png").stat().st_size > 0 and (out / "learning_curve.png").stat().st_size > 0


# ---------------------------------------------------------------------------------------
# oracles: they answer from what each model is shown, with networkx


def _number(bits) -> int:
    return sum(int(b > 0.5) << j for j, b in enumerate(bits))


class _SequenceOracle(nn.Module):
    """Reads the triples and the query from the inputs, answers with networkx; wrong on purpose
    (all answer bits flipped) for graphs whose edge count is a multiple of ``spoil`` (0: never)."""

    def __init__(self, spoil: int = 0) -> None:
        super().__init__()
        self.spoil = spoil

    def forward(self, inputs):
        T, B, _ = inputs.shape
        logits = -torch.ones(T, B, _WORD)
        for b in range(B):
            rows = inputs[:, b].tolist()
            fields = [(_number(r[:6]), _number(r[6:9]) - 1, _number(r[9:15])) for r in rows]
            graph = nx.DiGraph()
            edges = [f for f, r in zip(fields, rows) if r[15] == 1]
            graph.add_edges_from((u, v, {"label": label}) for u, label, v in edges)
            asked = [f for f, r in zip(fields, rows) if r[16] == 1]
            if asked[0][2]:  # an end node: shortest path
                path = nx.shortest_path(graph, asked[0][0], asked[0][2])
            else:
                path = [asked[0][0]]
                for _, label, _ in asked:
                    path += [v for _, v, d in graph.out_edges(path[-1], data=True) if d["label"] == label]
            steps = [t for t, r in enumerate(rows) if r[17] == 1]
            for t, u, v in zip(steps, path, path[1:]):
                word = [u >> j & 1 for j in range(6)] + [(graph.edges[u, v]["label"] + 1) >> j & 1 for j in range(3)]
                word += [v >> j & 1 for j in range(6)]
                sign = -1.0 if self.spoil and len(edges) % self.spoil == 0 else 1.0
                logits[t, b] = sign * (torch.tensor(word, dtype=torch.float32) * 2 - 1)
        return logits, None


class _GraphOracle(nn.Module):
    """Selects the true next node from the annotations and the typed edges alone; the lowest
    node instead for graphs whose edge count is a multiple of ``spoil`` (0: never)."""

    def __init__(self, spoil: int = 0) -> None:
        super().__init__()
        self.spoil = spoil

    def predict(self, batch):
        chosen = []
        for i in range(batch.num_graphs):
            graph = batch.get_example(i)
            x = graph.x
            g = nx.DiGraph()
            g.add_nodes_from(range(graph.num_nodes))
            g.add_edges_from((u, v, {"label": t}) for (u, v), t in zip(graph.edge_index.t().tolist(),
                                                                       graph.edge_type.tolist()))
            # (after a spoilt step the query may have no answer from where it is: then stay)
            if x.shape[1] == 4:  # shortest path: start, end, emitted, current
                current, end = int(x[:, 3].argmax()), int(x[:, 1].argmax())
                nxt = nx.shortest_path(g, current, end)[1] if nx.has_path(g, current, end) else current
            else:  # traversal: current, the label's one-hot on it
                current = int(x[:, 0].argmax())
                label = int(x[current, 1:].argmax())
                options = [v for _, v, d in g.out_edges(current, data=True) if d["label"] == label]
                nxt = options[0] if options else current
            if self.spoil and graph.edge_index.shape[1] % self.spoil == 0:
                nxt = 0 if nxt != 0 else 1
            chosen.append(int(batch.ptr[i]) + nxt)
        return torch.tensor(chosen)


@pytest.mark.parametrize("query", ["traversal", "shortest_path"])
def test_the_evaluations_score_oracles_perfectly_and_meet_the_same_queries(query):
    kwargs = {"min_nodes": 4, "max_nodes": 9, "neighbours": 3, "id_bits": 6}
    if query == "traversal":
        kwargs.update(min_hops=1, max_hops=4)
    sequence = lambda model: script.evaluate_sequence_model(  # noqa: E731
        model, query, 40, torch.Generator().manual_seed(3), "cpu", num_labels=4, planning_steps=0, **kwargs)
    graph = lambda model: script.evaluate_graph_model(  # noqa: E731
        model, query, 40, torch.Generator().manual_seed(3), "cpu", num_labels=4, **kwargs)
    perfect = sequence(_SequenceOracle())
    assert perfect["exact"] == perfect["step_accuracy"] == 1.0 and perfect["wrong_bits"] == 0.0
    assert graph(_GraphOracle()) == {"exact": 1.0, "step_accuracy": 1.0}
    # Wrong on the same queries (graphs with a multiple of 6 edges, so an even node count): the same
    # share of exact answers.
    spoilt_sequence, spoilt_graph = sequence(_SequenceOracle(spoil=6)), graph(_GraphOracle(spoil=6))
    assert 0 < spoilt_sequence["exact"] < 1 and spoilt_graph["exact"] == pytest.approx(spoilt_sequence["exact"])


def test_metrics_json_agrees_with_a_recount_from_the_checkpoint(tmp_path):
    """The final 'train' entry equals exact answers counted here query by query (decoded bits
    against the queries' own answers), on the queries of the first evaluation generator."""
    torch.set_num_threads(1)
    out = tmp_path / "run"
    results = script.main(["--out", str(out), "--model", "lstm", *_TINY, "--steps", "30", "--lr", "1e-2",
                           "--final-sequences", "300", "--max-nodes", "5", "--max-hops", "1", "--no-plots"])
    model = memnets.load(out / "model.pt")
    generator = _harness.evaluation_generator(0)
    exact = right = steps = 0
    for size in (_harness.EVAL_BATCH, 300 - _harness.EVAL_BATCH):
        queries = traversal_queries(size, min_nodes=5, max_nodes=5, min_hops=1, max_hops=1, generator=generator)
        batch = encode_queries(queries)
        logits, _ = model(batch.inputs)
        for q, got in zip(queries, decode_triples((logits > 0).float(), batch.mask)):
            exact += int(got == q.answer())
            right += sum(a == b for a, b in zip(got, q.answer()))
            steps += len(q.answer())
    train = results["evaluation"]["train"]
    assert train["exact"] == pytest.approx(exact / 300) and train["step_accuracy"] == pytest.approx(right / steps)


def test_the_baseline_learns_one_hop_lookups(tmp_path):
    torch.set_num_threads(1)
    results = script.main(["--out", str(tmp_path / "gnn"), "--model", "gnn", *_TINY, "--steps", "150",
                           "--batch-size", "16", "--lr", "1e-2", "--lr-schedule", "constant", "--gnn-hidden", "16",
                           "--gnn-steps", "1", "--final-sequences", "100", "--no-plots"])
    train = results["evaluation"]["train"]
    assert train["step_accuracy"] > 0.9, train  # chance: about 1 in 7 nodes per step


def test_traversal_batch_is_what_the_sequence_models_train_on():
    task = script.QueryBitTask("traversal", traversal_batch, 4, min_nodes=5, max_nodes=6, planning_steps=2)
    batch = task.sample(3, torch.Generator().manual_seed(0), torch.device("cpu"))
    twin = traversal_batch(3, min_nodes=5, max_nodes=6, planning_steps=2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(tuple(batch), tuple(twin), rtol=0, atol=0)


def test_bad_options_are_usage_errors(tmp_path):
    out = str(tmp_path / "out")
    cases = [
        (["--min-nodes", "1"], "min_nodes must be at least 2, got 1"),
        (["--min-nodes", "8", "--max-nodes", "6"], "expected min_nodes <= max_nodes, got 8 > 6"),
        (["--min-hops", "0"], "min_hops must be greater than zero, got 0"),
        (["--min-hops", "5"], "expected min_hops <= max_hops, got 5 > 4"),
        (["--num-labels", "2"], "expected num_labels >= neighbours"),
        (["--id-bits", "4"], "expected at most 2**id_bits - 1 = 15 nodes (distinct ids), got graphs of 20 nodes"),
        (["--query", "bfs"], "expected query to be one of"),
        (["--model", "transformer"], "expected model to be one of"),
        (["--model", "gnn", "--gnn-hidden", "4"], "expected gnn_hidden >= 5"),
        (["--test-hops", "0"], "test_hops[0] must be greater than zero, got 0"),
    ]
    assert_usage_errors(tmp_path, [("tasks.graph_queries", ["--out", out, *argv], message) for argv, message in cases])
