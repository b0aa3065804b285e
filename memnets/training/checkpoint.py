"""Checkpoints that load without unpickling arbitrary objects.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts, so that
``torch.load(path, weights_only=True)`` reads it. The model is stored as the *name* of a
registered class plus its constructor keyword arguments, never as a pickled object:
`load` looks the name up in the registry that `register_model` fills, builds
the module and loads its weights. Files are written atomically (a temporary file in the
same folder, then `os.replace`), so an interrupted write never leaves a broken
checkpoint behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from memnets.nn.registry import build_model, model_spec, register_model, registered_models

__all__ = [
    "CHECKPOINT_FORMAT",
    "register_model",
    "registered_models",
    "model_spec",
    "build_model",
    "atomic_save",
    "write_json",
    "load_checkpoint",
    "load",
    "save_model",
]

#: Format tag written into every checkpoint; `load` refuses anything else.
CHECKPOINT_FORMAT = "memnets-checkpoint-v1"

def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(obj, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_model(model: nn.Module, path: str | os.PathLike, **extra: Any) -> None:
    """Write a checkpoint of a model trained or fitted outside `fit`.

    The file holds the model's registered class name, constructor arguments and weights
    (and any plain ``extra`` entries), is written atomically, and loads with
    `load`.

    Args:
        model: a module whose class is decorated with `register_model`.
        path: the file to write (``model.pt``).
        **extra: plain values stored beside the weights (e.g. ``config=...``).
    """
    atomic_save({"format": CHECKPOINT_FORMAT, "model": model_spec(model), "state_dict": model.state_dict(),
                 "step": 0, **extra}, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Read a checkpoint dictionary with ``weights_only=True``.

    Raises:
        ValueError: if the file is not a memnets checkpoint.
    """
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"load_checkpoint: expected a {CHECKPOINT_FORMAT} file at {path}, got something else")
    return checkpoint


def load(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> nn.Module:
    """Load the trained model a task script saved, in eval mode.

    The checkpoint is read with ``torch.load(..., weights_only=True)``: it never
    unpickles arbitrary objects. The model is rebuilt from its registered class name and
    constructor arguments, then its weights are loaded strictly.

    Args:
        path: a ``model.pt`` written by a task script (or any memnets checkpoint).
        map_location: where to put the tensors (default CPU).

    Returns:
        The ``nn.Module``, in eval mode.

    Examples:
        >>> model = memnets.load("runs/copy/model.pt")  # doctest: +SKIP
    """
    checkpoint = load_checkpoint(path, map_location=map_location)
    model = build_model(checkpoint["model"])
    model.load_state_dict(checkpoint["state_dict"])
    if map_location is not None:
        model.to(map_location)
    return model.eval()
