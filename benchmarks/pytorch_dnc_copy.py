"""Does pytorch-dnc's DNC learn its own copy task with the settings its README documents,
in the budget in which memnets' DNC learns copy? And memnets' DNC beside it on the same
batches with the same settings.

    python -m benchmarks.pytorch_dnc_copy --pytorch-dnc PATH [--setting original|fast]
                                          [--sequences 128000] [--eval-every 16000]
                                          [--memnets] [--seed 0] [--threads 1] [--json out.json]

pytorch-dnc (github.com/ixaxaar/pytorch-dnc, ``pip install --no-deps --target PATH dnc``; not
a dependency of memnets) documents two commands for its copy task; ``--setting`` picks one:

* ``original`` ("like original implementation"): RMSprop (lr 1e-4, momentum 0.9), batch 32,
  64 memory slots, sequences of up to 4 vectors;
* ``fast`` ("faster convergence"): Adam (lr 1e-3, betas 0.9 / 0.98), batch 1,000, 32
  slots, sequences of up to 8 vectors.

Both keep the rest of its script's defaults: a 2-layer LSTM controller of 64 units inside
one memory layer, words of 20, 4 read heads, gradient-norm clipping at 50. Its task: each
batch draws one length L ~ U{1..max}; the input is L random 5-bit vectors, then a marker on
a sixth channel, then L blank steps (T = 2L + 1); the target is the L vectors on the blank
steps and zero elsewhere, and the loss is the mean binary cross-entropy over every step
and all six channels, as its script computes it.

The budget (``--sequences``) defaults to that of memnets' copy recipe with the DNC (2,000
steps of 64 sequences); every ``--eval-every`` sequences both models are scored on the same
1,000 fresh sequences (lengths drawn as in training): *wrong bits per sequence*, the answer
bits whose thresholded prediction is wrong, and a run counts as converged below 0.1 (the
criterion of memnets' copy task). ``--memnets`` also trains `memnets.DNC` with the same
controller width, memory, heads, optimiser, clipping and batches (its controller is one
LSTM layer, memnets' design).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmarks._common import configure_torch, count, import_reference, write_json
from memnets.nn.memory.dnc import DNC

#: 5 data bits + the end marker, in and out (pytorch-dnc's copy maps back to its input size).
_CHANNELS = 6
#: The README's two commands, with the script's defaults for everything they leave out.
SETTINGS = {
    "original": dict(optimizer="rmsprop", lr=1e-4, batch_size=32, memory_size=64, max_length=4),
    "fast": dict(optimizer="adam", lr=1e-3, batch_size=1000, memory_size=32, max_length=8),
}
_CONTROLLER, _LAYERS, _WORD, _READS, _CLIP = 64, 2, 20, 4, 50.0
#: Fresh sequences per evaluation and the converged threshold (wrong bits per sequence).
_EVAL_SEQUENCES, _CONVERGED = 1000, 0.1


def copy_task_batch(batch_size: int, max_length: int, generator: torch.Generator) -> tuple[Tensor, Tensor, int]:
    """One batch of pytorch-dnc's copy task, batch first: ``(inputs, targets, L)``.

    Shapes:
        inputs, targets: (B, 2L + 1, 6).
    """
    length = int(torch.randint(1, max_length + 1, (1,), generator=generator))
    bits = torch.randint(0, 2, (batch_size, length, _CHANNELS - 1), generator=generator).float()
    inputs = torch.zeros(batch_size, 2 * length + 1, _CHANNELS)
    targets = torch.zeros_like(inputs)
    inputs[:, :length, :-1] = bits
    inputs[:, length, -1] = 1.0
    targets[:, length + 1:, :-1] = bits
    return inputs, targets, length


class PytorchDNC(nn.Module):
    """pytorch-dnc's ``DNC`` as its copy script builds it (batch first, fresh memory per call)."""

    def __init__(self, dnc_class: type, memory_size: int) -> None:
        super().__init__()
        self.net = dnc_class(input_size=_CHANNELS, hidden_size=_CONTROLLER, rnn_type="lstm", num_layers=1,
                             num_hidden_layers=_LAYERS, dropout=0, nr_cells=memory_size, cell_size=_WORD,
                             read_heads=_READS, batch_first=True, independent_linears=True)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.net(x, (None, None, None), reset_experience=True, pass_through_memory=True)
        return out


