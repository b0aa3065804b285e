"""Checkpoints that load without unpickling arbitrary objects and prove their integrity.

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts, so that
``torch.load(path, weights_only=True)`` reads it. The model is stored as the *name* of a
registered class plus its constructor keyword arguments, never as a pickled object:
`load` looks the name up in the registry that `register_model` fills, builds the module
and loads its weights.

What a checkpoint guarantees:

- **Integrity.** Every record of the archive is checked against its CRC-32, and the
  checkpoint stores a SHA-256 digest of its whole content (every key, plain value and
  tensor: dtype, shape and bytes), recomputed on load. A flipped byte, a truncated file,
  random bytes or a foreign pickle raise one ``ValueError`` naming the path and what is
  wrong.
- **Finite weights.** `load` and `load_checkpoint` refuse NaN or infinite floating-point
  weights unless ``allow_non_finite=True``.
- **Consistency.** Constructor arguments that disagree with the weights, an unknown
  argument, an unknown model class or a missing ``state_dict`` raise ``ValueError``.
- **Atomic writes.** Files are written to a temporary file in the same folder, synced,
  given the mode the umask allows (as a plain ``open`` would) and renamed over the
  target, so an interrupted write never leaves a broken file behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

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
    "checkpoint_digest",
    "check_run_directory",
    "load_checkpoint",
    "load",
    "save_model",
]

#: Format tag written into every checkpoint; `load` refuses anything else.
CHECKPOINT_FORMAT = "memnets-checkpoint-v2"
#: The format of memnets 0.1 (no digest): still loaded, never written.
LEGACY_FORMAT = "memnets-checkpoint-v1"

#: The checkpoint entry holding `checkpoint_digest` of the rest.
_DIGEST_KEY = "digest"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp made it 0600; give it a plain file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _digest_into(hasher: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        hasher.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    elif isinstance(value, dict):
        hasher.update(f"D{len(value)}".encode())
        for key in sorted(value, key=repr):
            hasher.update(repr(key).encode())
            _digest_into(hasher, value[key])
    elif isinstance(value, (list, tuple)):
        hasher.update(f"L{len(value)}".encode())
        for item in value:
            _digest_into(hasher, item)
    else:
        hasher.update(f"V{value!r}".encode())


def checkpoint_digest(obj: dict[str, Any]) -> str:
    """The SHA-256 digest (hex) of a checkpoint's content, its own ``digest`` entry left out.

    Covers every key and plain value and, for every tensor, its dtype, shape and bytes;
    tuples and lists hash alike (a checkpoint loads both as lists).
    """
    hasher = hashlib.sha256()
    _digest_into(hasher, {k: v for k, v in obj.items() if k != _DIGEST_KEY})
    return hasher.hexdigest()


def atomic_save(obj: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` a checkpoint dictionary atomically, with its `checkpoint_digest`."""
    payload = {**obj, _DIGEST_KEY: checkpoint_digest(obj)}
    _atomic_write(path, lambda handle: torch.save(payload, handle), "wb")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (temporary file, then rename)."""

    def write(handle: Any) -> None:
        json.dump(obj, handle, indent=2, sort_keys=True)
        handle.write("\n")

    _atomic_write(path, write, "w")


def save_model(model: nn.Module, path: str | os.PathLike, **extra: Any) -> None:
    """Write a checkpoint of a model trained or fitted outside `fit`.

    The file holds the model's registered class name, constructor arguments and weights
    (and any plain ``extra`` entries), is written atomically, and loads with `load`.

    Args:
        model: a module whose class is decorated with `register_model`.
        path: the file to write (``model.pt``).
        **extra: plain values stored beside the weights (e.g. ``config=...``).
    """
    atomic_save({"format": CHECKPOINT_FORMAT, "model": model_spec(model), "state_dict": model.state_dict(),
                 "step": 0, **extra}, path)


def _refuse(path: Any, problem: str) -> ValueError:
    return ValueError(f"load_checkpoint: {path} is not a valid memnets checkpoint: {problem}")


def _verify_archive(path: str | os.PathLike) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except zipfile.BadZipFile:
        raise _refuse(path, "not a complete zip archive (truncated, damaged, or not a checkpoint at all)") from None
    except (EOFError, OSError, ValueError) as error:
        raise _refuse(path, f"unreadable archive ({type(error).__name__}: {error})") from None
    if bad is not None:
        raise _refuse(path, f"the record {bad!r} fails its CRC-32 check (the file is corrupt)")


def _check_finite(path: Any, state_dict: dict[str, Any]) -> None:
    for name, tensor in state_dict.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"load_checkpoint: {path} holds non-finite weights in {name!r} (NaN or infinite); "
                             f"pass allow_non_finite=True to load them anyway")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu", *,
                    allow_non_finite: bool = False) -> dict[str, Any]:
    """Read and verify a checkpoint dictionary (``weights_only=True``).

    Args:
        path: the checkpoint file.
        map_location: where to put the tensors.
        allow_non_finite: accept NaN or infinite weights in ``state_dict``.

    Raises:
        ValueError: if the file is missing, not a memnets checkpoint, corrupt (a record's
            CRC, the content's digest), truncated, holds objects other than tensors and
            plain values, lacks a ``state_dict``, or holds non-finite weights (unless
            allowed).
    """
    if not Path(path).is_file():
        raise ValueError(f"load_checkpoint: expected a checkpoint file at {path}, found none")
    _verify_archive(path)
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise _refuse(path, "it holds objects other than tensors and plain values, which memnets never "
                            "unpickles") from None
    except (RuntimeError, EOFError, OSError, KeyError, ValueError) as error:
        raise _refuse(path, f"its content cannot be read ({type(error).__name__}: "
                            f"{str(error).splitlines()[0] if str(error) else 'no detail'})") from None
    found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
    if found not in (CHECKPOINT_FORMAT, LEGACY_FORMAT):
        raise _refuse(path, f"expected the format {CHECKPOINT_FORMAT!r}, found {found!r}")
    # A checkpoint of the first format carries no digest: its archive's CRCs are all that
    # can be checked. It loads as a model; resuming training from it is refused by `fit`.
    if found == CHECKPOINT_FORMAT and checkpoint.get(_DIGEST_KEY) != checkpoint_digest(checkpoint):
        raise _refuse(path, "its content does not match the digest stored with it (the file is corrupt)")
    if not isinstance(checkpoint.get("state_dict"), dict):
        raise _refuse(path, "it has no state_dict")
    if not isinstance(checkpoint.get("model"), dict) or not isinstance(checkpoint["model"].get("kwargs", {}), dict):
        raise _refuse(path, "it has no model description (class and constructor arguments)")
    if not allow_non_finite:
        _check_finite(path, checkpoint["state_dict"])
    return checkpoint


def load(path: str | os.PathLike, map_location: str | torch.device | None = "cpu", *,
         allow_non_finite: bool = False) -> nn.Module:
    """Load the trained model a task script saved, in eval mode.

    The checkpoint is verified (`load_checkpoint`: its records' CRCs, its digest, finite
    weights) and read with ``torch.load(..., weights_only=True)``: it never unpickles
    arbitrary objects. The model is rebuilt from its registered class name and
    constructor arguments, then its weights are loaded strictly.

    Args:
        path: a ``model.pt`` written by a task script (or any memnets checkpoint).
        map_location: where to put the tensors (default CPU).
        allow_non_finite: accept NaN or infinite weights.

    Returns:
        The ``nn.Module``, in eval mode.

    Raises:
        ValueError: the checkpoint is invalid (see `load_checkpoint`), names an unknown
            model class or constructor argument, or its arguments disagree with its weights.

    Examples:
        >>> model = memnets.load("runs/copy/model.pt")  # doctest: +SKIP
    """
    checkpoint = load_checkpoint(path, map_location=map_location, allow_non_finite=allow_non_finite)
    spec = checkpoint["model"]
    try:
        model = build_model(spec)
    except TypeError as error:
        raise ValueError(f"load: {path}: the constructor of {spec.get('class')!r} refuses the stored arguments "
                         f"{spec.get('kwargs')}: {error}") from None
    except ValueError as error:
        raise ValueError(f"load: {path}: {error}") from None
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise ValueError(f"load: {path}: the weights do not fit {spec.get('class')}({spec.get('kwargs')}): "
                         f"{detail}") from None
    if map_location is not None:
        model.to(map_location)
    return model.eval()


def check_run_directory(out: str | os.PathLike, *, resume: bool, overwrite: bool, steps: int) -> None:
    """Refuse a run that would destroy another one, or resume to fewer steps than done.

    Args:
        out: the run's output folder.
        resume: the run continues the checkpoint in ``out``.
        overwrite: the run may replace the checkpoint in ``out``.
        steps: the steps the run is asked to reach.

    Raises:
        ValueError: ``out`` is a file; ``out`` holds a checkpoint and neither ``resume``
            nor ``overwrite`` is set; ``resume`` with ``steps`` below the checkpoint's
            step; ``resume`` from an invalid checkpoint.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"expected --out to be a directory, got the file {out}")
    checkpoint = out / "model.pt"
    if not checkpoint.exists():
        return
    if overwrite:
        return
    if not resume:
        raise ValueError(f"{out} holds a checkpoint (model.pt) of an earlier run; pass --resume to continue it "
                         f"or --overwrite to replace it")
    done = load_checkpoint(checkpoint, allow_non_finite=True)["step"]
    if steps < done:
        raise ValueError(f"cannot resume {checkpoint} to --steps {steps}: it has already done {done} steps")
