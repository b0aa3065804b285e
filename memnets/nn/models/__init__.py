"""Task models assembled from the families: tree, graph and sequence classifiers.

Imported lazily (PEP 562): the graph models need torch_geometric.
"""

import importlib

_LAZY = {
    "GraphPointerNet": "memnets.nn.models.graphs",
    "GraphClassifier": "memnets.nn.models.graphs",
    "NodeSelectionGGNN": "memnets.nn.models.graphs",
    "TreeClassifier": "memnets.nn.models.trees",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
