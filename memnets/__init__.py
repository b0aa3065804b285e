"""memnets: memory-augmented and structured recurrent networks on one gated-update core.

The public names of the library are importable from here; the pure functions live in
:mod:`memnets.functional`.
"""

from memnets import functional
from memnets.training.checkpoint import load

__version__ = "0.1.0"

__all__ = [
    "functional",
    "load",
    "__version__",
]
