"""Where `fit` writes its records: ``metrics.jsonl`` and, on request, TensorBoard event files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["RunLog", "tensorboard_available", "truncate_jsonl"]

#: The subfolder of a run's output folder that holds its TensorBoard event files.
TENSORBOARD_DIR = "tensorboard"


def tensorboard_available() -> bool:
    """Whether ``torch.utils.tensorboard`` can write event files (the ``tensorboard`` package)."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def truncate_jsonl(path: Path, step: int) -> None:
    """Drop the records after ``step`` (written after the checkpoint a run resumes from)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in kept))


class RunLog:
    """Appends records to ``metrics.jsonl`` and mirrors their numbers to TensorBoard.

    Every record is one JSON line; with ``tensorboard`` each numeric value of a record
    (``step`` aside) is also a TensorBoard scalar of that name at that step, and
    `figure` adds a matplotlib figure. On a resumed run the event files drop what was
    written after the step resumed from, as ``metrics.jsonl`` does.

    Args:
        out: the run's output folder.
        enabled: write anything at all (rank 0 of a multi-process run).
        tensorboard: also write TensorBoard event files into ``out/tensorboard``.
        start_step: the step the run starts from (0, or the step resumed from).

    Raises:
        ImportError: ``tensorboard`` without the ``tensorboard`` package.
    """

    def __init__(self, out: Path, enabled: bool = True, tensorboard: bool = False, start_step: int = 0) -> None:
        if tensorboard and enabled and not tensorboard_available():
            raise ImportError("RunLog: tensorboard=True needs the tensorboard package "
                              "(pip install tensorboard, or memnets[tensorboard])")
        self.history: list[dict[str, Any]] = []
        self._file = open(out / "metrics.jsonl" if enabled else os.devnull, "a")
        self._writer = None
        if tensorboard and enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(out / TENSORBOARD_DIR), purge_step=start_step + 1 if start_step else None)

    def record(self, entry: dict[str, Any]) -> None:
        """Append one record (it must have a ``step``)."""
        self.history.append(entry)
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        if self._writer is not None:
            for key, value in entry.items():
                if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._writer.add_scalar(key, value, entry["step"])

    @property
    def wants_figures(self) -> bool:
        """Whether `figure` writes anything (TensorBoard is on)."""
        return self._writer is not None

    def figure(self, tag: str, figure: Any, step: int) -> None:
        """Add a matplotlib figure to TensorBoard (and close it)."""
        if self._writer is not None:
            self._writer.add_figure(tag, figure, step, close=True)

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()
