"""Training throughput of the DNC on copy batches, against pytorch-dnc's DNC with the same sizes.

    python -m benchmarks.bench_dnc [--batch-sizes 1 16] [--threads 2] [--device cpu]
                                   [--rounds 3] [--sequences 32] [--json out.json]
                                   [--memory-sizes 16 64 256] [--pytorch-dnc PATH]

Measures sequences per second of whole training steps (forward, backward and an Adam
step) of `memnets.DNC` with its default sizes (LSTM controller of 100 units, 64 x 20
memory, one write and four read heads) on copy-task batches (9 input channels, 8 output,
L ~ U{1..20} per sequence, padded to the longest: T = 2 max L + 1; `memnets.data.copy_batch`
and `memnets.data.masked_bce_loss`). Each round runs every model once over the same pool
of batches, models interleaved; the figure is the median over rounds. Data generation is
not timed.

With ``--pytorch-dnc PATH`` (a folder holding pytorch-dnc's ``dnc`` package, for instance
made by ``pip install --no-deps --target PATH dnc``; it is not a dependency of memnets)
its ``DNC`` is built with the same sizes (one LSTM layer of 100 units, 64 cells of 20,
four read heads; its default output clipping at 20) and trains on the same batches in
the same rounds; the script prints how many times faster or slower memnets is.

``--memory-sizes`` also times memnets' DNC at other numbers of slots N (one batch size,
the first of ``--batch-sizes``; pytorch-dnc too when given), with the memory that one
forward pass keeps for the backward pass (every saved tensor's storage counted once, on
any device): the cost of the N x N link matrix. ``--link-sparsity K`` runs that sweep with
memnets' row-sparse link matrix (K entries per row, Rae et al. 2016) instead.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys

import torch
from torch import Tensor, nn

from benchmarks._common import (
    configure_torch,
    count,
    import_reference,
    speedup,
    write_json,
)
from benchmarks._common import train_round as timed_round
from memnets.data.bits import BitBatch, copy_batch, masked_bce_loss
from memnets.nn.memory.dnc import DNC

#: Copy-task channels: 8 data bits + 1 delimiter in, 8 bits out.
_IN, _OUT = 9, 8
#: Fewest batches per round.
_MIN_BATCHES = 4
#: memnets.DNC's defaults, given to pytorch-dnc too.
_SIZES = dict(controller_size=100, memory_size=64, word_size=20, num_read_heads=4)


class PytorchDNCAdapter(nn.Module):
    """pytorch-dnc's ``DNC`` behind this benchmark's ``(T, B, in) -> (logits, None)``.

    pytorch-dnc (github.com/ixaxaar/pytorch-dnc, ``pip install dnc``) maps its output back
    to ``input_size`` channels; the first ``_OUT`` of them are used as the logits. Each
    call starts from a fresh memory (``reset_experience=True``), as its copy task does.
    """

    def __init__(self, dnc_class: type, memory_size: int = _SIZES["memory_size"]):
        super().__init__()
        self.net = dnc_class(
            _IN,
            _SIZES["controller_size"],
            rnn_type="lstm",
            num_layers=1,
            num_hidden_layers=1,
            nr_cells=memory_size,
            cell_size=_SIZES["word_size"],
            read_heads=_SIZES["num_read_heads"],
            batch_first=False,
        )

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        outputs, _ = self.net(x, (None, None, None), reset_experience=True)
        return outputs[..., :_OUT], None


def load_pytorch_dnc(path: str) -> PytorchDNCAdapter:
    """Import pytorch-dnc's ``dnc.DNC`` from the folder ``path``."""
    return PytorchDNCAdapter(import_reference(path, "dnc", "DNC", "--pytorch-dnc",
                                              "a folder holding pytorch-dnc's dnc package"))


def make_batches(batch_size: int, num: int, seed: int, device: torch.device) -> list[BitBatch]:
    gen = torch.Generator().manual_seed(seed)
    return [copy_batch(batch_size, generator=gen, device=device) for _ in range(num)]


def train_round(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[BitBatch], sync) -> float:
    """Wall-clock seconds for one training step on each batch."""
    return timed_round(model, optimizer, batches, masked_bce_loss, sync)[0]


def saved_mib(model: nn.Module, batch: BitBatch) -> float:
    """MiB of the tensors one forward pass keeps for the backward pass (each storage once)."""
    storages: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        logits, _ = model(batch.inputs)
        masked_bce_loss(logits, batch)
    return sum(storages.values()) / 2**20


