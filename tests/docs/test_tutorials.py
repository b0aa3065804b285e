"""Every tutorial of the documentation site runs as it is shown, and does what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"


def run(script: str, cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(TUTORIALS / script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_tutorial_script_has_a_page_and_a_test():
    scripts = sorted(path.name for path in TUTORIALS.glob("*.py"))
    assert scripts == ["graphs.py", "lstm_variant.py", "ntm_copy.py", "trees.py"]
    for script in scripts:
        page = (TUTORIALS / script).with_suffix(".md").read_text(encoding="utf-8")
        assert f'--8<-- "docs/tutorials/{script}"' in page, script


def test_ntm_copy_learns_and_draws_its_memory(tmp_path):
    out = run("ntm_copy.py", tmp_path)
    wrong = float(re.search(r"length 4: ([\d.]+) wrong bits", out).group(1))
    assert wrong < 8.0, out  # chance is 16 of the 32 answer bits
    assert (tmp_path / "ntm_copy_memory.png").stat().st_size > 1000


def test_tree_lstm_learns_the_largest_digit(tmp_path):
    out = run("trees.py", tmp_path)
    accuracy = float(re.findall(r"test accuracy ([\d.]+)", out)[-1])
    assert accuracy > 0.8, out  # the majority class is far below this


def test_ggnn_learns_reachability(tmp_path):
    out = run("graphs.py", tmp_path)
    accuracy = float(re.findall(r"node accuracy ([\d.]+)", out)[-1])
    assert accuracy > 0.9, out
    assert "graph vectors: (300, 8)" in out


@pytest.mark.parametrize("script", ["lstm_variant.py"])
def test_lstm_drop_in_and_variants(script, tmp_path):
    out = run(script, tmp_path)
    assert "memnets.LSTM == torch.nn.LSTM" in out
    mse = {name.strip(): float(value) for name, value in re.findall(r"^(.*?) test MSE ([\d.]+)$", out, re.MULTILINE)}
    assert mse["memnets.LSTM (coupled)"] < 0.05 and mse["layer-normalised LSTM"] < 0.05, out
