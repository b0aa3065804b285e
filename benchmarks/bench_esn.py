"""Echo-state network on the forecasting series: memnets vs reservoirpy, accuracy and time.

    python -m benchmarks.bench_esn [--units 300] [--fit-series 2000] [--test-series 1000] [--seed 0]

Both networks read the first 50 steps of each series and are fitted, by ridge regression
in closed form, to output the next 10 values at every step after a washout (the
sequence-to-sequence strategy of ``tasks/forecast.py``); the forecast is the output at the
last observed step. Same sizes and hyper-parameters for both (units, spectral radius,
leak rate, input scaling, connectivity, ridge, washout), readout on the reservoir states
only; each library draws its own random reservoir. Single-threaded BLAS for both.
reservoirpy is optional: the benchmark says so and skips it when it is not installed.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from memnets.data.series import CONTEXT_STEPS, HORIZON_STEPS, forecast_windows, sine_mixture_series  # noqa: E402
from memnets.nn.recurrent import EchoStateNetwork  # noqa: E402

#: The same seed offsets as tasks/forecast.py, so the test set is the task's.
_TEST_SEED_OFFSET, _FIT_SEED_OFFSET = 1_000_000, 2_000_000


def _mse(prediction: np.ndarray, future: np.ndarray) -> float:
    return float(np.mean((prediction - future) ** 2))


def run_memnets(args, train: torch.Tensor, context: torch.Tensor) -> tuple[np.ndarray, float, float]:
    esn = EchoStateNetwork(1, args.units, HORIZON_STEPS, spectral_radius=args.spectral_radius,
                           input_scaling=args.input_scaling, leak_rate=args.leak_rate, density=args.density,
                           ridge=args.ridge, include_input=False, seed=args.seed)
    start = time.perf_counter()
    esn.fit(train[:CONTEXT_STEPS], forecast_windows(train, HORIZON_STEPS), washout=args.washout)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        prediction = esn(context)[0][-1].numpy()  # (B, 10)
    return prediction, fit_s, time.perf_counter() - start


def run_reservoirpy(args, train: torch.Tensor, context: torch.Tensor):
    try:
        import reservoirpy
        from reservoirpy.nodes import Reservoir, Ridge
    except ImportError:
        return None
    x_train = train[:CONTEXT_STEPS].permute(1, 0, 2).double().numpy()  # (B, T, 1)
    y_train = forecast_windows(train, HORIZON_STEPS).permute(1, 0, 2).double().numpy()  # (B, T, 10)
    reservoir = Reservoir(args.units, lr=args.leak_rate, sr=args.spectral_radius, input_scaling=args.input_scaling,
                          rc_connectivity=args.density, input_connectivity=1.0, seed=args.seed)
    model = reservoir >> Ridge(ridge=args.ridge)
    start = time.perf_counter()
    model.fit(x_train, y_train, warmup=args.washout)
    fit_s = time.perf_counter() - start
    x_test = context.permute(1, 0, 2).double().numpy()
    start = time.perf_counter()
    outputs = []
    for series in x_test:  # every test series from a zero reservoir state
        reservoir.reset()
        outputs.append(model.run(series)[-1])
    predict_s = time.perf_counter() - start
    return np.stack(outputs), fit_s, predict_s, reservoirpy.__version__


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--spectral-radius", type=float, default=0.9)
    parser.add_argument("--leak-rate", type=float, default=0.5)
    parser.add_argument("--input-scaling", type=float, default=1.0)
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--ridge", type=float, default=1e-6)
    parser.add_argument("--washout", type=int, default=10)
    parser.add_argument("--fit-series", type=int, default=2000)
    parser.add_argument("--test-series", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    train = sine_mixture_series(args.fit_series, generator=torch.Generator().manual_seed(args.seed + _FIT_SEED_OFFSET))
    test = sine_mixture_series(args.test_series, generator=torch.Generator().manual_seed(args.seed + _TEST_SEED_OFFSET))
    context, future = test[:CONTEXT_STEPS], test[CONTEXT_STEPS:, :, 0].T.numpy()
    naive = _mse(np.repeat(context[-1].numpy(), HORIZON_STEPS, axis=1), future)
    rows = {}
    prediction, fit_s, predict_s = run_memnets(args, train, context)
    rows["memnets EchoStateNetwork"] = (_mse(prediction, future), fit_s, predict_s)
    other = run_reservoirpy(args, train, context)
    if other is None:
        print("reservoirpy is not installed: skipped (pip install reservoirpy to compare)")
    else:
        prediction, fit_s, predict_s, version = other
        rows[f"reservoirpy {version} Reservoir >> Ridge"] = (_mse(prediction, future), fit_s, predict_s)
    print(f"ESN, {args.units} units, {args.fit_series} training and {args.test_series} test series; "
          f"naive forecast MSE {naive:.5f}")
    print("| implementation | test MSE (10 steps) | fit (s) | forecast (s) |")
    print("|---|---:|---:|---:|")
    for name, (mse, fit_s, predict_s) in rows.items():
        print(f"| {name} | {mse:.5f} | {fit_s:.2f} | {predict_s:.2f} |")
    return {"naive_mse": naive, **{name: {"mse": r[0], "fit_s": r[1], "forecast_s": r[2]} for name, r in rows.items()}}


if __name__ == "__main__":
    main()
