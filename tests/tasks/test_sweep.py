"""tasks.sweep: the success table of a sweep, computed from its runs' metrics.json."""

from __future__ import annotations

import json

import pytest

from tasks import sweep
from tasks.sweep import Run, format_table, parse_bars, parse_seeds, summarise


def _metrics(train, gen, converged_at=None, worst_after=None):
    settings = {"train": train, **gen}
    return {
        "evaluation": {name: {"wrong_bits": v, "bits": 0.0} for name, v in settings.items()},
        "sequences_to_convergence": converged_at,
        "worst_wrong_bits_after_convergence": worst_after,
    }


BARS = {"L=30": 0.1, "L=120": 1.0}

RESULTS = {
    Run(0, "default", 1): _metrics(0.0, {"L=30": 0.0, "L=120": 0.5}, 8000, 0.02),
    Run(1, "default", 1): _metrics(0.004, {"L=30": 0.2, "L=120": 0.9}, 12000, 0.3),  # fell back once
    Run(0, "avx2", 1): _metrics(0.25, {"L=30": 0.9, "L=120": 4.0}),  # not converged
    Run(1, "avx2", 1): _metrics(0.0, {"L=30": 0.05, "L=120": 1.0}, 20000, 0.0001),
    Run(2, "avx2", 1): None,  # did not finish
}


def test_summary_counts_each_criterion():
    s = summarise(RESULTS, BARS)
    assert s["runs"] == 5 and s["finished"] == 4
    assert s["converged"] == 3  # 0.0, 0.004, 0.0001 < 0.1; 0.25 is not
    assert s["exact"] == 2  # no wrong bit at all; 0.004 (4 wrong bits in 1,000 sequences) is not exact
    assert s["fell_back"] == 1
    assert s["bars"] == {"L=30": 2, "L=120": 2}  # L=120 at exactly 1.0 does not pass "< 1.0"
    assert s["median_sequences_to_convergence"] == 12000


def test_table_has_one_row_per_run_and_the_summary():
    table = format_table(RESULTS, BARS)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["rounding", "threads", "seed", "train"]
    assert sum("did not finish" in line for line in lines) == 2  # the row and the summary line
    assert "converged (< 0.1 wrong bits/seq): 3 of 5; exact (no wrong bit): 2 of 5; fell back after converging: 1 of 5" in table
    assert "L=30 below 0.1: 2 of 5" in table
    assert "median sequences to convergence: 12,000" in table
    row = next(line for line in lines if line.split()[:3] == ["avx2", "1", "0"])
    assert row.split()[3:6] == ["0.25", "0.90", "4.00"]


def test_the_older_metrics_layout_is_read_too():
    old = {"train": {"wrong_bits": 0.0}, "generalisation": {"L=30": {"wrong_bits": 0.5}}}
    s = summarise({Run(0, "default", 1): old}, {"L=30": 1.0})
    assert s["converged"] == 1 and s["bars"] == {"L=30": 1}


def test_empty_sweep_summary():
    assert summarise({}, BARS)["converged"] == 0
    assert summarise({}, BARS)["median_sequences_to_convergence"] is None


@pytest.mark.parametrize("text, seeds", [("0-3", [0, 1, 2, 3]), ("5", [5]), ("0,3,1-2", [0, 1, 2, 3])])
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "3-1", "-2", "1-x"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ValueError):
        parse_seeds(text)


def test_parse_bars():
    assert parse_bars(["L=30:0.1", "K=20:0.5"]) == {"L=30": 0.1, "K=20": 0.5}
    with pytest.raises(ValueError, match="expected a bar like L=30:0.1"):
        parse_bars(["L=30"])


def test_supported_capabilities_start_with_default():
    caps = sweep.supported_capabilities()
    assert caps[0] == "default" and set(caps) <= set(sweep.CAPABILITIES)


def test_finished_runs_are_read_not_rerun(tmp_path, monkeypatch, capsys):
    for run, metrics in RESULTS.items():
        if metrics is not None and run.capability == "default":
            (tmp_path / run.name).mkdir()
            (tmp_path / run.name / "metrics.json").write_text(json.dumps(metrics))

    def no_subprocess(*args, **kwargs):
        raise AssertionError("a finished run was run again")

    monkeypatch.setattr(sweep.subprocess, "run", no_subprocess)
    summary = sweep.main(["copy", "--out", str(tmp_path), "--seeds", "0-1", "--capabilities", "default",
                          "--jobs", "2", "--bar", "L=30:0.1", "--bar", "L=120:1.0"])
    assert summary["converged"] == 2 and summary["runs"] == 2
    assert "2 runs of tasks.copy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nosuchtask", "--out", "x"], "expected a task script in tasks/"),
        (["copy", "--out", "x", "--seeds", "3-1"], "increasing seed range"),
        (["copy", "--out", "x", "--capabilities", "sse9"], "expected --capabilities"),
        (["copy", "--out", "x", "--jobs", "0"], "of at least 1"),
    ],
)
def test_bad_options_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_each_rounding_gets_its_own_compiled_kernel_cache(tmp_path, monkeypatch):
    seen = {}

    def fake_run(args, env, **kwargs):
        seen[env["ATEN_CPU_CAPABILITY"]] = env["TORCHINDUCTOR_CACHE_DIR"]
        assert env["OMP_NUM_THREADS"] == "1" and "--threads" in args
        return sweep.subprocess.CompletedProcess(args, 1)

    monkeypatch.setattr(sweep.subprocess, "run", fake_run)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "cache"))
    for cap in ("default", "avx2"):
        assert sweep._run_one("copy", Run(0, cap, 1), tmp_path / "out", [], log=False) is None
    assert seen == {"default": str(tmp_path / "cache" / "default"), "avx2": str(tmp_path / "cache" / "avx2")}
