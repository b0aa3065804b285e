"""Trees as torch_geometric data: builders, and the ListOps and arithmetic generators.

* `builders`: trees from nested tuples, bracketed strings, sequences (balanced binary
  trees, chains) and forests from parent lists;
* `listops`: ListOps (Nangia & Bowman 2018), gold trees and strings;
* `arithmetic`: nested ``+``/``-`` expressions, gold trees and strings.

Only data: the level schedule that evaluates a forest is model-side
(`memnets.nn.trees.tree_schedule`), and this package never imports `memnets.nn`.
"""

from memnets.data.trees._common import TreeTaskBatch
from memnets.data.trees.arithmetic import ARITHMETIC_SEQUENCE_VOCAB, ARITHMETIC_VOCAB, arithmetic_batch
from memnets.data.trees.builders import (
    UNLABELLED,
    balanced_binary_tree,
    chain_tree,
    forest_from_parents,
    tree_from_nested,
    tree_from_string,
)
from memnets.data.trees.listops import (
    LISTOPS_OPERATORS,
    LISTOPS_SEQUENCE_VOCAB,
    LISTOPS_VOCAB,
    listops_batch,
    listops_value,
)

__all__ = [
    "UNLABELLED",
    "tree_from_nested",
    "tree_from_string",
    "balanced_binary_tree",
    "chain_tree",
    "forest_from_parents",
    "TreeTaskBatch",
    "LISTOPS_OPERATORS",
    "LISTOPS_VOCAB",
    "LISTOPS_SEQUENCE_VOCAB",
    "listops_batch",
    "listops_value",
    "ARITHMETIC_VOCAB",
    "ARITHMETIC_SEQUENCE_VOCAB",
    "arithmetic_batch",
]
