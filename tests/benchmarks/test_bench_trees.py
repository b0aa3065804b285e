"""Tests of benchmarks.bench_trees: a tiny run checks the three methods agree and reports ratios."""

from __future__ import annotations

import pytest

from benchmarks import bench_trees


def test_bench_trees_runs_every_method_and_says_which_way(capsys):
    results = bench_trees.main(["--trees", "3", "--input-size", "4", "--hidden-size", "6", "--threads", "1",
                                "--repeats", "1", "--per-node-repeats", "1"])
    out = capsys.readouterr().out
    assert results["nodes"] > 3 and results["levels"] >= 2
    assert {bench_trees._MEMNETS, bench_trees._CACHED, bench_trees._PER_NODE} <= set(results["seconds"])
    assert "memnets is " in out and "than per-node recursion (end to end, wall clock)" in out
    assert all(v > 0 for v in results["seconds"].values())


def test_bench_trees_refuses_bad_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_trees.main(["--trees", "0"])
    assert exit_info.value.code == 2 and "--trees must be at least 1" in capsys.readouterr().err
