"""Long dependencies: the adding problem, where the Elman RNN fails and the LSTM and GRU learn.

    python -m tasks.long_dependency --out runs/long_dependency [--seed S] [--steps N] [--length T]
    python -m tasks.long_dependency --cells lstm gru --steps 3000 --resume    # continue the runs

Hochreiter & Schmidhuber (1997), experiment 4, in the form of Le, Jaitly & Hinton (2015):
add the two marked numbers of a sequence of T; always answering 1 scores MSE 1/6. Trains
an Elman RNN, an LSTM and a GRU of the same width with the shared loop (one subfolder
each), reports their test MSE against that baseline, and measures the gradient-flow
diagnostic $\\lVert \\partial L_T / \\partial s_k \\rVert$ against $k$ for each cell, at
initialisation and after training (``gradient_norms.png`` unless ``--no-plots``, and
``metrics.json``: the task harness's layout, one setting per cell, plus ``results`` and
``gradient_norms``). ``--resume`` and ``--overwrite`` apply to every cell's subfolder.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from memnets.data.series import ADDING_BASELINE_MSE, adding_problem
from memnets.nn.recurrent.cells import GRUCell, LSTMCell, RNNCell
from memnets.nn.recurrent.modes import SequenceToVector
from memnets.training import Task, fit, is_main_process, option, write_json
from memnets.training.checkpoint import check_run_directory
from memnets.training.gradflow import plot_gradient_norms, state_gradient_norms
from tasks import _harness

_CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
#: Seed offset of the fixed test set.
_TEST_SEED_OFFSET = 1_000_000


@dataclass
class LongDependencyConfig(_harness.TaskConfig):
    """The adding problem with an Elman RNN, an LSTM and a GRU; the gradient-norm diagnostic.

    Args:
        length: T, the length of every sequence.
        hidden_size: units of every model.
        cells: the recurrent cells trained, in order (rnn, lstm, gru).
        test_sequences: sequences of the fixed test set.
        diagnostic_sequences: test sequences the gradient norms are averaged over.
    """

    out: str = "runs/long_dependency"
    steps: int = 1500
    batch_size: int = 32
    lr: float = 3e-3
    clip_norm: float | None = 1.0
    eval_every: int = 250
    checkpoint_every: int = 500
    log_every: int = 50
    progress: bool = False
    threads: int | None = option(1, low=1)
    length: int = option(50, low=2)
    hidden_size: int = option(32, low=1)
    cells: tuple[str, ...] = option(("rnn", "lstm", "gru"), choices=tuple(_CELLS))
    test_sequences: int = option(1000, low=1)
    diagnostic_sequences: int = option(64, low=1)

    def validate(self) -> None:
        super().validate()
        if not self.cells:
            raise ValueError("LongDependencyConfig: expected at least one of cells, got none")
        if len(set(self.cells)) != len(self.cells):
            raise ValueError(f"LongDependencyConfig: expected cells without repeats, got {self.cells}")


class AddingTask(Task):
    """Fresh adding-problem sequences every step; MSE on a fixed test set."""

    batch_dim = (1, 0)  # x (T, B, 2) time-major, y (B, 1)

    def __init__(self, length: int, test: tuple[Tensor, Tensor]):
        self.length, self.test = length, test

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> tuple[Tensor, Tensor]:
        x, y = adding_problem(batch_size, self.length, generator=generator)
        return x.to(device), y.to(device)

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, dict[str, float]]:
        x, y = batch
        return F.mse_loss(model(x), y), {}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        x, y = self.test
        mse = F.mse_loss(model(x.to(device)), y.to(device)).item()
        return {"mse": mse, "mse_over_baseline": mse / ADDING_BASELINE_MSE}


def cell_of(model: SequenceToVector, kind: str) -> nn.Module:
    """The first recurrent layer of ``model`` as a cell with the same weights."""
    layer = model.rnn
    cell = _CELLS[kind](layer.input_size, layer.hidden_size).to(next(model.parameters()).device)
    cell.load_state_dict({name: getattr(layer, f"{name}_l0") for name in ("weight_ih", "weight_hh", "bias_ih",
                                                                           "bias_hh")}, strict=False)
    return cell


def gradient_norms(model: SequenceToVector, kind: str, x: Tensor, y: Tensor) -> Tensor:
    """$\\lVert \\partial L_T / \\partial s_k \\rVert$, k = 0..T, with L_T the model's MSE from h_T."""
    cell = cell_of(model, kind)
    return state_gradient_norms(cell, x, lambda h: F.mse_loss(model.head(h), y))


