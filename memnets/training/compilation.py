"""``torch.compile`` for recurrent models: compile the step, not the unrolled sequence.

A recurrent model applies one small function (an LSTM step, an NTM step, a round of
message passing) many times. Compiling the model's ``forward`` would trace the whole
unrolled loop: one graph per sequence length, minutes of compilation for a few dozen
steps (a 42-step NTM took about 6 minutes on a 2-core CPU), and a recompilation for every
new length. Compiling the *step* gives one small graph (seconds), reused at every time
step and every sequence length; the Python loop around it stays eager.

`compile_steps` finds the steps of a model by this protocol, top-down:

1. a module with a ``compile_step(**options)`` method compiles its own step (the
   `NTM` compiles its cell's step; sequence models their cells) and is
   not looked into further;
2. a module that *is* a step - a recurrent cell (``torch.nn.RNNCellBase``, and any
   class listed in `STEP_MODULES`) - is compiled in place with
   `torch.nn.Module.compile`, which keeps its ``state_dict`` keys unchanged;
3. if neither occurs anywhere, the whole model is compiled (right for models without a
   time loop).
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

import torch
from torch import nn

__all__ = ["STEP_MODULES", "compile_steps", "compile_unavailable", "step_module_types", "try_compile_steps"]

#: Classes (``"module:Class"``) whose ``forward`` is one step of a recurrence: called many
#: times per forward pass of the models that contain them.
STEP_MODULES = (
    "memnets.nn.recurrent.cells:RNNCell",
    "memnets.nn.recurrent.cells:LSTMCell",
    "memnets.nn.recurrent.cells:GRUCell",
    "memnets.nn.recurrent.cells:LeakyRNNCell",
    "memnets.nn.graphs.gated_graph_conv:GatedGraphConv",
)


def _shared_kernel_cache() -> str | None:
    """Why compiling is unsafe here, if ``ATEN_CPU_CAPABILITY`` is set with torch's default cache.

    torch 2.13's compiled-kernel cache does not tell kernels built under one CPU capability
    from another's: a process under ``ATEN_CPU_CAPABILITY=avx2`` that loads the kernels a
    ``default`` process built crashes at its first step. With the capability set, compile
    only into a cache folder chosen for it (``TORCHINDUCTOR_CACHE_DIR``; `tasks.sweep` sets
    one per capability).
    """
    if not os.environ.get("ATEN_CPU_CAPABILITY"):
        return None
    from torch._inductor.runtime.cache_dir_utils import cache_dir, default_cache_dir

    if os.path.abspath(cache_dir()) == os.path.abspath(default_cache_dir()):
        return ("ATEN_CPU_CAPABILITY is set but TORCHINDUCTOR_CACHE_DIR is torch's default, whose kernels are "
                "shared across capabilities (a crash in torch 2.13); set TORCHINDUCTOR_CACHE_DIR to a folder "
                "of this capability's own to compile")
    return None


@functools.lru_cache(maxsize=None)
def _probe(device_type: str) -> str | None:
    if device_type == "cpu" and (reason := _shared_kernel_cache()) is not None:
        return reason
    def tiny(x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x) * 2.0 + 1.0

    try:
        x = torch.linspace(-1.0, 1.0, 8, device=device_type)
        got = torch.compile(tiny, dynamic=False)(x)
        if not torch.allclose(got, tiny(x)):
            return "a compiled test function gave a different result"
    except Exception as error:  # a missing C compiler, an unsupported platform, ...
        first = str(error).strip().splitlines()[0] if str(error).strip() else "no detail"
        return f"{type(error).__name__}: {first[:200]}"
    finally:
        torch._dynamo.reset()
    return None


def compile_unavailable(device: torch.device | str) -> str | None:
    """Why ``torch.compile`` cannot be used on ``device`` here, or ``None`` if it can.

    Compiles and runs one tiny function on the device (once per process and device type):
    a machine without a working C compiler, or a platform torch's compiler does not
    support, fails there, and the training loop then trains eager and says why.

    Args:
        device: the device the model trains on.

    Returns:
        ``None`` when compilation works, else a one-line reason.
    """
    return _probe(torch.device(device).type)


def step_module_types() -> tuple[type[nn.Module], ...]:
    """The step classes: ``torch.nn.RNNCellBase`` and those of `STEP_MODULES` that import."""
    types: list[type[nn.Module]] = [nn.RNNCellBase]
    for entry in STEP_MODULES:
        module_name, _, class_name = entry.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        types.append(cls)
    return tuple(types)


def compile_steps(model: nn.Module, **options: Any) -> list[str]:
    """Compile, in place, the per-step functions of ``model`` (see the module docstring).

    Args:
        model: any module.
        **options: passed to ``torch.compile`` (``mode``, ``backend``, ``dynamic``, ...).

    Returns:
        The qualified names of what was compiled (``""`` is the model itself).

    Examples:
        >>> model = torch.nn.Sequential(torch.nn.LSTMCell(3, 4))
        >>> compile_steps(model)
        ['0']
    """
    steps = step_module_types()
    compiled: list[str] = []

    def visit(name: str, module: nn.Module) -> None:
        hook = getattr(module, "compile_step", None)
        if callable(hook):
            hook(**options)
            compiled.append(name)
        elif isinstance(module, steps):
            module.compile(**options)
            compiled.append(name)
        else:
            for child_name, child in module.named_children():
                visit(f"{name}.{child_name}" if name else child_name, child)

    visit("", model)
    if not compiled:
        model.compile(**options)
        compiled.append("")
    return compiled


def try_compile_steps(model: nn.Module, device: torch.device | str, **options: Any) -> str | None:
    """`compile_steps` where `compile_unavailable` finds compilation works; the model is
    left eager otherwise.

    Returns:
        ``None`` when the steps were compiled, else the one-line reason they were not.
    """
    reason = compile_unavailable(device)
    if reason is None:
        compile_steps(model, **options)
    return reason
