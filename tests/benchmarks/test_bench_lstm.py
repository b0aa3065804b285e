"""benchmarks/bench_lstm.py: the direction of every ratio, and a tiny run of the whole script."""

from __future__ import annotations

from benchmarks import bench_lstm


def test_direction_names_the_way_the_ratio_goes():
    assert bench_lstm.direction(2.0, "memnets", "torch.nn") == "memnets is 2.00× slower than torch.nn"
    assert bench_lstm.direction(0.5, "memnets", "torch.nn") == "memnets is 2.00× faster than torch.nn"


def test_a_tiny_run_prints_every_comparison(capsys):
    results = bench_lstm.main(["--threads", "1", "--hidden", "4", "--steps", "3", "--batch", "2", "--input", "3",
                               "--rounds", "1", "--repeats", "1", "--no-compile"])
    out = capsys.readouterr().out
    assert len(results) == 1
    for family in ("LSTM", "GRU", "RNN"):
        assert results[0]["max_abs_diff"][family] == 0.0  # the fused path is torch's own kernel
    assert out.count("than torch.nn") == 3
    names = ("LSTM coupled", "LSTM no_forget", "LSTM peephole", "LSTM peephole, autograd loop",
             "LSTM vanilla, gate core", "leaky (MultiTimescaleRNN)", "leaky, cell loop", "SkipRNN (skip 2)")
    for name in names:
        assert f"{name} " in out
    assert out.count("than the vanilla memnets.LSTM ") == len(names)
    # the skip connections against a vanilla LSTM with as many layers
    assert out.count("LSTM skip connections, 2 layers is ") == 1
    assert out.count("than the vanilla memnets.LSTM, 2 layers") == 1
    assert set(results[0]["cpu_ms"]) == set(results[0]["ms"])
