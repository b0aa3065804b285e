"""The one task harness: every task script is a config, a model, a task, `fit` and this epilogue.

A script's module docstring is its ``--help``; its config dataclass (a subclass of
`TaskConfig`) is its command line, one option per field, every value validated (from the
fields' `option` declarations and the config's ``validate``) before any work, a bad one
reported as argparse does: one line on stderr, exit status 2, no traceback. The run
directory is protected: an ``--out`` that is a file is refused, and an ``--out`` that holds
a checkpoint needs ``--resume`` (continue it) or ``--overwrite`` (replace it); resuming to
fewer steps than the checkpoint has done is refused. Ctrl-C writes the checkpoint, prints
the resume hint and exits with status 130, no traceback. After training, `run` evaluates
the model on every named setting with its own fixed seed, writes ``metrics.json``, prints
the table and saves the plots.

Example (a whole script)::

    \"\"\"My task: what it is, the paper, the command line.\"\"\"
    from dataclasses import dataclass

    from memnets.training import option
    from tasks import _harness

    @dataclass
    class Config(_harness.TaskConfig):
        \"\"\"Args:
            hidden_size: units of the model.
            max_len: the longest training sequence.
        \"\"\"
        out: str = "runs/my_task"
        hidden_size: int = option(64, low=1)
        max_len: int = option(20, low=1)

    def main(argv=None) -> dict:
        cfg = _harness.parse(Config, argv, __doc__)
        return _harness.run(
            cfg,
            build=lambda cfg: (MyModel(4, cfg.hidden_size, 2), MyTask(max_len=cfg.max_len)),
            settings={"train": {}, "L=40": {"length": 40}},
            evaluate=lambda model, task, setting, generator, device: task.score(model, generator, device, **setting),
            name="my_task",
        )

    if __name__ == "__main__":
        main()

A script that trains several models calls `fit` itself and builds its epilogue from the
pieces `run` is made of: `exits_cleanly`, `evaluate_settings`, `print_table` and
``write_json``; `usage_error` reports a bad option found late.

``metrics.json`` holds ``task``, ``model`` (the registered class name or the name passed),
``seed``, ``steps`` (the steps the checkpoint holds, after a resume too), ``examples``
(steps × batch size), ``parameters``, ``evaluation`` (setting name → the metrics
``evaluate`` returned) and whatever ``summary`` adds.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NoReturn, Sequence, TypeVar

import torch
from torch import nn

from memnets.training import (
    EVAL_SEED,
    NonFiniteLossError,
    Task,
    TrainConfig,
    fit,
    is_main_process,
    make_guards,
    option,
    resolve_device,
    write_json,
)
from memnets.training.checkpoint import check_run_directory
from memnets.training.config import parse_config

__all__ = ["EVAL_BATCH", "HARNESS_READY", "TaskConfig", "evaluate_settings", "evaluation_generator", "exits_cleanly",
           "parse", "print_table", "run", "usage_error"]

#: The API below is complete and stable: task scripts may build on it.
HARNESS_READY = True

C = TypeVar("C", bound=TrainConfig)

#: Examples per forward pass in every evaluation (periodic and final), in every task.
EVAL_BATCH = 250

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status of a usage error (argparse's).
EXIT_USAGE = 2


@dataclass
class TaskConfig(TrainConfig):
    """The training loop's settings plus what every task script has.

    Args:
        plots: save the learning curve and the task's figures after training.
    """

    plots: bool = option(True)


def _prog() -> str:
    """The program name argparse shows (the script's file name)."""
    return Path(sys.argv[0]).name


def usage_error(message: str) -> NoReturn:
    """End the program as argparse does for a bad option: one line on stderr, exit status 2."""
    print(f"{_prog()}: error: {message.splitlines()[0] if message else message} (see --help)", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def parse(cls: type[C], argv: Sequence[str] | None = None, doc: str | None = None) -> C:
    """The script's config from its command line, validated, its run directory checked.

    Args:
        cls: the script's config dataclass (a `TaskConfig` subclass).
        argv: the arguments (default: ``sys.argv[1:]``).
        doc: the ``--help`` text: the script's module docstring (``__doc__``).

    Returns:
        The config. A bad option, an ``--out`` that is a file, an ``--out`` holding a
        checkpoint without ``--resume`` or ``--overwrite``, or ``--resume`` to fewer steps
        than done end the program with exit status 2 and a one-line message.
    """
    cfg = parse_config(cls, argv, doc)
    try:
        check_run_directory(cfg.out, resume=cfg.resume, overwrite=cfg.overwrite, steps=cfg.steps)
    except ValueError as error:
        usage_error(str(error))
    return cfg


def evaluation_generator(index: int) -> torch.Generator:
    """The CPU generator of the ``index``-th final evaluation setting: fixed, and different
    from the periodic evaluation's (`EVAL_SEED`) and from every other setting's."""
    return torch.Generator().manual_seed(EVAL_SEED - 1 - index)


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def print_table(title: str, evaluation: dict[str, dict[str, Any]], notes: dict[str, Any] | None = None) -> None:
    """Print one row per setting and one column per scalar metric, then ``notes`` as lines."""
    columns: list[str] = []
    for metrics in evaluation.values():
        columns += [k for k in _scalars(metrics) if k not in columns]
    width = max([len("setting")] + [len(name) for name in evaluation]) + 2
    print(f"\n{title}")
    widths = [max(16, len(c) + 2) for c in columns]  # a long metric name keeps a space before it
    print("  " + "setting".ljust(width) + "".join(f"{c:>{w}}" for c, w in zip(columns, widths)))
    for name, metrics in evaluation.items():
        cells = "".join(f"{metrics[c]:>{w}.4g}" if c in metrics else f"{'-':>{w}}" for c, w in zip(columns, widths))
        print("  " + name.ljust(width) + cells)
    for key, value in (notes or {}).items():
        print(f"  {key}: {value}")


@contextlib.contextmanager
def exits_cleanly(out: str | Path) -> Iterator[None]:
    """Turn the ends of a run into exit statuses without a traceback: Ctrl-C -> 130 (`fit`
    has written the checkpoint and printed the resume hint), a non-finite loss -> 1 with
    its one-line message. For scripts that call `fit` themselves (several models)."""
    try:
        yield
    except KeyboardInterrupt:
        print(f"Interrupted; the checkpoint in {out} is complete (resume with --resume).", file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except NonFiniteLossError as error:
        print(f"{_prog()}: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def evaluate_settings(
    model: nn.Module,
    task: Task,
    settings: dict[str, dict[str, Any]],
    evaluate: Callable[[nn.Module, Task, dict[str, Any], torch.Generator, torch.device], dict[str, Any]],
    device: torch.device,
) -> dict[str, dict[str, Any]]:
    """``evaluate`` on every setting in order, in eval mode under ``torch.no_grad``, the
    ``index``-th with `evaluation_generator` (index)."""
    model.eval()
    with torch.no_grad():
        return {setting: evaluate(model, task, kwargs, evaluation_generator(index), device)
                for index, (setting, kwargs) in enumerate(settings.items())}


def run(
    cfg: TaskConfig,
    build: Callable[[Any], tuple[nn.Module, Task]],
    settings: dict[str, dict[str, Any]],
    evaluate: Callable[[nn.Module, Task, dict[str, Any], torch.Generator, torch.device], dict[str, Any]],
    name: str,
    *,
    model_name: str | None = None,
    summary: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    curve_metrics: Sequence[str] = ("loss",),
    log_y: bool = True,
    plot: Callable[[nn.Module, Task, Path, torch.device], None] | None = None,
) -> dict[str, Any]:
    """Build, train, evaluate every setting, write ``metrics.json``, print the table, plot.

    Args:
        cfg: the parsed config (from `parse`).
        build: ``cfg -> (model, task)``; called after ``torch.manual_seed(cfg.seed)``. A
            ``ValueError`` or ``TypeError`` it raises is a usage error (exit status 2).
        settings: setting name -> keyword arguments of ``evaluate`` (``{}``: the training
            distribution); evaluated in this order (`evaluate_settings`).
        evaluate: ``(model, task, setting, generator, device) -> metrics`` (called in eval
            mode under ``torch.no_grad``); scalar metrics are printed, all are saved.
        name: the task's name in ``metrics.json`` and the table's title.
        model_name: the model's name there (default: its class name).
        summary: ``results -> extra entries`` merged into ``metrics.json`` and printed
            under the table (e.g. a convergence verdict).
        curve_metrics: the metrics of ``metrics.jsonl`` the learning curve shows.
        log_y: a logarithmic learning curve.
        plot: ``(model, task, out, device)``: the task's own figures, when ``cfg.plots``.

    Returns:
        What was written to ``metrics.json`` (``{}`` on ranks other than 0 under torchrun).
    """
    try:
        torch.manual_seed(cfg.seed)
        model, task = build(cfg)
    except (TypeError, ValueError) as error:
        usage_error(str(error))
    out = Path(cfg.out)
    with exits_cleanly(out):
        result = fit(model, task, cfg, guards=make_guards(cfg))
        if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
            return {}
        device = resolve_device(cfg.device)
        evaluation = evaluate_settings(model, task, settings, evaluate, device)
        results: dict[str, Any] = {
            "task": name,
            "model": model_name or type(model).__name__,
            "seed": cfg.seed,
            "steps": result.step,
            "examples": result.step * cfg.batch_size,
            "parameters": sum(p.numel() for p in model.parameters()),
            "evaluation": evaluation,
        }
        extra = summary(results) if summary is not None else {}
        results.update(extra)
        write_json(out / "metrics.json", results)
        print_table(f"{name}, {results['model']} after {result.step} steps ({results['examples']} examples), "
                    f"seed {cfg.seed}:", evaluation, {k: v for k, v in extra.items() if not isinstance(v, dict)})
        if cfg.plots:
            from memnets.training.plots import plot_learning_curve

            plot_learning_curve(out / "metrics.jsonl", out / "learning_curve.png", metrics=curve_metrics,
                                log_y=log_y, title=f"{name}: {results['model']}")
            if plot is not None:
                plot(model, task, out, device)
        return results
