"""Shape checks shared by every layer of memnets.

Shapes written in a docstring go stale unless something checks them. Every public
function and module of memnets validates its inputs with `check_shapes`, which
binds named dimensions across tensors (like einops) and raises a ``ValueError`` that
names the expected and the received shape.
"""

from __future__ import annotations

import torch

__all__ = [
    "check_shapes",
    "check_finite_positive",
    "check_int",
    "check_positive_int",
    "check_number",
    "check_probability",
    "check_choice",
    "check_dtype",
    "check_floating",
    "check_same_dtype",
    "check_range",
]


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


# --- argument checks ----------------------------------------------------------------------
# One rule everywhere, the one torch.nn follows: a value of the wrong *type* raises
# ``TypeError``, a value of the right type outside its range raises ``ValueError``. Every
# message starts with the caller's name and says what was expected and what came.


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(__where: str, /, minimum: int = 1, **values) -> None:
    """Check that every keyword value is an ``int`` (not a bool) of at least ``minimum``.

    Raises:
        TypeError: a value is not an int.
        ValueError: a value is below ``minimum``.

    Examples:
        >>> check_int("LSTMCell", input_size=3, hidden_size=4)
        >>> check_int("NTM", minimum=0, shift_range=0)
    """
    for name, value in values.items():
        if not _is_int(value):
            raise TypeError(f"{__where}: {name} should be of type int, got: {type(value).__name__}")
        if value < minimum:
            what = "greater than zero" if minimum == 1 else f"at least {minimum}"
            raise ValueError(f"{__where}: {name} must be {what}, got {value}")


def check_positive_int(__where: str, /, **values) -> None:
    """Shorthand for ``check_int(where, minimum=1, ...)``: sizes, counts, steps."""
    check_int(__where, minimum=1, **values)


def check_number(
    __where: str, /, low: float | None = None, high: float | None = None, *, open_low: bool = False, **values
) -> None:
    """Check that every keyword value is a finite real number in ``[low, high]``.

    ``open_low=True`` excludes ``low`` itself (``(low, high]``), for learning rates and
    strengths that must be strictly positive.

    Raises:
        TypeError: a value is not a real number.
        ValueError: a value is NaN, infinite, or outside the range.
    """
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{__where}: {name} should be a number, got: {type(value).__name__}")
        bad = value != value or value in (float("inf"), float("-inf"))
        if low is not None:
            bad = bad or value < low or (open_low and value == low)
        if high is not None:
            bad = bad or value > high
        if bad:
            lo = "-inf" if low is None else repr(low)
            hi = "inf" if high is None else repr(high)
            interval = ("(" if open_low else "[") + f"{lo}, {hi}" + "]"
            raise ValueError(f"{__where}: expected {name} in {interval}, got {value!r}")


def check_probability(__where: str, /, **values) -> None:
    """Check that every keyword value is a number in ``[0, 1]``."""
    check_number(__where, 0.0, 1.0, **values)


def check_choice(__where: str, /, name: str, value, choices) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``, listing them."""
    if value not in choices:
        raise ValueError(f"{__where}: expected {name} to be one of {sorted(choices)}, got {value!r}")


def check_dtype(__where: str, /, dtype: torch.dtype, **tensors) -> None:
    """Check that every keyword tensor (``None`` is skipped) has floating dtype ``dtype``.

    The library's dtype policy, the one torch.nn's layers follow: no silent promotion.
    A module computes in the dtype of its parameters; an input of another dtype is
    refused with both dtypes named (call ``module.double()`` or ``x.float()``).

    Raises:
        ValueError: a tensor's dtype differs from ``dtype``.
    """
    for name, tensor in tensors.items():
        if tensor is not None and tensor.dtype != dtype:
            raise ValueError(
                f"{__where}: expected {name} of dtype {dtype} (the dtype of the module's parameters), "
                f"got {tensor.dtype}; convert one of them (module.to(dtype) or {name}.to(dtype))"
            )


def check_floating(__where: str, /, **tensors) -> None:
    """Check that every keyword tensor (``None`` is skipped) has a floating-point dtype."""
    for name, tensor in tensors.items():
        if tensor is not None and not tensor.is_floating_point():
            raise ValueError(f"{__where}: expected {name} of a floating-point dtype, got {tensor.dtype}")


def check_same_dtype(__where: str, /, **tensors) -> torch.dtype:
    """Check that every keyword tensor has one floating-point dtype; return it.

    The functional ops follow torch's own binary ops in refusing nothing silently: mixed
    dtypes (a float64 memory with float32 keys) and integer tensors are refused, both
    dtypes named.

    Raises:
        ValueError: a tensor is not floating point, or two dtypes differ.
    """
    check_floating(__where, **tensors)
    first_name, first = None, None
    for name, tensor in tensors.items():
        if tensor is None:
            continue
        if first is None:
            first_name, first = name, tensor
        elif tensor.dtype != first.dtype:
            raise ValueError(
                f"{__where}: expected {name} of the same dtype as {first_name} ({first.dtype}), got {tensor.dtype}"
            )
    return first.dtype if first is not None else torch.get_default_dtype()


#: Slack allowed outside a range by `check_range`: finite differences (gradcheck's 1e-6
#: step) at a saturated gate or sharpening exponent step just past the boundary.
_RANGE_SLACK = 1e-4


def check_range(__where: str, /, low: float | None = None, high: float | None = None, **tensors) -> None:
    """Check that every value of every keyword tensor is finite and in ``[low, high]``.

    Values within ``_RANGE_SLACK`` (1e-4) outside the bounds pass: a finite-difference
    step at a saturated gate lands just past its boundary.

    The check reads the values, so it runs only where that is free: on CPU tensors and
    outside ``torch.compile`` tracing. On an accelerator it is skipped, because reading a
    value back would force a device synchronisation on every call (the documented
    decision: the ranges are the caller's contract there, as in torch's own ops).

    Raises:
        ValueError: a value is NaN, infinite, or outside the range (the first one is named).
    """
    if torch.compiler.is_compiling():
        return
    for name, tensor in tensors.items():
        if tensor is None or tensor.device.type != "cpu" or tensor.numel() == 0:
            continue
        data = tensor.detach()
        bad = ~torch.isfinite(data)
        if low is not None:
            bad |= data < low - _RANGE_SLACK
        if high is not None:
            bad |= data > high + _RANGE_SLACK
        if bool(bad.any()):
            index = tuple(int(i) for i in bad.nonzero()[0])
            lo = "-inf" if low is None else repr(low)
            hi = "inf" if high is None else repr(high)
            raise ValueError(
                f"{__where}: expected every value of {name} to be finite and in [{lo}, {hi}], "
                f"got {data[index].item()!r} at index {index}"
            )
