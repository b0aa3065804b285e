"""tasks.copy_probe: the probe's rows against hand-made models whose failures are known."""

import subprocess
import sys

import pytest
import torch
from torch import nn

import memnets
from memnets.training.checkpoint import save_model
from tasks.copy_probe import probe


class Oracle(nn.Module):
    """Copies perfectly; with ``zero_confused`` it answers garbage from the first all-zero
    data vector on, the failure the probe is built to find."""

    def __init__(self, zero_confused: bool = False):
        super().__init__()
        self.zero_confused = zero_confused

    def forward(self, x):
        length = x.shape[0] // 2
        data = x[:length, :, :8]
        logits = torch.full((x.shape[0], x.shape[1], 8), -10.0)
        logits[length + 1:] = 20 * (data - 0.5)
        if self.zero_confused:
            zero = (data.sum(-1) == 0).float().cummax(0).values  # (L, B): at or after a zero vector
            logits[length + 1:] = torch.where(zero.bool().unsqueeze(-1), -logits[length + 1:], logits[length + 1:])
        return logits, None


def test_a_perfect_copier_fails_nowhere():
    rows = probe(Oracle(), length=6, sequences=64, positions=(0, 3))
    assert [r["setting"] for r in rows] == ["as drawn", "all-zero vector at 0", "all-zero vector at 3",
                                           "one-bit vector at 0", "one-bit vector at 3"]
    assert all(r["wrong_bits"] == 0 and r["failed"] == 0 and r["read_start_off"] is None for r in rows)


def test_a_zero_confused_copier_fails_exactly_on_the_forced_zeros():
    rows = {r["setting"]: r for r in probe(Oracle(zero_confused=True), length=6, sequences=200, positions=(0, 5))}
    assert rows["all-zero vector at 0"]["failed"] == 1.0
    # forced at 0: every answer vector after it is flipped -> all 48 bits, except bits the
    # flip cannot make wrong: none (the oracle flips every logit), so 48 per sequence
    assert rows["all-zero vector at 0"]["wrong_bits"] == pytest.approx(48.0)
    assert rows["all-zero vector at 5"]["failed"] == 1.0
    assert rows["one-bit vector at 5"]["failed"] < 0.1  # only natural zero vectors (2^-8 each) remain
    assert rows["as drawn"]["failed"] < 0.1


def test_an_ntm_reports_where_its_read_head_starts():
    torch.manual_seed(0)
    model = memnets.NTM(9, 8, controller_size=16, memory_size=16, word_size=6)
    rows = probe(model, length=4, sequences=20, positions=(1,))
    assert all(0.0 <= r["read_start_off"] <= 1.0 for r in rows)


@pytest.mark.parametrize("kwargs, words", [(dict(length=0), "length"), (dict(sequences=0), "sequences"),
                                           (dict(length=4, positions=(4,)), "positions in 0..3")])
def test_bad_arguments_raise_value_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        probe(Oracle(), **kwargs)


def test_the_command_line_prints_the_table_and_rejects_a_missing_file(tmp_path):
    torch.manual_seed(0)
    model = memnets.NTM(9, 8, controller_size=16, memory_size=32, word_size=6)
    save_model(model, tmp_path / "model.pt")
    run = subprocess.run([sys.executable, "-m", "tasks.copy_probe", str(tmp_path / "model.pt"), "--length", "5",
                          "--sequences", "8", "--positions", "0", "4"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "all-zero vector at 4" in run.stdout and "read head starts off" in run.stdout
    missing = subprocess.run([sys.executable, "-m", "tasks.copy_probe", str(tmp_path / "none.pt")],
                             capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("copy_probe.py: error: ")
    assert "Traceback" not in missing.stderr
