"""Tree task models (transitional re-export; the tree family moves them here)."""

from memnets.nn.trees import SequenceClassifier, TreeClassifier

__all__ = ["TreeClassifier", "SequenceClassifier"]
