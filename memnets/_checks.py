"""Shape checks shared by every layer of memnets.

Shapes written in a docstring go stale unless something checks them. Every public
function and module of memnets validates its inputs with `check_shapes`, which
binds named dimensions across tensors (like einops) and raises a ``ValueError`` that
names the expected and the received shape.
"""

from __future__ import annotations

import torch

__all__ = ["check_shapes", "check_finite_positive"]


def _fmt(spec: tuple[str, ...], sizes: dict[str, int]) -> str:
    parts = []
    for name in spec:
        if name in sizes:
            parts.append(f"{name}={sizes[name]}")
        else:
            parts.append(name)
    return "(" + ", ".join(parts) + ")"


def check_shapes(__where: str, /, **specs) -> dict[str, int]:
    """Check tensor shapes against named-dimension patterns and bind the dimensions.

    Each keyword is ``name=(tensor, "B N W")``. Letters (words) are dimension names
    bound on first sight and compared afterwards; integers in the pattern are literal
    sizes. Pre-bound sizes can be passed as ``name=int`` keywords.

    Args:
        __where: the caller's name, used in the error message (``"memory_read"``).
        **specs: ``name=(tensor, pattern)`` pairs, or ``DIM=int`` to pre-bind a size.

    Returns:
        The dictionary of bound dimension sizes.

    Raises:
        ValueError: if a tensor has the wrong rank or a dimension disagrees.

    Examples:
        >>> import torch
        >>> check_shapes("f", a=(torch.zeros(2, 3), "B N"), b=(torch.zeros(2), "B"))
        {'B': 2, 'N': 3}
    """
    sizes: dict[str, int] = {}
    tensors = []
    for name, value in specs.items():
        if isinstance(value, int):
            sizes[name] = value
        else:
            tensors.append((name, value))
    for name, (tensor, pattern) in tensors:
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{__where}: expected {name} to be a torch.Tensor, got {type(tensor).__name__}")
        spec = tuple(pattern.split())
        if tensor.dim() != len(spec):
            raise ValueError(
                f"{__where}: expected {name} of rank {len(spec)} with shape {_fmt(spec, sizes)}, "
                f"got rank {tensor.dim()} with shape {tuple(tensor.shape)}"
            )
        for axis, dim in enumerate(spec):
            actual = tensor.shape[axis]
            if dim.isdigit():
                expected = int(dim)
            elif dim in sizes:
                expected = sizes[dim]
            else:
                sizes[dim] = actual
                continue
            if actual != expected:
                raise ValueError(
                    f"{__where}: expected {name} of shape {_fmt(spec, sizes)}, got {tuple(tensor.shape)} "
                    f"(dimension {dim} should be {expected}, is {actual})"
                )
    return sizes


def check_finite_positive(__where: str, /, **values) -> None:
    """Raise ``ValueError`` unless every keyword value is a positive number."""
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"{__where}: expected {name} to be a positive number, got {value!r}")
