"""Build the gallery page of the docs from short runs of the task scripts.

    python scripts/make_gallery.py [--only NAME ...] [--keep DIR [--reuse]]

Each entry below is one task command; the script runs it (a short run: a few minutes on a
CPU core), copies the figures it wrote, shrunk to at most ``MAX_WIDTH`` pixels, into
``docs/img/gallery/``, and writes ``docs/gallery.md`` with every figure under the command
that produced it. Nothing on the page is pasted by hand: rerun the script after a change
to a task's figures. Runs go to a temporary folder (``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img" / "gallery"
PAGE = ROOT / "docs" / "gallery.md"
MAX_WIDTH = 720  # pixels: the committed PNGs stay small


@dataclass(frozen=True)
class Entry:
    name: str  # the run's folder and the prefix of its figures
    title: str
    args: str  # the task script and its options, after "python -m"
    figures: tuple[tuple[str, str], ...]  # (file the run writes, caption)


ENTRIES = (
    Entry("copy", "Copy: NTM",
          "tasks.copy --seed 1 --steps 600 --max-len 10 --test-lengths 20 --eval-every 50",
          (("learning_curve.png", "Learning curve: training loss and wrong bits per sequence."),
           ("sequence.png", ("One test sequence: inputs, targets, outputs, the write and read "
                             "weightings over the visited slots, and the memory after the last step.")))),
    Entry("copy_dnc", "Copy: DNC",
          "tasks.copy --model dnc --seed 1 --steps 600 --max-len 10 --test-lengths 20 --eval-every 50",
          (("learning_curve.png", "Learning curve."),
           ("sequence.png", ("One test sequence through the DNC: its write and read weightings "
                             "and the memory after the last step.")))),
    Entry("associative_recall", "Associative recall: NTM",
          "tasks.associative_recall --seed 1 --steps 600 --test-items 12 --eval-every 50",
          (("learning_curve.png", "Learning curve."),
           ("sequence.png", "One test episode with the heads' weightings and the memory."))),
    Entry("listops", "ListOps: Tree-LSTM",
          "tasks.listops --seed 0 --steps 300 --test-size 500",
          (("learning_curve.png", "Learning curve."),
           ("accuracy_by_depth.png", "Test accuracy by tree depth, beyond the training depths."))),
    Entry("bfs", "BFS predecessors: GGNN",
          "tasks.bfs --seed 0 --steps 300",
          (("learning_curve.png", "Learning curve: the pointer accuracy of every node."),)),
    Entry("long_dependency", "Long dependencies: gradient norms",
          "tasks.long_dependency --seed 0 --steps 300",
          (("gradient_norms.png", ("How far back the gradient of the loss reaches, at "
                                   "initialisation and after training.")),)),
)


def shrink(source: Path, target: Path) -> None:
    """Copy a PNG, resized to at most MAX_WIDTH pixels wide (Pillow, a matplotlib dependency)."""
    from PIL import Image

    with Image.open(source) as image:
        if image.width > MAX_WIDTH:
            height = round(image.height * MAX_WIDTH / image.width)
            image = image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
        # an adaptive palette: plots have few colours, and the file shrinks several times
        image.convert("RGB").quantize(colors=128).save(target, optimize=True)


def run(entry: Entry, runs: Path, reuse: bool = False) -> dict:
    out = runs / entry.name
    if reuse and (out / "metrics.json").exists():  # a finished run: only its figures again
        for written, _ in entry.figures:
            shrink(out / written, IMAGES / f"{entry.name}_{written}")
        return json.loads((out / "metrics.json").read_text())
    command = [sys.executable, "-m", *shlex.split(entry.args), "--out", str(out), "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    for written, _ in entry.figures:
        shrink(out / written, IMAGES / f"{entry.name}_{written}")
    metrics = out / "metrics.json"
    return json.loads(metrics.read_text()) if metrics.exists() else {}


def page() -> str:
    lines = [
        "# Gallery",
        "",
        "The figures the task scripts write, from short runs (a few hundred steps on one CPU",
        "core, far shorter than the recipes on the model pages, so they show what the figures",
        "look like rather than the best results). `python scripts/make_gallery.py` reruns",
        "every command below and regenerates this page; each run also writes `model.pt`,",
        "`metrics.jsonl` and `metrics.json`, and with `--tensorboard` the same scalars and",
        "figures for TensorBoard.",
        "",
    ]
    for entry in ENTRIES:
        lines += [f"## {entry.title}", "", "```bash", f"python -m {entry.args} --out runs/{entry.name}",
                  "```", ""]
        for written, caption in entry.figures:
            image = f"img/gallery/{entry.name}_{written}"
            if (ROOT / "docs" / image).exists():
                lines += [f"![{caption}]({image})", "", f"*{caption}*", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=[entry.name for entry in ENTRIES],
                        help="rerun only these entries (the page lists all)")
    parser.add_argument("--keep", type=Path, help="keep the runs in this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: take the figures of runs already finished there")
    args = parser.parse_args(argv)
    if args.reuse and args.keep is None:
        parser.error("--reuse needs --keep DIR")
    IMAGES.mkdir(parents=True, exist_ok=True)
    runs = args.keep or Path(tempfile.mkdtemp(prefix="memnets-gallery-"))
    try:
        for entry in ENTRIES:
            if args.only is None or entry.name in args.only:
                run(entry, runs, reuse=args.reuse)
    finally:
        if args.keep is None:
            shutil.rmtree(runs, ignore_errors=True)
    PAGE.write_text(page(), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
