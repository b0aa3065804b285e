"""Forward + backward time of `memnets.LSTM`, `GRU` and `RNN` against ``torch.nn``, and of the
LSTM variants and the other gated recurrent models against the vanilla LSTM.

    python -m benchmarks.bench_lstm [--device cpu|cuda] [--threads 1 2] [--hidden 32 256]
                                    [--steps 100] [--batch 64] [--input 32] [--layers 1]
                                    [--skip-layers 2] [--rounds 5] [--repeats 3]
                                    [--no-compile] [--json out.json]

Each memnets model holds the weights of its torch twin (it loads torch's state dict) and
runs the same batch: one timed call is a forward pass over the whole (T, B, I) sequence
plus the backward pass of the summed output. Each round times every model ``--repeats``
times, the models interleaved; the reported figure is the median over rounds of the
per-call mean (robust to other processes on a shared machine), the ratio of the
fastest rounds beside it in brackets, and the ratio of the process CPU times after
"cpu" (the time the process ran, which other processes on the machine do not inflate;
with several threads it adds up their times). Every ratio is printed with its direction
("memnets is N× faster/slower than torch.nn").

Where torch has a fused kernel for the configuration, memnets calls it (see
`memnets.LSTM`), so the first table measures the cost of memnets' checks around it. The
second table times, against the vanilla `memnets.LSTM` (all with their default path
unless the name says otherwise):

* the coupled and no-forget LSTMs (the vanilla kernel with rewritten weights);
* the peephole LSTM (one autograd function with a hand-derived backward), its gate-core
  autograd loop (``fused=False``), eager and, unless ``--no-compile``, with its step
  compiled by ``torch.compile`` where that works here;
* the vanilla LSTM on the gate core (``fused=False``);
* the leaky-integrator `memnets.MultiTimescaleRNN` (one autograd function with a
  hand-derived backward) and its cell loop (``fused=False``);
* the LSTM with Graves' skip connections, ``--skip-layers`` layers (the fused kernel one
  layer at a time), against a vanilla LSTM with as many layers;
* `memnets.SkipRNN` (the Elman network with a connection from two steps back).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from memnets.nn.recurrent import GRU, LSTM, RNN, MultiTimescaleRNN, SkipRNN

#: Default problem: T = 100 steps, B = 64, 32 input features.
_STEPS, _BATCH, _INPUT = 100, 64, 32
#: Default hidden sizes: a small one, where per-step overhead dominates, and a typical one.
_HIDDEN = (32, 256)
#: Default depth of the LSTM with skip connections (with one layer they change nothing).
_SKIP_LAYERS = 2
_FAMILIES = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}
#: The reference of the second table.
VANILLA = "memnets.LSTM"


def direction(ratio: float, ours: str, reference: str) -> str:
    """``"<ours> is N× slower than <reference>"`` (or faster) for a time ratio ours / reference."""
    if ratio >= 1:
        return f"{ours} is {ratio:.2f}× slower than {reference}"
    return f"{ours} is {1 / ratio:.2f}× faster than {reference}"


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def time_model(model: nn.Module, x: torch.Tensor, repeats: int, sync: Callable[[], None]) -> tuple[float, float]:
    """Mean wall-clock and process CPU seconds of one forward + backward call over ``repeats`` calls."""
    sync()
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        output, _ = model(x)
        output.sum().backward()
    sync()
    return (time.perf_counter() - start) / repeats, (time.process_time() - cpu_start) / repeats


def _times(models: dict[str, nn.Module], x: torch.Tensor, args: argparse.Namespace,
           device: torch.device) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per-call wall and CPU seconds of every model, one entry per round, the models interleaved."""
    sync = _sync(device)
    for model in models.values():  # warm-up (and compilation)
        time_model(model, x, 1, sync)
    wall: dict[str, list[float]] = {name: [] for name in models}
    cpu: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            seconds, cpu_seconds = time_model(model, x, args.repeats, sync)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    return wall, cpu


def _compiled_peephole(args: argparse.Namespace, hidden: int, device: torch.device) -> nn.Module | None:
    """The peephole LSTM with its step compiled, or ``None`` where compilation fails here."""
    model = LSTM(args.input, hidden, num_layers=args.layers, variant="peephole", fused=False).to(device)
    try:
        torch._dynamo.reset()  # one fresh compilation per configuration, within the recompile limit
        model.compile_step(dynamic=False)
        model(torch.zeros(2, 1, args.input, device=device))[0].sum().backward()
    except Exception as error:  # no C compiler, unsupported platform: report and go on eager
        print(f"  (peephole, compiled step: torch.compile unavailable here: {type(error).__name__})")
        return None
    return model


