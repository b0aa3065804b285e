"""The package surface: every public name imports, and ``import memnets`` stays light."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import memnets

PUBLIC = {
    "functional", "load", "__version__",
    "NTM", "NTMCell", "NTMState", "DNC", "DNCCell", "DNCState",
    "RNNCell", "LSTMCell", "GRUCell", "LeakyRNNCell", "RNN", "LSTM", "GRU",
    "EchoStateNetwork", "TDNN", "NARX", "JordanRNN", "SkipRNN", "MultiTimescaleRNN",
    "SequenceToVector", "SequenceToSequence", "EncoderDecoder", "VectorToSequence",
    "RecursiveNN", "ChildSumTreeLSTM", "NaryTreeLSTM", "TreeGRU",
    "GatedGraphConv", "MPNNConv", "TripletMPNNConv", "GatedGraphReadout", "GlobalPoolReadout",
    "NodeSelectionReadout", "PointerReadout", "GraphPointerNet", "GraphClassifier", "NodeSelectionGGNN",
}


def test_all_lists_exactly_the_public_names():
    assert set(memnets.__all__) == PUBLIC
    assert len(memnets.__all__) == len(set(memnets.__all__))


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_name_imports(name):
    value = getattr(memnets, name)
    assert value is not None
    if isinstance(value, type):
        # the name is the class's own, not an alias of something else
        assert value.__name__ == name


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        memnets.Nope  # noqa: B018


def test_dir_lists_the_lazy_names():
    assert PUBLIC <= set(dir(memnets))


def _fresh(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()


HEAVY = ("torch_geometric", "networkx", "matplotlib", "memnets.training", "memnets.data")


def test_import_memnets_loads_no_heavy_dependency():
    out = _fresh(
        f"""
        import sys
        import memnets
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    assert out == "[]", f"import memnets loaded {out}"


def test_using_an_lstm_loads_no_graph_or_training_code():
    out = _fresh(
        f"""
        import sys, torch
        import memnets
        memnets.LSTM(3, 4)(torch.zeros(2, 1, 3))
        memnets.NTM(3, 2, controller_size=4, memory_size=3, word_size=2)(torch.zeros(2, 1, 3))
        memnets.ChildSumTreeLSTM(3, 4)
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    assert out == "[]", f"using the recurrent, memory and tree families loaded {out}"


def test_graph_family_imports_torch_geometric_on_first_use():
    out = _fresh(
        """
        import sys
        import memnets
        before = "torch_geometric" in sys.modules
        memnets.GatedGraphConv
        print(before, "torch_geometric" in sys.modules)
        """
    )
    assert out == "False True"
