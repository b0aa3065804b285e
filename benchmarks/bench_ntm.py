"""Training throughput of the NTM on the copy task, against a plain LSTM of similar size.

    python -m benchmarks.bench_ntm [--batch-sizes 1 64] [--threads 2] [--device cpu]
                                   [--lengths sequence|batch] [--rounds 5] [--json out.json]
                                   [--pytorch-ntm PATH-TO-A-CLONE]

Measures sequences per second of whole training steps (forward, backward and an Adam
step) of `memnets.NTM` with its default sizes (LSTM controller of 100 units,
128 x 20 memory, one read and one write head, shifts -1..1) on copy-task batches
(9 input channels, 8 output, L ~ U{1..20}; `memnets.data.copy_batch` and
`memnets.data.masked_bce_loss`). The baseline is a 3-layer ``torch.nn.LSTM`` with a
linear read-out (Graves et al. 2014, §4), its hidden size chosen so that its parameter
count is the closest to the NTM's.

``--lengths sequence`` (default) draws L per sequence and pads each batch to its longest
(T = 2 max L + 1, what the library's task scripts train on); ``--lengths batch`` draws one
L per batch, as pytorch-ntm does. Both models see the same batches. Each round runs every
model once over the same pool of batches, models interleaved; the reported figure is the
median over rounds (robust to other processes on a shared machine). Data generation is
not timed. The columns "seq/cpu-s" divide by the process's CPU time instead of wall-clock
time: with ``--threads 1`` on a busy machine they approximate the figures of an idle one.
With ``--pytorch-ntm PATH`` (a clone of pytorch-ntm; CPU only) its ``EncapsulatedNTM``,
with the sizes of its copy task, trains on the same batches in the same rounds, and the
table adds its throughput and the ratio.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys

import torch
from torch import Tensor, nn

from benchmarks._common import configure_torch, count, import_reference, speedup, write_json
from benchmarks._common import train_round as timed_round
from memnets.data.bits import BitBatch, copy_batch, masked_bce_loss
from memnets.nn.memory.ntm import NTM
from memnets.training.compilation import try_compile_steps

#: Copy-task channels: 8 data bits + 1 delimiter in, 8 bits out (TASKS.md).
_IN, _OUT = 9, 8
#: Fewest batches per round: L varies per sequence (``"sequence"``) or per batch (``"batch"``).
_MIN_BATCHES = {"sequence": 8, "batch": 24}
#: Layers of the LSTM baseline (Graves et al. 2014 compare against a 3-layer LSTM).
_LSTM_LAYERS = 3


class LSTMReadout(nn.Module):
    """A stacked ``torch.nn.LSTM`` with a linear read-out: ``(T, B, in) -> (T, B, out)``."""

    def __init__(self, input_size: int, output_size: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers)
        self.readout = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        hidden, _ = self.lstm(x)
        return self.readout(hidden), None


class PytorchNTMAdapter(nn.Module):
    """pytorch-ntm's ``EncapsulatedNTM`` behind this benchmark's ``(T, B, in) -> (logits, None)``.

    pytorch-ntm (github.com/loudinthecloud/pytorch-ntm) is not a dependency: pass the folder
    of a clone with ``--pytorch-ntm``. Its model is built with the sizes of its copy task
    (controller 100, one LSTM layer, one read and one write head, 128 x 20 memory) and fed
    one time step per call, as its ``train.py`` does; its sigmoid outputs are turned back
    into logits so that both models train on the same loss.
    """

    def __init__(self, encapsulated_ntm: type):
        super().__init__()
        self.net = encapsulated_ntm(_IN, _OUT, 100, 1, 1, 128, 20)

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        self.net.init_sequence(x.shape[1])
        outputs = torch.stack([self.net(x[t])[0] for t in range(x.shape[0])])
        return torch.logit(outputs, eps=1e-6), None


def load_pytorch_ntm(path: str) -> PytorchNTMAdapter:
    """Import ``ntm.aio.EncapsulatedNTM`` from a clone of pytorch-ntm at ``path``."""
    return PytorchNTMAdapter(import_reference(path, "ntm.aio", "EncapsulatedNTM", "--pytorch-ntm",
                                              "a clone of pytorch-ntm (with ntm/aio.py)"))


def matched_lstm(target: int, num_layers: int) -> LSTMReadout:
    """The LSTM baseline whose parameter count is the closest to ``target``."""
    best = min(range(4, 512), key=lambda h: abs(count(LSTMReadout(_IN, _OUT, h, num_layers)) - target))
    return LSTMReadout(_IN, _OUT, best, num_layers)


def make_batches(batch_size: int, num: int, lengths: str, seed: int, device: torch.device) -> list[BitBatch]:
    gen = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(num):
        if lengths == "batch":
            length = int(torch.randint(1, 21, (1,), generator=gen))
            batches.append(copy_batch(batch_size, length=length, generator=gen, device=device))
        else:
            batches.append(copy_batch(batch_size, generator=gen, device=device))
    return batches


def train_round(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[BitBatch],
                sync) -> tuple[float, float]:
    """Wall-clock and process CPU seconds for one training step on each batch."""
    return timed_round(model, optimizer, batches, masked_bce_loss, sync)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--lengths", choices=["sequence", "batch"], default="sequence",
                        help="draw L per sequence (padded batches) or one L per batch")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per batch size (median reported)")
    parser.add_argument("--sequences", type=int, default=128,
                        help="sequences per round (at least 8 batches, 24 with --lengths batch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                        help="compile the NTM's step, as the task scripts do by default (--no-compile: eager)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--pytorch-ntm", default=None, metavar="PATH",
                        help="also time pytorch-ntm's EncapsulatedNTM from a clone at PATH (CPU only)")
    args = parser.parse_args(argv)

    device, sync = configure_torch(args.threads, args.device, args.seed)
    ntm = NTM(_IN, _OUT).to(device)
    compiled = False
    if args.compile:
        reason = try_compile_steps(ntm, device)
        compiled = reason is None
        if not compiled:
            print(f"torch.compile is not available ({reason}): the NTM runs eager")
    lstm = matched_lstm(count(ntm), _LSTM_LAYERS).to(device)
    models = {"NTM": ntm, "LSTM": lstm}
    if args.pytorch_ntm is not None:
        if device.type != "cpu":
            parser.error("--pytorch-ntm runs on the CPU only (its model creates its inputs on the CPU)")
        models["pytorch-ntm"] = load_pytorch_ntm(args.pytorch_ntm)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, lengths per {args.lengths}")
    print(f"NTM: {count(ntm):,} parameters (controller 100, memory 128 x 20, 1 read + 1 write head), "
          f"{'step compiled' if compiled else 'eager'}")
    print(f"LSTM: {count(lstm):,} parameters ({_LSTM_LAYERS} layers x {lstm.lstm.hidden_size} + read-out)")
    if "pytorch-ntm" in models:
        print(f"pytorch-ntm: {count(models['pytorch-ntm']):,} parameters (its copy-task sizes)")

    results = {"device": str(device), "threads": torch.get_num_threads(), "lengths": args.lengths, "compiled": compiled,
               "torch": torch.__version__, "params": {k: count(m) for k, m in models.items()}, "batch": {}}
    print(f"\n{'batch':>5} {'T mean':>7} {'NTM seq/s':>10} {'LSTM seq/s':>11} {'LSTM/NTM':>9} "
          f"{'NTM seq/cpu-s':>12} {'LSTM seq/cpu-s':>13}"
          + (f" {'pytorch-ntm seq/s':>18} {'NTM/pytorch-ntm':>16}" if "pytorch-ntm" in models else ""))
    for batch_size in args.batch_sizes:
        # Enough batches that the pool's lengths are representative (one L per batch needs more).
        num = max(_MIN_BATCHES[args.lengths], math.ceil(args.sequences / batch_size))
        batches = make_batches(batch_size, num, args.lengths, args.seed + batch_size, device)
        mean_t = statistics.mean(b.inputs.shape[0] for b in batches)
        optimizers = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
        for name, model in models.items():  # warm-up: allocator, thread pools, lazy inits
            train_round(model, optimizers[name], batches[:2], sync)
        rates = {name: [] for name in models}
        cpu_rates = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                seconds, cpu_seconds = train_round(model, optimizers[name], batches, sync)
                rates[name].append(num * batch_size / seconds)
                cpu_rates[name].append(num * batch_size / max(cpu_seconds, 1e-9))
        median = {name: statistics.median(r) for name, r in rates.items()}
        cpu_median = {name: statistics.median(r) for name, r in cpu_rates.items()}
        results["batch"][batch_size] = {"mean_T": mean_t, "seq_per_s": median, "rounds": rates,
                                        "seq_per_cpu_s": cpu_median}
        print(f"{batch_size:>5} {mean_t:>7.1f} {median['NTM']:>10.1f} {median['LSTM']:>11.1f} "
              f"{median['LSTM'] / median['NTM']:>8.2f}x {cpu_median['NTM']:>12.1f} {cpu_median['LSTM']:>13.1f}"
              + (f" {median['pytorch-ntm']:>18.1f} {median['NTM'] / median['pytorch-ntm']:>15.2f}x"
                 if "pytorch-ntm" in models else ""))
        if "pytorch-ntm" in models:
            factor, direction = speedup(median["NTM"] / median["pytorch-ntm"])
            print(f"      batch {batch_size}: memnets' NTM is {factor:.2f}x {direction} than pytorch-ntm")
        sys.stdout.flush()

    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
