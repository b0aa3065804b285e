"""Forward + backward time of `memnets.LSTM` against ``torch.nn.LSTM``.

    python -m benchmarks.bench_lstm [--device cpu|cuda] [--threads 2] [--hidden 256 32]
                                    [--steps 100] [--batch 64] [--input 32] [--layers 1]
                                    [--rounds 7] [--repeats 3] [--json out.json]

Both models hold the same weights (memnets loads torch's state dict) and run the same
batch: one timed call is a forward pass over the whole (T, B, I) sequence plus the
backward pass of the summed output. Each round times every model ``--repeats`` times,
the models interleaved; the reported figure is the median over rounds of the per-call
mean (robust to other processes on a shared machine), with the ratio ours / torch.

On a CPU torch runs its fused oneDNN LSTM kernel (forward and backward in C++); on a GPU,
cuDNN. memnets runs a Python loop over time steps (one matrix product per step, the input
projection of all steps in one product beforehand) with the update of
`memnets.functional.lstm_update`, so the ratio measures the price of keeping the
gate arithmetic in one readable, variant-aware place.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from memnets.nn.recurrent.rnn import LSTM

#: Default problem: T = 100 steps, B = 64, 32 input features.
_STEPS, _BATCH, _INPUT = 100, 64, 32
#: Default hidden sizes: a typical one and a small one, where per-step overhead dominates.
_HIDDEN = (256, 32)


def _sync(device: torch.device):
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def time_model(model: torch.nn.Module, x: torch.Tensor, repeats: int, sync) -> float:
    """Mean seconds of one forward + backward call over ``repeats`` calls."""
    sync()
    start = time.perf_counter()
    for _ in range(repeats):
        output, _ = model(x)
        output.sum().backward()
    sync()
    return (time.perf_counter() - start) / repeats


def bench(hidden: int, args: argparse.Namespace, device: torch.device) -> dict:
    torch.manual_seed(0)
    ref = torch.nn.LSTM(args.input, hidden, num_layers=args.layers).to(device)
    ours = LSTM(args.input, hidden, num_layers=args.layers).to(device)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(args.steps, args.batch, args.input, device=device, requires_grad=True)
    with torch.no_grad():
        max_diff = (ours(x)[0] - ref(x)[0]).abs().max().item()
    models = {"torch": ref, "memnets": ours}
    sync = _sync(device)
    for model in models.values():  # warm-up
        time_model(model, x, 1, sync)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            times[name].append(time_model(model, x, args.repeats, sync))
    median = {name: statistics.median(t) for name, t in times.items()}
    return {
        "hidden": hidden,
        "torch_ms": 1e3 * median["torch"],
        "memnets_ms": 1e3 * median["memnets"],
        "torch_min_ms": 1e3 * min(times["torch"]),
        "memnets_min_ms": 1e3 * min(times["memnets"]),
        "ratio": median["memnets"] / median["torch"],
        "max_abs_diff": max_diff,
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (on a GPU torch uses cuDNN)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(_HIDDEN))
    parser.add_argument("--steps", type=int, default=_STEPS, help="sequence length T")
    parser.add_argument("--batch", type=int, default=_BATCH, help="batch size B")
    parser.add_argument("--input", type=int, default=_INPUT, help="input features I")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"memnets.LSTM vs torch.nn.LSTM, forward + backward, T={args.steps} B={args.batch} "
          f"I={args.input} layers={args.layers}, device={device}, threads={torch.get_num_threads()}, "
          f"torch {torch.__version__}")
    print(f"{'hidden':>6} {'torch ms':>9} {'memnets ms':>10} {'ratio':>6}   (median of {args.rounds} rounds)")
    results = []
    for hidden in args.hidden:
        r = bench(hidden, args, device)
        results.append(r)
        print(f"{hidden:>6} {r['torch_ms']:>9.2f} {r['memnets_ms']:>10.2f} {r['ratio']:>6.2f}   "
              f"(min {r['torch_min_ms']:.2f} / {r['memnets_min_ms']:.2f}; max |diff| {r['max_abs_diff']:.1e})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
