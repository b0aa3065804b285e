"""The bit-task scripts' command line: every bad option is one line on stderr and exit status 2,
runs are never overwritten by mistake, Ctrl-C exits 130 after the resume hint, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tasks import copy

_ROOT = Path(__file__).resolve().parents[2]
_TINY = ["--no-compile", "--controller-size", "8", "--memory-size", "8", "--word-size", "4", "--no-progress", "--eval-sequences",
         "8", "--final-sequences", "8", "--device", "cpu", "--batch-size", "4", "--test-lengths", "5", "--no-plots"]

# One interpreter imports the scripts once, then runs every case in a forked child of its own:
# each case is a separate process whose exit status and stderr are the script's own.
_DRIVER = r'''
import json, os, sys
import importlib
cases = json.loads(sys.argv[1])
results = []
for module, argv, err_path in cases:
    main = importlib.import_module(module).main
    pid = os.fork()
    if pid == 0:
        sys.argv[0] = module.split(".")[-1] + ".py"  # the program name argparse reports
        fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 2)
        os.dup2(fd, 1)
        try:
            main(argv)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    results.append(os.waitstatus_to_exitcode(status))
print(json.dumps(results))
'''


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(_ROOT), "OMP_NUM_THREADS": "1"}


def _run_cases(tmp_path, cases: list[tuple[str, list[str]]]) -> list[tuple[int, str]]:
    """Run each (module, argv) in its own process; return (exit status, its output) per case."""
    specs = [(module, argv, str(tmp_path / f"case{i}.err")) for i, (module, argv) in enumerate(cases)]
    done = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(specs)], cwd=_ROOT, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    codes = json.loads(done.stdout.strip().splitlines()[-1])
    return [(code, Path(err).read_text()) for code, (_, _, err) in zip(codes, specs)]


def _bad_invocations(tmp_path) -> list[tuple[str, list[str], str]]:
    out = str(tmp_path / "out")
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    cases = [
        ("tasks.copy", ["--steps", "-5"], "steps must be at least 0, got -5"),
        ("tasks.copy", ["--batch-size", "0"], "batch_size must be greater than zero, got 0"),
        ("tasks.copy", ["--model", "transformer"], "expected model to be one of"),
        ("tasks.copy", ["--out", str(a_file)], "expected --out to be a directory"),
        ("tasks.copy", ["--lr", "-0.1"], "expected lr in (0.0, inf], got -0.1"),
        ("tasks.copy", ["--optimizer", "lbfgs"], "expected optimizer to be one of"),
        ("tasks.copy", ["--memory-size", "0"], "memory_size must be greater than zero, got 0"),
        ("tasks.copy", ["--min-len", "5", "--max-len", "3"], "expected min_len <= max_len, got 5 > 3"),
        ("tasks.copy", ["--test-lengths", "0"], "test_lengths[0] must be greater than zero, got 0"),
        ("tasks.copy", ["--controller", "gru"], "expected controller to be one of"),
        ("tasks.copy", ["--steps", "ten"], "invalid int value: 'ten'"),
        ("tasks.copy", ["--lr", "nan"], "expected lr in"),
        ("tasks.copy", ["--resume", "--overwrite"], "at most one of resume and overwrite"),
        ("tasks.repeat_copy", ["--test-settings", "10by15"], "expected test_settings like '10x15'"),
        ("tasks.associative_recall", ["--min-items", "1"], "min_items must be at least 2, got 1"),
        ("tasks.priority_sort", ["--num-outputs", "30"], "expected num_outputs <= num_inputs"),
        ("tasks.priority_sort", ["--word-size", "0"], "word_size must be greater than zero"),
    ]
    if not torch.cuda.is_available():
        cases.append(("tasks.copy", ["--device", "cuda"], "CUDA is not available"))
    return [(module, ["--out", out, *argv] if "--out" not in argv else argv, message)
            for module, argv, message in cases]


def assert_usage_errors(tmp_path, cases: list[tuple[str, list[str], str]]) -> None:
    """Each ``(module, argv, message)`` exits 2 with one line naming the problem, and the
    run folder ``tmp_path / "out"`` is never created (validated before any work)."""
    results = _run_cases(tmp_path, [(module, argv) for module, argv, _ in cases])
    for (module, argv, message), (code, output) in zip(cases, results):
        lines = output.strip().splitlines()
        assert code == 2, (argv, code, output)
        assert len(lines) == 1 and "Traceback" not in output, (argv, output)
        assert lines[0].startswith(f"{module.split('.')[1]}.py: error: "), lines
        assert message in lines[0], (argv, lines[0])
    assert not (tmp_path / "out").exists()  # validated before any work: nothing was written


def test_every_bad_option_is_one_line_and_exit_status_2(tmp_path):
    assert_usage_errors(tmp_path, _bad_invocations(tmp_path))


def test_a_finished_run_is_never_overwritten_or_shortened_by_mistake(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    copy.main(["--out", str(out), "--steps", "4", "--eval-every", "2", *_TINY])
    before = {name: (out / name).read_bytes() for name in ("model.pt", "metrics.jsonl", "metrics.json")}
    results = _run_cases(tmp_path, [
        ("tasks.copy", ["--out", str(out), "--steps", "2", *_TINY]),  # a fresh run into the same folder
        ("tasks.copy", ["--out", str(out), "--steps", "2", "--resume", *_TINY]),  # fewer steps than done
    ])
    (fresh, fresh_out), (shorter, shorter_out) = results
    assert fresh == 2 and "holds a checkpoint" in fresh_out and "--overwrite" in fresh_out
    assert shorter == 2 and "it has already done 4 steps" in shorter_out
    assert len(fresh_out.strip().splitlines()) == 1 and len(shorter_out.strip().splitlines()) == 1
    assert {name: (out / name).read_bytes() for name in before} == before  # nothing touched
    # --resume to the same step count is allowed and metrics.json still says 4 steps.
    assert copy.main(["--out", str(out), "--steps", "4", "--resume", *_TINY])["steps"] == 4
    # --overwrite replaces the run, and metrics.json tells the truth about the new one.
    results = copy.main(["--out", str(out), "--steps", "2", "--overwrite", "--eval-every", "2", "--log-every", "1",
                         *_TINY])
    saved = json.loads((out / "metrics.json").read_text())
    assert results["steps"] == saved["steps"] == 2 and saved["examples"] == 8
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "loss" in r] == [1, 2] and max(r["step"] for r in records) == 2


def test_ctrl_c_prints_the_resume_hint_and_exits_130_without_a_traceback(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "tasks.copy", "--out", str(out), "--steps", "100000", "--log-every", "1",
               "--eval-every", "100000", *_TINY]
    process = subprocess.Popen(command, cwd=_ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 240
        while not ((out / "metrics.jsonl").exists() and (out / "metrics.jsonl").read_text().count("\n") >= 2):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert "resume with --resume" in stdout
    assert not (out / "metrics.json").exists()  # no final evaluation claims a finished run
    from memnets.training import load_checkpoint

    assert load_checkpoint(out / "model.pt")["step"] >= 2