def time_memory_sizes(sizes: list[int], batch_size: int, rounds: int, seed: int, device: torch.device,
                      sync, with_reference, link_sparsity: int | None = None) -> dict:
    """memnets' DNC (and the reference, if given) at several N: seq/s and the memory kept for backward."""
    results = {}
    print(f"\n{'N':>6} {'seq/s':>8} {'saved MiB':>10}" + (f" {'pytorch-dnc seq/s':>18}" if with_reference else ""))
    for n in sizes:
        torch.manual_seed(seed)
        sparsity = None if link_sparsity is None else min(link_sparsity, n)
        models = {"DNC": DNC(_IN, _OUT, **{**_SIZES, "memory_size": n}, link_sparsity=sparsity).to(device)}
        if with_reference:
            models["pytorch-dnc"] = with_reference(n)
        batches = make_batches(batch_size, _MIN_BATCHES, seed, device)  # the same batches at every N
        row = {}
        for name, model in models.items():
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
            train_round(model, optimizer, batches[:1], sync)
            rates = [len(batches) * batch_size / train_round(model, optimizer, batches, sync) for _ in range(rounds)]
            row[name] = {"seq_per_s": statistics.median(rates), "saved_mib": saved_mib(model, batches[0]),
                         "T": batches[0].inputs.shape[0]}
        results[n] = row
        print(f"{n:>6} {row['DNC']['seq_per_s']:>8.2f} {row['DNC']['saved_mib']:>10.1f}"
              + (f" {row['pytorch-dnc']['seq_per_s']:>18.2f}" if with_reference else ""))
        sys.stdout.flush()
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per batch size (median reported)")
    parser.add_argument("--sequences", type=int, default=32, help="sequences per round (at least 4 batches)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[],
                        help="also time memnets' DNC at these N (the link matrix's cost)")
    parser.add_argument("--link-sparsity", type=int, default=None, metavar="K",
                        help="with --memory-sizes: memnets' DNC with a row-sparse link matrix, K entries per row")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--pytorch-dnc", default=None, metavar="PATH",
                        help="also time pytorch-dnc's DNC from the folder PATH holding its dnc package")
    args = parser.parse_args(argv)

    device, sync = configure_torch(args.threads, args.device, args.seed)
    models = {"DNC": DNC(_IN, _OUT, **_SIZES).to(device)}
    reference = None
    if args.pytorch_dnc is not None:
        if device.type != "cpu":
            parser.error("--pytorch-dnc runs on the CPU only here (its memory is placed by gpu_id, not .to())")
        models["pytorch-dnc"] = load_pytorch_dnc(args.pytorch_dnc)
        reference_class = type(models["pytorch-dnc"].net)

        def reference(n: int) -> PytorchDNCAdapter:
            return PytorchDNCAdapter(reference_class, memory_size=n)

    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    for name, model in models.items():
        print(f"{name}: {count(model):,} parameters (controller 100, memory 64 x 20, 1 write + 4 read heads)")

    results = {"device": str(device), "threads": torch.get_num_threads(), "torch": torch.__version__,
               "params": {k: count(m) for k, m in models.items()}, "batch": {}}
    has_ref = "pytorch-dnc" in models
    print(f"\n{'batch':>5} {'T mean':>7} {'DNC seq/s':>10}" + (f" {'pytorch-dnc seq/s':>18}" if has_ref else ""))
    for batch_size in args.batch_sizes:
        num = max(_MIN_BATCHES, math.ceil(args.sequences / batch_size))
        batches = make_batches(batch_size, num, args.seed + batch_size, device)
        mean_t = statistics.mean(b.inputs.shape[0] for b in batches)
        optimizers = {k: torch.optim.Adam(m.parameters(), lr=1e-4) for k, m in models.items()}
        for name, model in models.items():  # warm-up: allocator, thread pools, lazy inits
            train_round(model, optimizers[name], batches[:1], sync)
        rates = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                rates[name].append(num * batch_size / train_round(model, optimizers[name], batches, sync))
        median = {name: statistics.median(r) for name, r in rates.items()}
        results["batch"][batch_size] = {"mean_T": mean_t, "seq_per_s": median, "rounds": rates}
        line = f"{batch_size:>5} {mean_t:>7.1f} {median['DNC']:>10.2f}"
        if has_ref:
            ratio = median["DNC"] / median["pytorch-dnc"]
            shown, word = speedup(ratio)
            line += f" {median['pytorch-dnc']:>18.2f}   memnets is {shown:.2f}x {word} than pytorch-dnc"
            results["batch"][batch_size]["memnets_over_pytorch_dnc"] = ratio
        print(line)
        sys.stdout.flush()

    if args.memory_sizes:
        results["memory_sizes"] = time_memory_sizes(
            args.memory_sizes, args.batch_sizes[0], args.rounds, args.seed, device, sync, reference,
            args.link_sparsity,
        )

    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
