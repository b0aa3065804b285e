"""Multi-process training: two gloo processes on the CPU against one process.

The processes are started from the test with :func:`memnets.training.distributed.run_processes`,
which sets the environment ``torchrun`` would set; ``fit`` then joins the group by itself,
exactly as under ``torchrun``.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
import torch.distributed as dist
from torch import nn

from memnets.nn.registry import register_model
from memnets.training import Task, TrainConfig, fit, load_checkpoint
from memnets.training.distributed import get_rank, get_world_size, run_processes, shard_batch

_STEPS = 6


class _SeqBatch(NamedTuple):
    inputs: torch.Tensor  # (T, B, C), time-major like the bit tasks
    targets: torch.Tensor  # (T, B)
    lengths: torch.Tensor  # (B,)


@register_model
class _TinyRNN(nn.Module):
    """Deterministic (no dropout) time-major regressor."""

    def __init__(self, size: int = 3, hidden: int = 8):
        super().__init__()
        self.rnn = nn.GRU(size, hidden)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x):
        hidden, _ = self.rnn(x)
        return self.readout(hidden).squeeze(-1)


class _SeqTask(Task):
    """Predict a running sum over a masked, variable-length, time-major sequence."""

    batch_dim = _SeqBatch(inputs=1, targets=1, lengths=0)

    def __init__(self, fail_on_rank: int | None = None, fail_at: int = 3, interrupt_at: dict[int, int] | None = None):
        self.fail_on_rank, self.fail_at = fail_on_rank, fail_at
        self.interrupt_at = interrupt_at or {}  # rank -> step at which that rank alone gets a Ctrl-C
        self.calls = 0

    def sample(self, batch_size, generator, device):
        lengths = torch.randint(1, 6, (batch_size,), generator=generator)
        inputs = torch.randn(int(lengths.max()), batch_size, 3, generator=generator)
        mask = torch.arange(inputs.shape[0])[:, None] < lengths[None, :]
        inputs = inputs * mask[..., None]
        targets = inputs.sum(-1).cumsum(0)
        return _SeqBatch(inputs.to(device), targets.to(device), lengths.to(device))

    def loss(self, model, batch):
        self.calls += 1
        if self.fail_on_rank == get_rank() and self.calls == self.fail_at:
            raise RuntimeError("a failure on one rank")
        mask = torch.arange(batch.inputs.shape[0], device=batch.inputs.device)[:, None] < batch.lengths[None, :]
        per_sequence = (((model(batch.inputs) - batch.targets) ** 2) * mask).sum(0) / batch.lengths
        loss = per_sequence.mean()  # a mean over sequences: rank means average to the global mean
        return loss, {"mse": loss.item(), "items": float(batch.lengths.numel())}

    def evaluate(self, model, generator, device):
        batch = self.sample(16, generator, device)
        return {"mse": self.loss(model, batch)[0].item()}

    def curriculum(self, step, metrics):
        if self.interrupt_at.get(get_rank()) == step:
            os.kill(os.getpid(), signal.SIGINT)


def _config(out, **overrides) -> TrainConfig:
    base = dict(out=str(out), steps=_STEPS, batch_size=8, eval_every=3, checkpoint_every=3, log_every=1,
                progress=False, device="cpu", lr=1e-2)
    base.update(overrides)
    return TrainConfig(**base)


def _model() -> _TinyRNN:
    torch.manual_seed(0)
    return _TinyRNN()


#: The scenarios every rank of the shared 2-process launch runs, one after the other (each
#: fit joins and leaves the process group): task arguments of each.
_SCENARIOS = {
    "clean": {},
    "ctrl_c": {"interrupt_at": {1: 2}},  # rank 1 alone gets a Ctrl-C after step 2
    "error": {"fail_on_rank": 1},  # rank 1 alone raises in its third loss
}


def _worker(root: str) -> None:
    """One rank: run every scenario, saving what the tests compare (errors included)."""
    rank = int(os.environ["RANK"])
    for name, task_args in _SCENARIOS.items():
        saved: dict = {"rank": get_rank(), "world": get_world_size()}
        try:
            result = fit(_model(), _SeqTask(**task_args), _config(Path(root) / name, steps=_STEPS))
            saved.update(params=[p.detach().clone() for p in result.model.parameters()], history=result.history)
        except (RuntimeError, KeyboardInterrupt) as error:
            saved["error"] = repr(error)
        saved["group_left"] = not dist.is_initialized()
        torch.save(saved, Path(root) / "results" / f"{name}-{rank}.pt")


def _losses(history):
    return [r["loss"] for r in history if "loss" in r]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """One launch of 2 processes for all the scenarios (process start-up is the slow part)."""
    root = tmp_path_factory.mktemp("ddp")
    (root / "results").mkdir()
    run_processes(_worker, 2, args=(str(root),))
    return root, {name: [torch.load(root / "results" / f"{name}-{rank}.pt", weights_only=False) for rank in range(2)]
                  for name in _SCENARIOS}


@pytest.fixture(scope="module")
def two_process_run(two_processes):
    """The clean 2-process run of _STEPS steps: its folder and what each rank saved."""
    root, results = two_processes
    return root / "clean", results["clean"]


def test_two_processes_match_one_process_with_the_same_global_batch(two_process_run, tmp_path):
    _, ranks = two_process_run
    single = fit(_model(), _SeqTask(), _config(tmp_path / "single"))
    # DistributedDataParallel keeps the replicas identical, bit for bit.
    for p, q in zip(ranks[0]["params"], ranks[1]["params"]):
        assert torch.equal(p, q)
    # Each rank trained on its half of the global batch of 8.
    assert {r["items"] for r in ranks[0]["history"] if "items" in r} == {4.0}
    # Every rank logs the same (averaged) metrics, and they are the single process's.
    assert _losses(ranks[0]["history"]) == _losses(ranks[1]["history"])
    torch.testing.assert_close(_losses(ranks[0]["history"]), _losses(single.history), rtol=1e-5, atol=1e-6)
    evals = [r["eval/mse"] for r in single.history if "eval/mse" in r]
    torch.testing.assert_close([r["eval/mse"] for r in ranks[1]["history"] if "eval/mse" in r], evals)
    for p, q in zip(ranks[0]["params"], single.model.parameters()):
        torch.testing.assert_close(p, q.detach(), rtol=1e-4, atol=1e-5)
    assert [(r["rank"], r["world"], r["group_left"]) for r in ranks] == [(0, 2, True), (1, 2, True)]


def test_rank_zero_alone_writes_metrics_and_a_plain_checkpoint(two_process_run):
    run, _ = two_process_run
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == list(range(1, _STEPS + 1))  # once each, not twice
    assert [r["samples"] for r in records if "loss" in r][-1] == _STEPS * 8  # the global batch
    checkpoint = load_checkpoint(run / "model.pt")
    assert checkpoint["step"] == _STEPS and checkpoint["world_size"] == 2
    assert not any(key.startswith("module.") for key in checkpoint["state_dict"])
    assert sorted(p.name for p in run.iterdir()) == ["metrics.jsonl", "model.pt"]


def test_checkpoint_of_two_processes_resumes_in_one(two_process_run, tmp_path):
    run, _ = two_process_run
    straight = fit(_model(), _SeqTask(), _config(tmp_path / "straight", steps=2 * _STEPS))
    resume_dir = tmp_path / "resumed"
    resume_dir.mkdir()
    for name in ("model.pt", "metrics.jsonl"):
        (resume_dir / name).write_bytes((run / name).read_bytes())
    resumed = fit(_model(), _SeqTask(), _config(resume_dir, steps=2 * _STEPS, resume=True))
    assert resumed.step == 2 * _STEPS
    torch.testing.assert_close(_losses(resumed.history), _losses(straight.history)[_STEPS:], rtol=1e-4, atol=1e-5)
    for p, q in zip(resumed.model.parameters(), straight.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_an_error_on_one_rank_stops_every_rank_and_leaves_the_group(two_processes):
    _, results = two_processes
    ranks = results["error"]
    assert "a failure on one rank" in ranks[1]["error"]
    assert ranks[0]["error"].startswith(("RuntimeError", "DistBackendError"))  # from its next collective: no hang
    assert ranks[0]["group_left"] and ranks[1]["group_left"]


def test_ctrl_c_on_one_rank_stops_every_rank_at_the_same_step(two_processes):
    root, results = two_processes
    assert all("KeyboardInterrupt" in r["error"] and r["group_left"] for r in results["ctrl_c"])  # both stopped
    assert load_checkpoint(root / "ctrl_c" / "model.pt")["step"] == 2  # written at the step of the Ctrl-C


def test_batch_size_must_divide_among_the_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="divisible by the world size 2"):
        fit(_model(), _SeqTask(), _config(tmp_path, batch_size=7))


def test_shard_batch_splits_each_tensor_along_its_batch_dimension():
    batch = _SeqBatch(torch.arange(24.0).reshape(2, 4, 3), torch.arange(8.0).reshape(2, 4), torch.arange(4))
    parts = [shard_batch(batch, rank, 2, _SeqTask.batch_dim) for rank in range(2)]
    assert all(isinstance(p, _SeqBatch) for p in parts)
    torch.testing.assert_close(torch.cat([p.inputs for p in parts], dim=1), batch.inputs)
    torch.testing.assert_close(torch.cat([p.targets for p in parts], dim=1), batch.targets)
    assert parts[1].lengths.tolist() == [2, 3]
    nested = shard_batch({"x": torch.arange(6), "meta": (None, 3, "name")}, 2, 3, dim=0)
    assert nested["x"].tolist() == [4, 5] and nested["meta"] == (None, 3, "name")
    assert shard_batch(batch, 0, 1) is batch


def test_shard_batch_refuses_what_it_cannot_split():
    with pytest.raises(ValueError, match="divisible by world_size=2"):
        shard_batch(torch.zeros(3, 2), 0, 2, dim=0)
    with pytest.raises(TypeError, match="set Task.batch_dim"):  # undeclared: no guess
        shard_batch(torch.zeros(4, 2), 0, 2)
    time_major = _SeqBatch(torch.zeros(6, 4, 3), torch.zeros(6, 4), torch.zeros(4))
    with pytest.raises(ValueError, match="check Task.batch_dim"):  # dim 0 is time here, not the batch
        shard_batch(time_major, 0, 2, dim=0)
    with pytest.raises(TypeError, match="override Task.shard"):
        shard_batch([object()], 0, 2)


def test_shard_batch_splits_graph_batches_by_graph():
    from torch_geometric.data import Batch, Data

    graphs = [Data(x=torch.full((n, 2), float(n)), edge_index=torch.zeros(2, 0, dtype=torch.long))
              for n in (1, 2, 3, 4)]
    batch = Batch.from_data_list(graphs)
    batch.train_steps = 7  # a batch-level value set after collation (the graph tasks' step count)
    part = shard_batch(batch, 1, 2)
    assert part.num_graphs == 2 and part.x[:, 0].tolist() == [3.0] * 3 + [4.0] * 4
    assert part.train_steps == 7


@pytest.mark.slow  # two more process launches (about 10-20 s)
def test_torchrun_runs_a_task_script_unchanged(tmp_path):
    """``torchrun --nproc_per_node=2 -m tasks.copy``: one run, rank 0 alone reports and writes."""
    import subprocess
    import sys

    import memnets

    out = tmp_path / "copy"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "tasks.copy",
               "--out", str(out), "--steps", "3", "--batch-size", "4", "--device", "cpu", "--log-every", "1",
               "--eval-sequences", "8", "--final-sequences", "8", "--test-lengths", "5", "--controller-size", "8", "--memory-size", "8",
               "--word-size", "4", "--no-plots", "--no-progress"]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("ntm after 3 steps (12 examples)") == 1  # printed by rank 0 only
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3]
    assert json.loads((out / "metrics.json").read_text())["examples"] == 12
    assert type(memnets.load(out / "model.pt")).__name__ == "NTM"


_SCRIPTS = '''
import json, os, sys
from tasks import charlm, listops, long_dependency
root = sys.argv[1]
common = ["--steps", "2", "--batch-size", "4", "--log-every", "1", "--device", "cpu", "--no-progress"]
returned = {
    "charlm": charlm.main(["--out", f"{root}/charlm", "--hidden-size", "8", "--seq-len", "8",
                           "--sample-length", "5", *common]),
    "listops": listops.main(["--out", f"{root}/listops", "--hidden-size", "8", "--embedding-size", "8",
                             "--max-depth", "3", "--eval-size", "8", "--test-size", "8", "--no-plots", *common]),
    "long_dependency": long_dependency.main(["--out", f"{root}/long_dependency", "--length", "4", "--hidden-size",
                                             "4", "--cells", "rnn", "gru", "--test-sequences", "8",
                                             "--diagnostic-sequences", "4", *common]),
}
with open(f"{root}/returned-{os.environ['RANK']}.json", "w") as f:
    json.dump({name: sorted(value) for name, value in returned.items()}, f)
'''


@pytest.mark.slow  # one torchrun launch of three task scripts (about 20-30 s on 2 busy cores)
def test_torchrun_runs_sequence_tree_and_multi_model_task_scripts(tmp_path):
    """Under torchrun, tasks.charlm (time-major), tasks.listops (trees: TreeTask.shard) and
    tasks.long_dependency (three fits in one script, each joining a fresh process group) train
    on both ranks, and rank 0 alone evaluates, prints and writes."""
    import subprocess
    import sys

    script = tmp_path / "scripts.py"
    script.write_text(_SCRIPTS)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", str(script),
                           str(tmp_path)], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("held-out bits per character") == 1  # printed by rank 0 only
    assert done.stdout.count("after 2 steps (8 examples)") == 1
    assert done.stdout.count("test MSE") == 2
    returned = [json.loads((tmp_path / f"returned-{rank}.json").read_text()) for rank in range(2)]
    assert all(returned[0].values()) and returned[1] == {"charlm": [], "listops": [], "long_dependency": []}
    for run in ("charlm", "listops", "long_dependency/rnn", "long_dependency/gru"):
        records = [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in records if "loss" in r] == [1, 2]  # once each: rank 0 alone logs
        assert load_checkpoint(tmp_path / run / "model.pt")["world_size"] == 2
    assert sorted(p.name for p in (tmp_path / "listops").iterdir()) == ["metrics.json", "metrics.jsonl", "model.pt"]
    assert (tmp_path / "charlm" / "samples.txt").exists() and (tmp_path / "long_dependency" / "metrics.json").exists()
