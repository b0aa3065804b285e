"""Graph task models (transitional re-export; the graph family moves them here)."""

from memnets.nn.graphs.models import GraphClassifier, GraphPointerNet, NodeSelectionGGNN

__all__ = ["GraphClassifier", "GraphPointerNet", "NodeSelectionGGNN"]