def _variants(args: argparse.Namespace, hidden: int, device: torch.device) -> tuple[dict[str, nn.Module], dict[str, str]]:
    """The models of the second table, and for each the name of the model its ratio is taken against."""
    layers = args.layers
    models: dict[str, nn.Module] = {}
    for variant in ("coupled", "no_forget", "peephole"):
        models[f"LSTM {variant}"] = LSTM(args.input, hidden, num_layers=layers, variant=variant)
    models["LSTM peephole, autograd loop"] = LSTM(args.input, hidden, num_layers=layers, variant="peephole",
                                                  fused=False)
    if args.compile:
        compiled = _compiled_peephole(args, hidden, device)
        if compiled is not None:
            models["LSTM peephole, compiled step"] = compiled
    models["LSTM vanilla, gate core"] = LSTM(args.input, hidden, num_layers=layers, fused=False)
    models["leaky (MultiTimescaleRNN)"] = MultiTimescaleRNN(args.input, hidden)
    models["leaky, cell loop"] = MultiTimescaleRNN(args.input, hidden, fused=False)
    references = {name: VANILLA for name in models}
    skip = f"LSTM skip connections, {args.skip_layers} layers"
    models[skip] = LSTM(args.input, hidden, num_layers=args.skip_layers, skip_connections=True)
    references[skip] = VANILLA
    if args.skip_layers != layers:
        deep = f"memnets.LSTM, {args.skip_layers} layers"
        models[deep] = LSTM(args.input, hidden, num_layers=args.skip_layers)
        references[skip] = deep
    models["SkipRNN (skip 2)"] = SkipRNN(args.input, hidden, skip=2)
    references["SkipRNN (skip 2)"] = VANILLA
    return {name: model.to(device) for name, model in models.items()}, references


def bench(hidden: int, threads: int, args: argparse.Namespace, device: torch.device) -> dict:
    """Both tables for one hidden size and thread count."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(args.steps, args.batch, args.input, device=device, requires_grad=True)
    models: dict[str, nn.Module] = {}
    max_diff = {}
    for family, cls in _FAMILIES.items():
        ref = getattr(torch.nn, family)(args.input, hidden, num_layers=args.layers).to(device)
        ours = cls(args.input, hidden, num_layers=args.layers).to(device)
        ours.load_state_dict(ref.state_dict())
        with torch.no_grad():
            max_diff[family] = (ours(x)[0] - ref(x)[0]).abs().max().item()
        models[f"torch.nn.{family}"], models[f"memnets.{family}"] = ref, ours
    variants, references = _variants(args, hidden, device)
    models.update(variants)
    wall, cpu = _times(models, x, args, device)
    return {"hidden": hidden, "threads": threads,
            "ms": {k: 1e3 * statistics.median(v) for k, v in wall.items()},
            "min_ms": {k: 1e3 * min(v) for k, v in wall.items()},
            "cpu_ms": {k: 1e3 * statistics.median(v) for k, v in cpu.items()},
            "references": references, "max_abs_diff": max_diff}


def report(result: dict) -> list[str]:
    """The lines printed for one `bench` result."""
    ms, best, cpu = result["ms"], result["min_ms"], result["cpu_ms"]
    head = (f"hidden {result['hidden']}, {result['threads']} thread(s)  (median wall; ratio of the fastest rounds "
            f"in [], of the median CPU times after 'cpu')")
    lines = [head]
    for family in _FAMILIES:
        ours, ref = f"memnets.{family}", f"torch.nn.{family}"
        lines.append(f"  {family:<5} torch.nn {ms[ref]:8.2f} ms  memnets {ms[ours]:8.2f} ms  "
                     f"{direction(ms[ours] / ms[ref], 'memnets', 'torch.nn')} [{best[ours] / best[ref]:.2f}] "
                     f"cpu {cpu[ours] / cpu[ref]:.2f}  (max |diff| {result['max_abs_diff'][family]:.1e})")
    for name, reference in result["references"].items():
        label = "the vanilla memnets.LSTM" if reference == VANILLA else f"the vanilla {reference}"
        lines.append(f"  {name:<36} {ms[name]:8.2f} ms  {direction(ms[name] / ms[reference], name, label)} "
                     f"[{best[name] / best[reference]:.2f}] cpu {cpu[name] / cpu[reference]:.2f}")
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (on a GPU torch uses cuDNN)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch.set_num_threads values")
    parser.add_argument("--hidden", type=int, nargs="+", default=list(_HIDDEN))
    parser.add_argument("--steps", type=int, default=_STEPS, help="sequence length T")
    parser.add_argument("--batch", type=int, default=_BATCH, help="batch size B")
    parser.add_argument("--input", type=int, default=_INPUT, help="input features I")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--skip-layers", type=int, default=_SKIP_LAYERS,
                        help="layers of the LSTM with skip connections (and of its vanilla reference)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="skip the peephole LSTM with a torch.compile'd step")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"forward + backward, T={args.steps} B={args.batch} I={args.input} layers={args.layers}, "
          f"device={device}, torch {torch.__version__}; median of {args.rounds} rounds x {args.repeats} calls")
    results = []
    for threads in args.threads:
        for hidden in args.hidden:
            result = bench(hidden, threads, args, device)
            results.append(result)
            print("\n".join(report(result)), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
