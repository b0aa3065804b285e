"""ListOps (Nangia & Bowman 2018): evaluate nested MAX/MIN/MED/SM expressions, given the tree.

    python -m tasks.listops --out runs/listops [--seed S] [--steps N] [--model tree|lstm]
    python -m tasks.listops --no-binarize --cell childsum      # operator trees, child-sum Tree-LSTM

A Tree-LSTM reads the gold tree and the label is read off the root: by default the
left-branching binary trees of the original data set (every token a leaf,
``[MAX 2 9 ]`` -> ``((([MAX 2) 9) ])``) through an N-ary Tree-LSTM with N = 2, the
setting of Nangia & Bowman; with ``--no-binarize`` the operator trees (operators internal
nodes, their arguments the children). The baseline is an LSTM reading the bracketed
string ``[MAX 2 9 [MIN 4 7 ] 0 ]``. Reports accuracy on fresh expressions overall and by
nesting depth. Anchors: Tree-LSTM on gold trees 98.7 %, LSTM 71.5 % (Nangia & Bowman 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

from memnets.data.trees import LISTOPS_SEQUENCE_VOCAB, LISTOPS_VOCAB, listops_batch
from memnets.training.config import option
from tasks import _harness
from tasks._trees import TreeTask, TreeTaskConfig, run_tree_task


@dataclass
class ListOpsConfig(TreeTaskConfig):
    """ListOps: MAX/MIN/MED/SM expressions (Nangia & Bowman 2018); --model tree or lstm.

    Args:
        max_depth: the deepest nesting (20).
        subexpression_prob: probability that an argument is a sub-expression (0.25).
        max_args: the most arguments of an operator (5).
        binarize: the tree model reads the left-branching binary trees of the original
            data (every token a leaf; the default, with the N-ary Tree-LSTM, N = 2, as
            Nangia & Bowman) instead of the operator trees (--no-binarize, e.g. with
            --cell childsum).
    """

    out: str = option("runs/listops")
    max_depth: int = option(20, low=1)
    subexpression_prob: float = option(0.25, low=0.0, high=1.0)
    max_args: int = option(5, low=2)
    binarize: bool = option(True)


def make_task(cfg: ListOpsConfig) -> TreeTask:
    """The training distribution of ``cfg``."""
    return TreeTask(listops_batch, eval_size=cfg.eval_size, max_depth=cfg.max_depth,
                    subexpression_prob=cfg.subexpression_prob, max_args=cfg.max_args, binarize=cfg.binarize)


def main(argv=None) -> dict:
    cfg = _harness.parse(ListOpsConfig, argv, __doc__)
    tree_vocab = len(LISTOPS_SEQUENCE_VOCAB) if cfg.binarize else len(LISTOPS_VOCAB)
    return run_tree_task(cfg, "listops", make_task, (tree_vocab, len(LISTOPS_SEQUENCE_VOCAB)), 10, {"test": {}})


if __name__ == "__main__":
    main()