def main(argv=None) -> dict[str, Any]:
    cfg = _harness.parse(LongDependencyConfig, argv, __doc__)
    out = Path(cfg.out)
    for kind in cfg.cells:  # each cell's run is a subfolder: protect each one before any work
        try:
            check_run_directory(out / kind, resume=cfg.resume, overwrite=cfg.overwrite, steps=cfg.steps)
        except ValueError as error:
            _harness.usage_error(str(error))
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    test = adding_problem(cfg.test_sequences, cfg.length,
                          generator=torch.Generator().manual_seed(cfg.seed + _TEST_SEED_OFFSET))
    probe = (test[0][:, : cfg.diagnostic_sequences], test[1][: cfg.diagnostic_sequences])
    results: dict[str, Any] = {}
    curves: dict[str, Tensor] = {}
    evaluation: dict[str, dict[str, Any]] = {}
    steps = parameters = 0
    for kind in cfg.cells:
        torch.manual_seed(cfg.seed)
        start = time.perf_counter()
        model = SequenceToVector(2, cfg.hidden_size, 1, cell=kind, pooling="last")
        initial = gradient_norms(model, kind, *probe)
        with _harness.exits_cleanly(out / kind):
            result = fit(model, AddingTask(cfg.length, test), dataclasses.replace(cfg, out=str(out / kind)))
        if not is_main_process():  # under torchrun, rank 0 alone measures, writes and plots
            continue
        model.eval()
        curves[f"{kind} (trained)"] = gradient_norms(model, kind, *probe)
        curves[f"{kind} (at init)"] = initial
        mse = result.last_eval["mse"]
        history = [(r["step"], r["eval/mse"]) for r in result.history if "eval/mse" in r]
        results[kind] = {
            "test_mse": mse,
            "mse_over_baseline": mse / ADDING_BASELINE_MSE,
            "eval_history": history,
            "seconds": time.perf_counter() - start,
            "grad_norm_ratio_init": float(initial[0] / initial[-1]),
            "grad_norm_ratio_trained": float(curves[f"{kind} (trained)"][0] / curves[f"{kind} (trained)"][-1]),
        }
        evaluation[kind] = {k: results[kind][k] for k in ("test_mse", "mse_over_baseline", "grad_norm_ratio_init",
                                                          "grad_norm_ratio_trained")}
        steps, parameters = result.step, parameters + sum(p.numel() for p in model.parameters())
        print(f"{kind:5s} test MSE {mse:.4f} ({mse / ADDING_BASELINE_MSE:.3f} x the baseline 1/6); "
              f"|dL/ds_0| / |dL/ds_T| = {results[kind]['grad_norm_ratio_init']:.2e} at init, "
              f"{results[kind]['grad_norm_ratio_trained']:.2e} trained ({results[kind]['seconds']:.0f} s)", flush=True)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    _harness.print_table(f"adding problem, T = {cfg.length}, {steps} steps per cell, seed {cfg.seed}:", evaluation,
                         {"baseline_mse": ADDING_BASELINE_MSE})
    if cfg.plots:
        plot_gradient_norms(curves, out / "gradient_norms.png",
                            title=f"adding problem, T = {cfg.length}: " + r"$\|\partial L_T / \partial s_k\|$")
    metrics = {
        "task": "long_dependency",
        "model": ", ".join(cfg.cells),
        "seed": cfg.seed,
        "steps": steps,
        "examples": steps * cfg.batch_size,
        "parameters": parameters,
        "evaluation": evaluation,
        "baseline_mse": ADDING_BASELINE_MSE,
        "results": results,
        "gradient_norms": {k: v.tolist() for k, v in curves.items()},
        "config": dataclasses.asdict(cfg),
    }
    write_json(out / "metrics.json", metrics)
    return metrics


if __name__ == "__main__":
    main()
