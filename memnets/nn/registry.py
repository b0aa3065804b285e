"""The registry of model classes that checkpoints can rebuild.

A checkpoint stores a model as the *name* of a registered class plus its constructor
keyword arguments, never as a pickled object. `register_model` marks a class as
rebuildable and records the arguments each instance was built with.
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import Any

from torch import nn

__all__ = ["register_model", "registered_models", "model_spec", "build_model"]

_REGISTRY: dict[str, type[nn.Module]] = {}
_JSON_TYPES = (str, int, float, bool, type(None))


def _is_plain(value: Any) -> bool:
    if isinstance(value, _JSON_TYPES):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make a module rebuildable by `load`.

    The decorated class records the keyword arguments it was constructed with (they
    must be plain values: numbers, strings, booleans, ``None``, lists, dicts), and is
    entered in the registry under its class name.

    Args:
        cls: an ``nn.Module`` subclass.

    Returns:
        The same class, with its ``__init__`` wrapped to record its arguments.

    Examples:
        >>> @register_model
        ... class Tiny(torch.nn.Module):
        ...     def __init__(self, size: int = 3):
        ...         super().__init__()
        ...         self.lin = torch.nn.Linear(size, size)
        >>> model_spec(Tiny(size=4))["kwargs"]
        {'size': 4}
    """
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        existing = _REGISTRY[name]
        if f"{existing.__module__}.{existing.__qualname__}" != f"{cls.__module__}.{cls.__qualname__}":
            raise ValueError(f"register_model: a different class is already registered as {name!r}")
    original_init = cls.__init__
    signature = inspect.signature(original_init)

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        if type(self) is cls:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            for pname, param in signature.parameters.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD and pname in arguments:
                    arguments.update(arguments.pop(pname))
            object.__setattr__(self, "_memnets_kwargs", arguments)

    cls.__init__ = __init__
    _REGISTRY[name] = cls
    return cls


def registered_models() -> dict[str, type[nn.Module]]:
    """The registry of loadable model classes, by name (a copy)."""
    _import_families()
    return dict(_REGISTRY)


def model_spec(model: nn.Module) -> dict[str, Any]:
    """The ``{"class": name, "kwargs": {...}}`` description stored in a checkpoint.

    Raises:
        ValueError: if the model's class was not decorated with `register_model`,
            or its constructor arguments are not plain values.
    """
    kwargs = getattr(model, "_memnets_kwargs", None)
    name = type(model).__name__
    if kwargs is None or _REGISTRY.get(name) is not type(model):
        raise ValueError(
            f"model_spec: expected a model class decorated with @register_model, got {type(model).__qualname__}"
        )
    if not _is_plain(kwargs):
        raise ValueError(f"model_spec: constructor arguments of {name} must be plain values, got {kwargs!r}")
    # Round-trip through JSON: tuples become lists, exactly what weights_only loading returns.
    return {"class": name, "kwargs": json.loads(json.dumps(kwargs))}


_FAMILIES = (
    "memnets.nn.recurrent",
    "memnets.nn.memory",
    "memnets.nn.trees",
    "memnets.nn.graphs",
    "memnets.nn.models.trees",
    "memnets.nn.models.graphs",
)


def _import_families() -> None:
    """Import every family (registering its model classes); the graph family is skipped
    when torch_geometric is not installed."""
    import importlib

    for name in _FAMILIES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is None or not (error.name.startswith("torch_geometric") or error.name == name):
                raise


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Construct a registered model from a `model_spec` dictionary."""
    _import_families()
    name = spec.get("class")
    if name not in _REGISTRY:
        raise ValueError(f"build_model: expected one of the registered models {sorted(_REGISTRY)}, got {name!r}")
    return _REGISTRY[name](**spec.get("kwargs", {}))
