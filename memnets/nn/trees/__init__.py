"""Recursive tree networks on the shared gated core, evaluated level by level.

* `schedule`: the level schedule (`TreeSchedule`) of a forest, its validation, and the
  collation of trees into a forest;
* `engine`: `LevelBatched`, the evaluation of a recursive update one level at a time
  across every tree of a batch;
* one file per cell family: `RecursiveNN` (`recursive`), `ChildSumTreeLSTM`
  (`child_sum`), `NaryTreeLSTM` (`nary`), `TreeGRU` (`gru`).

Inputs follow torch_geometric: node features ``x`` (V, F) and a tree given as a
``Data``/``Batch`` (with ``edge_index`` child → parent, optionally ``child_slot`` and a
``schedule``), a `TreeSchedule`, or a bare ``edge_index``. The family needs neither
torch_geometric nor `memnets.data`; the task models built on it are in
`memnets.nn.models.trees`.
"""

from memnets.nn.trees.child_sum import ChildSumTreeLSTM
from memnets.nn.trees.engine import LevelBatched
from memnets.nn.trees.gru import TreeGRU
from memnets.nn.trees.nary import NaryTreeLSTM
from memnets.nn.trees.recursive import RecursiveNN
from memnets.nn.trees.schedule import TreeSchedule, as_schedule, attach_schedule, collate_trees, tree_schedule

__all__ = [
    "TreeSchedule",
    "tree_schedule",
    "attach_schedule",
    "collate_trees",
    "as_schedule",
    "LevelBatched",
    "RecursiveNN",
    "ChildSumTreeLSTM",
    "NaryTreeLSTM",
    "TreeGRU",
]