class MemnetsDNC(nn.Module):
    """`memnets.DNC` with the same sizes, batch first."""

    def __init__(self, memory_size: int) -> None:
        super().__init__()
        self.net = DNC(_CHANNELS, _CHANNELS, controller_size=_CONTROLLER, memory_size=memory_size,
                       word_size=_WORD, num_read_heads=_READS, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)[0]


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """pytorch-dnc's copy script's optimisers, with its constants."""
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=0.9, eps=1e-10)
    return torch.optim.Adam(params, lr=lr, eps=1e-9, betas=(0.9, 0.98))


@torch.no_grad()
def wrong_bits(model: nn.Module, batches: list[tuple[Tensor, Tensor, int]]) -> float:
    """Mean wrong answer bits per sequence (thresholded logits against the targets)."""
    model.eval()
    wrong = sequences = 0
    for inputs, targets, length in batches:
        answer = slice(length + 1, 2 * length + 1)
        predicted = model(inputs)[:, answer, :-1] > 0
        wrong += int((predicted != targets[:, answer, :-1].bool()).sum())
        sequences += inputs.shape[0]
    model.train()
    return wrong / sequences


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pytorch-dnc", required=True, metavar="PATH",
                        help="a folder holding pytorch-dnc's dnc package")
    parser.add_argument("--setting", choices=sorted(SETTINGS), default="original")
    parser.add_argument("--sequences", type=int, default=128_000, help="training sequences (the budget)")
    parser.add_argument("--eval-every", type=int, default=16_000, help="sequences between evaluations")
    parser.add_argument("--memnets", action="store_true", help="also train memnets.DNC on the same batches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.sequences < 1 or args.eval_every < 1:
        parser.error(f"expected --sequences and --eval-every >= 1, got {args.sequences} and {args.eval_every}")
    setting = SETTINGS[args.setting]
    configure_torch(args.threads, "cpu", args.seed)
    dnc_class = import_reference(args.pytorch_dnc, "dnc", "DNC", "--pytorch-dnc",
                                 "a folder holding pytorch-dnc's dnc package")
    models = {"pytorch-dnc": PytorchDNC(dnc_class, setting["memory_size"])}
    if args.memnets:
        models["memnets"] = MemnetsDNC(setting["memory_size"])
    optimizers = {k: make_optimizer(setting["optimizer"], m.parameters(), setting["lr"]) for k, m in models.items()}
    batch = setting["batch_size"]
    steps = -(-args.sequences // batch)
    every = max(1, args.eval_every // batch)
    eval_gen = torch.Generator().manual_seed(args.seed + 1)
    eval_batches = [copy_task_batch(100, setting["max_length"], eval_gen) for _ in range(_EVAL_SEQUENCES // 100)]
    print(f"pytorch-dnc copy, setting {args.setting!r}: {setting}; {steps} steps ({steps * batch:,} sequences), "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print("parameters: " + ", ".join(f"{k} {count(m):,}" for k, m in models.items()))
    gen = torch.Generator().manual_seed(args.seed)
    curves: dict[str, list[tuple[int, float]]] = {k: [] for k in models}
    seconds = dict.fromkeys(models, 0.0)
    for step in range(1, steps + 1):
        inputs, targets, _ = copy_task_batch(batch, setting["max_length"], gen)
        for name, model in models.items():
            start = time.perf_counter()
            loss = F.binary_cross_entropy_with_logits(model(inputs), targets)
            optimizers[name].zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), _CLIP)
            optimizers[name].step()
            seconds[name] += time.perf_counter() - start
        if step % every == 0 or step == steps:
            line = [f"{step * batch:>9,} sequences"]
            for name, model in models.items():
                curves[name].append((step * batch, wrong_bits(model, eval_batches)))
                line.append(f"{name} {curves[name][-1][1]:.3f} wrong bits/seq")
            print("  ".join(line), flush=True)
    results = {"setting": args.setting, **setting, "sequences": steps * batch, "seed": args.seed,
               "torch": torch.__version__, "models": {}}
    for name, curve in curves.items():
        first = next((seen for seen, wrong in curve if wrong < _CONVERGED), None)
        results["models"][name] = {"curve": curve, "final_wrong_bits": curve[-1][1], "converged": curve[-1][1] < _CONVERGED,
                                   "first_below_0.1_at": first, "train_seconds": seconds[name]}
        print(f"{name}: final {curve[-1][1]:.3f} wrong bits/seq, "
              f"{'converged' if curve[-1][1] < _CONVERGED else 'not converged'}"
              + (f" (first below 0.1 after {first:,} sequences)" if first else "")
              + f"; {seconds[name]:.0f} s of training")
    sys.stdout.flush()
    write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
