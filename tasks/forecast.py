"""Forecasting: observe 50 steps of a noisy two-sine series, predict the next 10 (TASKS.md).

    python -m tasks.forecast --out runs/forecast [--seed S] [--steps N] [--models gru/seq2seq esn/direct ...]
    python -m tasks.forecast --out runs/forecast --steps 1200 --resume    # continue the trained models

Compares, on one fixed test set, the naive forecast (repeat the last value), linear
autoregression, RNN, LSTM, GRU, an echo-state network, NARX and Jordan networks and a TDNN,
with the three multi-step strategies of TASKS.md (iterate a one-step model, predict all
10 values at once, sequence-to-sequence with a 10-vector at every step) and an
encoder–decoder. Trained models go through the shared loop (one subfolder each, loadable
with ``memnets.load``); the linear models and the ESN are fitted in closed form. Writes
``metrics.json`` (the task harness's layout, one setting per model, plus ``test_mse`` and
``seconds``) and ``results.md`` (one table of test MSEs) into ``--out``, and unless
``--no-plots`` each trained model's ``learning_curve.png`` in its subfolder.
``--resume`` and ``--overwrite`` apply to every trained model's subfolder.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional as F

from memnets.data.series import (
    CONTEXT_STEPS,
    HORIZON_STEPS,
    forecast_windows,
    sine_mixture_series,
)
from memnets.nn.recurrent import (
    NARX,
    TDNN,
    EchoStateNetwork,
    EncoderDecoder,
    InputFeedback,
    JordanRNN,
    SequenceToSequence,
    SequenceToVector,
    generate,
    ridge_regression,
    teacher_forcing_probability,
)
from memnets.training import (
    Task,
    fit,
    is_main_process,
    option,
    save_model,
    write_json,
)
from memnets.training.checkpoint import check_run_directory
from tasks import _harness

#: Seed offsets of the fixed data sets, so they never overlap the training stream.
_TEST_SEED_OFFSET, _FIT_SEED_OFFSET = 1_000_000, 2_000_000

STRATEGIES = {
    "naive": "last value repeated",
    "iterate": "iterate one-step",
    "direct": "all 10 at once",
    "seq2seq": "seq2seq, 10-vector per step",
    "encoder-decoder": "encoder–decoder",
    "scheduled-sampling": "iterate one-step (scheduled sampling)",
}

ALL_MODELS = (
    "naive", "linear/direct", "linear/iterate",
    "rnn/iterate", "rnn/direct", "rnn/seq2seq",
    "lstm/iterate", "lstm/direct", "lstm/seq2seq",
    "gru/iterate", "gru/direct", "gru/seq2seq", "gru/encoder-decoder",
    "esn/iterate", "esn/direct", "esn/seq2seq",
    "narx/iterate", "narx/scheduled-sampling", "jordan/iterate", "tdnn/seq2seq",
)

#: Every model ``--models`` accepts: the default table and the other pairings the script builds.
MODELS = ALL_MODELS + ("rnn/encoder-decoder", "lstm/encoder-decoder", "jordan/scheduled-sampling")


@dataclass
class ForecastConfig(_harness.TaskConfig):
    """Forecast the next 10 values of a series from its first 50, with each model and strategy.

    Args:
        models: the table's rows, ``family/strategy`` (`MODELS`), in order.
        hidden_size: units of every trained model.
        test_series: series of the fixed test set.
        fit_series: series the closed-form models are fitted on.
        ar_order: p of the linear AR(p) model (at most the 50 observed steps).
        esn_size: units of the echo-state reservoir.
        esn_spectral_radius: the reservoir's spectral radius (>= 0).
        esn_input_scaling: the scale of the reservoir's input weights (>= 0).
        esn_leak_rate: the reservoir's leak rate, in (0, 1].
        esn_ridge: the ridge penalty of the ESN readouts (>= 0).
        esn_washout: the steps left out of the ESN fits (below the 50 observed steps).
        narx_delays: output delays of the NARX network.
        tdnn_delays: delays of each TDNN layer.
        schedule_k: k of the inverse-sigmoid scheduled-sampling schedule (>= 1).
    """

    out: str = "runs/forecast"
    steps: int = 600
    batch_size: int = 32
    lr: float = 5e-3
    clip_norm: float | None = 1.0
    eval_every: int = 300
    checkpoint_every: int = 600
    log_every: int = 50
    progress: bool = False
    threads: int | None = option(1, low=1)
    models: tuple[str, ...] = option(ALL_MODELS, choices=MODELS)
    hidden_size: int = option(20, low=1)
    test_series: int = option(1000, low=1)
    fit_series: int = option(2000, low=1)
    ar_order: int = option(20, low=1, high=CONTEXT_STEPS)
    esn_size: int = option(300, low=1)
    esn_spectral_radius: float = option(0.9, low=0.0)
    esn_input_scaling: float = option(1.0, low=0.0)
    esn_leak_rate: float = option(0.5, low=0.0, high=1.0, open_low=True)
    esn_ridge: float = option(1e-6, low=0.0)
    esn_washout: int = option(10, low=0, high=CONTEXT_STEPS - 1)
    narx_delays: int = option(10, low=1)
    tdnn_delays: int = option(8, low=1)
    schedule_k: float = option(100.0, low=1.0)

    def validate(self) -> None:
        super().validate()
        if not self.models:
            raise ValueError("ForecastConfig: expected at least one of models, got none")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"ForecastConfig: expected models without repeats, got {self.models}")


def _mse(prediction: Tensor, future: Tensor) -> float:
    return F.mse_loss(prediction, future).item()


# ---------------------------------------------------------------------------- strategies
# Each strategy: a training loss on full series (T = 60) and a forecast from the context.


def _iterate_loss(model: nn.Module, series: Tensor, teacher_prob: float) -> Tensor:
    y, _ = model(series[:-1])
    return F.mse_loss(y, series[1:])


def _iterate_forecast(model: nn.Module, context: Tensor) -> Tensor:
    return generate(InputFeedback(model, 1), HORIZON_STEPS, prefix=context)


def _feedback_loss(model: nn.Module, series: Tensor, teacher_prob: float) -> Tensor:
    mode = "teacher_forcing" if teacher_prob >= 1.0 else "scheduled_sampling"
    # The model's forward unrolls it (through DistributedDataParallel's forward under torchrun).
    y, _ = model(targets=series[1:], mode=mode, y0=series[0], teacher_prob=teacher_prob)
    return F.mse_loss(y, series[1:])


def _feedback_forecast(model: nn.Module, context: Tensor) -> Tensor:
    return generate(model, HORIZON_STEPS, prefix=context)


def _direct_loss(model: nn.Module, series: Tensor, teacher_prob: float) -> Tensor:
    return F.mse_loss(model(series[:CONTEXT_STEPS]), series[CONTEXT_STEPS:, :, 0].T)


def _direct_forecast(model: nn.Module, context: Tensor) -> Tensor:
    return model(context).T[..., None]


def _seq_out(model: nn.Module, x: Tensor) -> Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


def _seq2seq_loss(model: nn.Module, series: Tensor, teacher_prob: float) -> Tensor:
    return F.mse_loss(_seq_out(model, series[:CONTEXT_STEPS]), forecast_windows(series, HORIZON_STEPS))


def _seq2seq_forecast(model: nn.Module, context: Tensor) -> Tensor:
    return _seq_out(model, context)[-1].T[..., None]


def _encdec_loss(model: nn.Module, series: Tensor, teacher_prob: float) -> Tensor:
    context, future = series[:CONTEXT_STEPS], series[CONTEXT_STEPS:]
    return F.mse_loss(model(context, targets=future, y0=context[-1]), future)


def _encdec_forecast(model: nn.Module, context: Tensor) -> Tensor:
    return model(context, steps=HORIZON_STEPS, y0=context[-1])


_STRATEGY_FNS: dict[str, tuple[Callable, Callable]] = {
    "iterate": (_iterate_loss, _iterate_forecast),
    "feedback": (_feedback_loss, _feedback_forecast),
    "direct": (_direct_loss, _direct_forecast),
    "seq2seq": (_seq2seq_loss, _seq2seq_forecast),
    "encoder-decoder": (_encdec_loss, _encdec_forecast),
}


def build_trained_model(name: str, cfg: ForecastConfig) -> tuple[nn.Module, str]:
    """The model and the strategy functions of a trained entry of the table."""
    family, strategy = name.split("/")
    H = cfg.hidden_size
    if family in ("rnn", "lstm", "gru"):
        if strategy == "iterate":
            return SequenceToSequence(1, H, 1, cell=family), "iterate"
        if strategy == "direct":
            return SequenceToVector(1, H, HORIZON_STEPS, cell=family), "direct"
        if strategy == "seq2seq":
            return SequenceToSequence(1, H, HORIZON_STEPS, cell=family), "seq2seq"
        if strategy == "encoder-decoder":
            return EncoderDecoder(1, H, 1, cell=family), "encoder-decoder"
    if family == "narx":
        return NARX(0, H, 1, output_delays=cfg.narx_delays), "feedback"
    if family == "jordan":
        return JordanRNN(0, H, 1, decay=0.5), "feedback"
    if family == "tdnn" and strategy == "seq2seq":
        return TDNN(1, H, HORIZON_STEPS, delays=cfg.tdnn_delays, num_layers=2), "seq2seq"
    raise ValueError(f"forecast: unknown model {name!r}; expected one of {ALL_MODELS}")


class ForecastTask(Task):
    """Fresh series every step; the loss of one strategy; test MSE on a fixed set."""

    batch_dim = 1  # time-major (T, B, 1) series

    def __init__(self, strategy: str, test_context: Tensor, test_future: Tensor, schedule_k: float | None = None):
        self.loss_fn, self.forecast_fn = _STRATEGY_FNS[strategy]
        self.test_context, self.test_future = test_context, test_future
        self.schedule_k = schedule_k
        self.step = 0

    @property
    def teacher_prob(self) -> float:
        if self.schedule_k is None:
            return 1.0
        return teacher_forcing_probability(self.step, "inverse_sigmoid", k=self.schedule_k)

    def sample(self, batch_size: int, generator: torch.Generator, device: torch.device) -> Tensor:
        return sine_mixture_series(batch_size, generator=generator).to(device)

    def loss(self, model: nn.Module, batch: Tensor) -> tuple[Tensor, dict[str, float]]:
        return self.loss_fn(model, batch, self.teacher_prob), {"teacher_prob": self.teacher_prob}

    def evaluate(self, model: nn.Module, generator: torch.Generator, device: torch.device) -> dict[str, float]:
        prediction = self.forecast_fn(model, self.test_context.to(device))
        return {"mse": _mse(prediction, self.test_future.to(device))}

    def curriculum(self, step: int, metrics: dict[str, float]) -> None:
        self.step = step

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state.get("step", 0))


# ---------------------------------------------------------------------------- closed form


def _save_fitted(model: nn.Module, path: Path, cfg: ForecastConfig) -> None:
    """A checkpoint that ``memnets.load`` reads, for a model fitted without the loop."""
    save_model(model, path / "model.pt", config=dataclasses.asdict(cfg))


def closed_form(name: str, cfg: ForecastConfig, train: Tensor, context: Tensor) -> Tensor:
    """Fit a closed-form model on ``train`` (T = 60 series) and forecast from ``context``."""
    if name == "naive":
        return context[-1:].expand(HORIZON_STEPS, -1, -1)
    if name == "linear/direct":  # least squares from the 50 observed values to the 10 future ones
        weight, bias = ridge_regression(train[:CONTEXT_STEPS, :, 0].T, train[CONTEXT_STEPS:, :, 0].T)
        return (context[:, :, 0].T @ weight.T + bias).T[..., None]
    if name == "linear/iterate":  # AR(p) one-step model, fitted on every window, then iterated
        p = cfg.ar_order
        windows = rearrange(train[:, :, 0].unfold(0, p + 1, 1), "w b k -> (w b) k")
        weight, bias = ridge_regression(windows[:, :p], windows[:, p:])
        history = context[-p:, :, 0].T  # (B, p)
        outputs = []
        for _ in range(HORIZON_STEPS):
            nxt = history @ weight.T + bias
            outputs.append(nxt)
            history = torch.cat([history[:, 1:], nxt], dim=1)
        return torch.stack(outputs)
    if name.startswith("esn/"):
        strategy = name.split("/")[1]
        out_size = 1 if strategy == "iterate" else HORIZON_STEPS
        esn = EchoStateNetwork(1, cfg.esn_size, out_size, spectral_radius=cfg.esn_spectral_radius,
                               input_scaling=cfg.esn_input_scaling, leak_rate=cfg.esn_leak_rate,
                               ridge=cfg.esn_ridge, seed=cfg.seed)
        if strategy == "iterate":
            esn.fit(train[:-1], train[1:], washout=cfg.esn_washout)
            prediction = generate(InputFeedback(esn, 1), HORIZON_STEPS, prefix=context)
        elif strategy == "direct":
            esn.fit(train[:CONTEXT_STEPS], train[CONTEXT_STEPS:, :, 0].T)
            prediction = esn(context)[0][-1].T[..., None]
        else:
            esn.fit(train[:CONTEXT_STEPS], forecast_windows(train, HORIZON_STEPS), washout=cfg.esn_washout)
            prediction = esn(context)[0][-1].T[..., None]
        _save_fitted(esn, Path(cfg.out) / name.replace("/", "-"), cfg)
        return prediction
    raise ValueError(f"forecast: unknown closed-form model {name!r}")


def results_table(results: dict[str, dict[str, Any]]) -> str:
    """The markdown table of test MSEs, each against the naive and the linear baselines."""
    naive = results.get("naive", {}).get("mse")
    linear = results.get("linear/direct", {}).get("mse")
    lines = ["| model | strategy | test MSE | × naive | × linear (direct) | fit time (s) |",
             "|---|---|---:|---:|---:|---:|"]
    for name, row in results.items():
        family = name.split("/")[0]
        vs_naive = f"{row['mse'] / naive:.2f}" if naive else "—"
        vs_linear = f"{row['mse'] / linear:.2f}" if linear else "—"
        lines.append(f"| {family} | {STRATEGIES[row['strategy']]} | {row['mse']:.5f} | {vs_naive} | {vs_linear} "
                     f"| {row['seconds']:.1f} |")
    return "\n".join(lines)


def _is_closed_form(name: str) -> bool:
    return name == "naive" or name.startswith(("linear/", "esn/"))


def main(argv=None) -> dict:
    cfg = _harness.parse(ForecastConfig, argv, __doc__)
    out = Path(cfg.out)
    for name in cfg.models:  # each trained model's run is a subfolder: protect each one before any work
        if not _is_closed_form(name):
            try:
                check_run_directory(out / name.replace("/", "-"), resume=cfg.resume, overwrite=cfg.overwrite,
                                    steps=cfg.steps)
            except ValueError as error:
                _harness.usage_error(str(error))
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    test = sine_mixture_series(cfg.test_series, generator=torch.Generator().manual_seed(cfg.seed + _TEST_SEED_OFFSET))
    train = sine_mixture_series(cfg.fit_series, generator=torch.Generator().manual_seed(cfg.seed + _FIT_SEED_OFFSET))
    context, future = test[:CONTEXT_STEPS], test[CONTEXT_STEPS:]
    results: dict[str, dict[str, Any]] = {}
    steps = parameters = 0
    for name in cfg.models:
        start = time.perf_counter()
        strategy = name.split("/")[-1]
        if _is_closed_form(name):
            if not is_main_process():  # fitted in closed form (and saved) by rank 0 alone
                continue
            with torch.no_grad():
                mse = _mse(closed_form(name, cfg, train, context), future)
        else:
            torch.manual_seed(cfg.seed)
            model, kind = build_trained_model(name, cfg)
            schedule = cfg.schedule_k if strategy == "scheduled-sampling" else None
            task = ForecastTask(kind, context, future, schedule)
            run_out = out / name.replace("/", "-")
            with _harness.exits_cleanly(run_out):
                result = fit(model, task, dataclasses.replace(cfg, out=str(run_out)))
            if not is_main_process():  # rank 0 alone reports and writes
                continue
            mse = result.last_eval["mse"]
            steps, parameters = result.step, parameters + sum(p.numel() for p in model.parameters())
            if cfg.plots:
                from memnets.training.plots import plot_learning_curve

                plot_learning_curve(run_out / "metrics.jsonl", run_out / "learning_curve.png",
                                    metrics=("loss", "eval/mse"), title=f"forecast: {name}")
        results[name] = {"mse": mse, "strategy": strategy, "seconds": time.perf_counter() - start}
        print(f"{name:28s} test MSE {mse:.5f}  ({results[name]['seconds']:.1f} s)", flush=True)
    if not is_main_process():  # under torchrun, rank 0 alone evaluates, writes and plots
        return {}
    table = results_table(results)
    print(table)
    (out / "results.md").write_text(table + "\n")
    metrics = {
        "task": "forecast",
        "model": ", ".join(cfg.models),
        "seed": cfg.seed,
        "steps": steps,
        "examples": steps * cfg.batch_size,
        "parameters": parameters,
        "evaluation": {k: {"mse": v["mse"], "seconds": v["seconds"]} for k, v in results.items()},
        "config": dataclasses.asdict(cfg),
        "test_mse": {k: v["mse"] for k, v in results.items()},
        "seconds": {k: v["seconds"] for k, v in results.items()},
    }
    write_json(out / "metrics.json", metrics)
    return metrics


if __name__ == "__main__":
    main()
