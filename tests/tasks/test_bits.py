"""End-to-end tests of the bit-task scripts: learning, files, checkpoint round trip, resume."""

from __future__ import annotations

import json
import math

import pytest
import torch

import memnets
from memnets.data.bits import copy_batch
from memnets.training import load_checkpoint
from tasks import associative_recall, copy, priority_sort, repeat_copy
from tasks._bits import evaluate_bits

# A small NTM and a short copy task, so that learning is visible within seconds.
_TINY = ["--no-compile", "--controller-size", "32", "--memory-size", "8", "--word-size", "8", "--no-progress",
         "--eval-sequences", "64", "--final-sequences", "64", "--device", "cpu"]


def test_short_copy_run_learns_and_writes_its_files(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "copy"
    results = copy.main(["--out", str(out), "--steps", "600", "--batch-size", "32", "--lr", "1e-2",
                         "--max-len", "3", "--eval-every", "100", "--test-lengths", "4", *_TINY])
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    first = next(r["wrong_bits"] for r in records if "wrong_bits" in r)
    assert first > 5  # chance level: half of the 8 * L answer bits (L ~ U{1..3})
    # Learnt: at least a fourfold drop from chance, on 64 fresh sequences.
    train = results["evaluation"]["train"]
    assert train["wrong_bits"] < min(2.0, first / 4), (first, train)
    assert list(results["evaluation"]) == ["train", "L=4"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == results and saved["steps"] == 600 and saved["examples"] == 600 * 32
    for name in ("model.pt", "learning_curve.png", "sequence.png"):
        assert (out / name).stat().st_size > 0

    # The checkpoint rebuilds the same model: identical outputs and identical metrics.
    model = memnets.load(out / "model.pt")
    assert isinstance(model, memnets.NTM) and not model.training
    batch = copy_batch(16, max_len=3, generator=torch.Generator().manual_seed(5))
    state_dict = load_checkpoint(out / "model.pt")["state_dict"]
    twin = memnets.NTM(9, 8, controller_size=32, memory_size=8, word_size=8)
    twin.load_state_dict(state_dict)
    torch.testing.assert_close(model(batch.inputs)[0], twin.eval()(batch.inputs)[0], rtol=0, atol=0)
    again = evaluate_bits(model, copy_batch, 64, generator=torch.Generator().manual_seed(1), max_len=3)
    assert again["wrong_bits"] < min(2.0, first / 4)


def test_copy_resume_continues_identically(tmp_path):
    torch.set_num_threads(1)
    # A constant learning rate: a cosine schedule is tied to --steps, which differs here.
    common = ["--lr-schedule", "constant", "--batch-size", "8", "--max-len", "4", "--eval-every", "3", "--checkpoint-every", "3",
              "--test-lengths", "5", "--no-plots", *_TINY]
    copy.main(["--out", str(tmp_path / "a"), "--steps", "6", *common])
    copy.main(["--out", str(tmp_path / "b"), "--steps", "3", *common])
    copy.main(["--out", str(tmp_path / "b"), "--steps", "6", "--resume", *common])
    a = load_checkpoint(tmp_path / "a" / "model.pt")
    b = load_checkpoint(tmp_path / "b" / "model.pt")
    assert a["step"] == b["step"] == 6
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize(
    "script, args",
    [
        (copy, ["--model", "lstm", "--lstm-hidden-size", "16", "--lstm-layers", "1"]),
        (copy, ["--model", "dnc", "--num-read-heads", "2"]),
        (repeat_copy, ["--max-len", "3", "--max-repeats", "3", "--test-settings", "4x4"]),
        (associative_recall, ["--max-items", "3", "--test-items", "4"]),
        (priority_sort, ["--num-inputs", "6", "--num-outputs", "4", "--num-read-heads", "1",
                         "--num-write-heads", "1"]),
    ],
)
def test_every_bit_task_script_runs(tmp_path, script, args):
    torch.set_num_threads(1)
    results = script.main(["--out", str(tmp_path / "run"), "--steps", "2", "--batch-size", "4",
                           "--eval-every", "2", "--no-plots", *_TINY, *args])
    assert results["steps"] == 2 and results["model"] == (args[1] if args[0] == "--model" else "ntm")
    assert all(torch.isfinite(torch.tensor(v["wrong_bits"])) for v in results["evaluation"].values())
    assert (tmp_path / "run" / "metrics.json").exists()


def _visits(n, slots, steps=4):
    w = torch.zeros(steps, n)
    for t, s in enumerate(slots):
        w[t % steps, s] = 1.0
    return w


def test_used_slots_is_the_circular_window_of_visited_slots():
    from memnets.training.plots import used_slots

    # A head that wrapped from slot 126 to slot 2: the window crosses the end of memory.
    window = used_slots([_visits(128, [126, 127, 0, 1]), _visits(128, [2])], margin=1)
    assert window.tolist() == [125, 126, 127, 0, 1, 2, 3]
    assert used_slots([_visits(16, [5])], margin=2).tolist() == [3, 4, 5, 6, 7]
    # Weights below the threshold do not count; nothing visited shows every slot.
    assert used_slots([torch.full((3, 8), 0.01)]).tolist() == list(range(8))
    # A window as wide as the memory is the whole memory, in order.
    assert used_slots([_visits(8, [0, 4])], margin=2).tolist() == list(range(8))
    with pytest.raises(ValueError, match="at least one"):
        used_slots([])
    with pytest.raises(ValueError, match=r"N = 8, got shape \(4, 6\)"):
        used_slots([_visits(8, [1]), _visits(6, [1])])


def test_sequence_figure_of_an_ntm(tmp_path):
    from memnets.data.bits import repeat_copy_batch
    from tasks._bits import plot_bit_sequence

    ntm = memnets.NTM(10, 9, controller_size=8, memory_size=32, word_size=6)
    plot_bit_sequence(ntm, repeat_copy_batch, tmp_path / "sequence.png", length=3, repeats=2)
    assert (tmp_path / "sequence.png").stat().st_size > 0


def test_sequence_figure_of_a_dnc(tmp_path):
    from tasks._bits import plot_bit_sequence

    dnc = memnets.DNC(9, 8, controller_size=8, memory_size=16, word_size=4, num_read_heads=2)
    plot_bit_sequence(dnc, copy_batch, tmp_path / "sequence.png", length=4)
    assert (tmp_path / "sequence.png").stat().st_size > 0


def test_copy_with_tensorboard_logs_the_curves_and_the_memory_figure(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    torch.set_num_threads(1)
    out = tmp_path / "run"
    copy.main(["--out", str(out), "--steps", "4", "--batch-size", "4", "--eval-every", "2", "--log-every", "1",
               "--test-lengths", "5", "--no-plots", "--tensorboard", *_TINY])
    events = event_accumulator.EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"loss", "wrong_bits", "bits", "eval/wrong_bits", "eval/bits", "skipped"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("eval/wrong_bits")] == [2, 4]
    assert [image.step for image in events.Images("sequence")] == [2, 4]


def test_bit_tasks_compile_by_default_and_a_compiled_run_trains(tmp_path):
    # The task scripts' default path is the fast one: the NTM's step compiled.
    torch.set_num_threads(1)
    small = [arg for arg in _TINY if arg != "--no-compile"]
    results = copy.main(["--out", str(tmp_path / "run"), "--steps", "3", "--batch-size", "4", "--max-len", "3",
                         "--eval-every", "3", "--test-lengths", "4", "--no-plots", *small])
    assert results["steps"] == 3
    assert all(math.isfinite(v) for v in results["evaluation"]["train"].values())
    assert copy.CopyConfig().compile is True


def test_zero_vectors_reach_the_training_batches_only():
    from memnets.data.bits import copy_batch
    from tasks._bits import BitTask

    task = BitTask(copy_batch, min_len=20, max_len=20, sample_kwargs={"zero_vectors": 1.0})
    train = task.sample(8, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert not train.inputs[:, :, :8].any()  # every training data vector blanked

    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen.append(x)
            return torch.zeros(x.shape[0], x.shape[1], 8), None

    task.evaluate(Spy(), torch.Generator().manual_seed(0), torch.device("cpu"))
    assert all(x[:20, :, :8].any() for x in seen)  # the evaluation draws the paper's bits
    assert copy.CopyConfig().zero_vectors == 0.05 and copy.CopyConfig(zero_vectors=0).zero_vectors == 0
