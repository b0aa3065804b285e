"""Checkpoints prove their integrity: corrupt, truncated, foreign and inconsistent files are refused."""

from __future__ import annotations

import os
import pickle
import stat
import struct
import zipfile

import pytest
import torch
from torch import nn

import memnets
from memnets.nn.registry import register_model
from memnets.training import CHECKPOINT_FORMAT, atomic_save, checkpoint_digest, load_checkpoint, save_model, write_json


@register_model
class _Pair(nn.Module):
    def __init__(self, size: int = 3):
        super().__init__()
        self.lin = nn.Linear(size, size)

    def forward(self, x):
        return self.lin(x)


def _saved(tmp_path, value: float | None = None):
    torch.manual_seed(0)
    model = _Pair(3)
    if value is not None:
        with torch.no_grad():
            model.lin.weight.fill_(value)
    path = tmp_path / "model.pt"
    save_model(model, path)
    return model, path


def _record_span(path, suffix: str) -> tuple[int, int]:
    """(offset, size) in the file of the stored bytes of the zip record whose name ends in ``suffix``."""
    with zipfile.ZipFile(path) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith(suffix))
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_clean_checkpoint_round_trips_and_carries_its_digest(tmp_path):
    model, path = _saved(tmp_path)
    checkpoint = load_checkpoint(path)
    assert checkpoint["format"] == CHECKPOINT_FORMAT
    assert checkpoint["digest"] == checkpoint_digest(checkpoint)
    loaded = memnets.load(path)
    x = torch.randn(2, 3)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_the_digest_covers_every_tensor_byte_and_value():
    a = {"format": CHECKPOINT_FORMAT, "w": torch.zeros(4), "step": 3}
    assert checkpoint_digest(a) == checkpoint_digest({**a, "w": torch.zeros(4)})
    assert checkpoint_digest(a) != checkpoint_digest({**a, "w": torch.tensor([0.0, 0.0, 0.0, 1e-30])})
    assert checkpoint_digest(a) != checkpoint_digest({**a, "w": torch.zeros(2, 2)})  # shape
    assert checkpoint_digest(a) != checkpoint_digest({**a, "w": torch.zeros(4, dtype=torch.float64)})  # dtype
    assert checkpoint_digest(a) != checkpoint_digest({**a, "step": 4})
    assert checkpoint_digest(a) == checkpoint_digest({**a, "digest": "anything"})  # its own entry left out


def test_a_flipped_byte_in_a_weight_record_is_refused(tmp_path):
    _, path = _saved(tmp_path, value=0.25)
    offset, size = _record_span(path, "data/0")
    _flip(path, offset + size // 2)
    with pytest.raises(ValueError, match=r"model\.pt is not a valid memnets checkpoint.*CRC") as error:
        memnets.load(path)
    assert "weights_only" not in str(error.value)


def test_a_flipped_byte_in_the_pickle_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    offset, size = _record_span(path, "data.pkl")
    _flip(path, offset + size // 2)
    with pytest.raises(ValueError, match="CRC"):
        load_checkpoint(path)


def test_changed_content_with_valid_crcs_fails_the_digest(tmp_path):
    _, path = _saved(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["state_dict"]["lin.weight"][0, 0] += 1.0
    torch.save(checkpoint, path)  # a consistent archive whose content no longer matches its digest
    with pytest.raises(ValueError, match="does not match the digest"):
        memnets.load(path)


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9, 0.999])
def test_a_truncated_file_is_refused(tmp_path, keep):
    _, path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"model\.pt is not a valid memnets checkpoint"):
        memnets.load(path)


def test_random_bytes_are_refused_without_torchs_advice(tmp_path):
    path = tmp_path / "model.pt"
    generator = torch.Generator().manual_seed(0)
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), generator=generator).tolist()))
    with pytest.raises(ValueError, match="not a complete zip archive") as error:
        memnets.load(path)
    assert "weights_only" not in str(error.value)


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_a_foreign_pickle_is_refused(tmp_path):
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"state_dict": {}}))
    with pytest.raises(ValueError, match="plain.pt is not a valid memnets checkpoint"):
        memnets.load(plain)
    hostile = tmp_path / "hostile.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": {"class": "_Pair", "kwargs": {}}, "payload": _Payload()},
               hostile)
    with pytest.raises(ValueError, match="never unpickles") as error:
        memnets.load(hostile)
    assert "weights_only" not in str(error.value)


def test_a_missing_file_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="found none"):
        memnets.load(tmp_path / "nothing.pt")


def test_non_finite_weights_are_refused_unless_asked(tmp_path):
    for value in (float("nan"), float("inf")):
        _, path = _saved(tmp_path, value=value)
        with pytest.raises(ValueError, match="non-finite weights in 'lin.weight'"):
            memnets.load(path)
        model = memnets.load(path, allow_non_finite=True)
        assert not torch.isfinite(model.lin.weight).any()


def _write(path, **entries):
    atomic_save({"format": CHECKPOINT_FORMAT, "step": 0, **entries}, path)


def test_a_spec_that_disagrees_with_the_weights_is_a_value_error(tmp_path):
    state = _Pair(3).state_dict()
    _write(tmp_path / "size.pt", model={"class": "_Pair", "kwargs": {"size": 4}}, state_dict=state)
    with pytest.raises(ValueError, match=r"do not fit _Pair\(\{'size': 4\}\)"):
        memnets.load(tmp_path / "size.pt")
    _write(tmp_path / "kwarg.pt", model={"class": "_Pair", "kwargs": {"width": 3}}, state_dict=state)
    with pytest.raises(ValueError, match="refuses the stored arguments"):
        memnets.load(tmp_path / "kwarg.pt")
    _write(tmp_path / "class.pt", model={"class": "NoSuchModel", "kwargs": {}}, state_dict=state)
    with pytest.raises(ValueError, match="NoSuchModel"):
        memnets.load(tmp_path / "class.pt")
    _write(tmp_path / "bare.pt", model={"class": "_Pair", "kwargs": {}})
    with pytest.raises(ValueError, match="no state_dict"):
        memnets.load(tmp_path / "bare.pt")
    _write(tmp_path / "nomodel.pt", state_dict=state)
    with pytest.raises(ValueError, match="no model description"):
        memnets.load(tmp_path / "nomodel.pt")


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_allows(tmp_path, mask, mode):
    previous = os.umask(mask)
    try:
        _, path = _saved(tmp_path)
        write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "model.pt"]  # no temporary file left


def test_an_interrupted_write_keeps_the_previous_file(tmp_path):
    _, path = _saved(tmp_path)
    before = path.read_bytes()

    class _Unsaveable:
        def __reduce__(self):
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_save({"format": CHECKPOINT_FORMAT, "x": _Unsaveable()}, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_a_checkpoint_of_the_first_format_still_loads_as_a_model(tmp_path):
    import memnets
    from memnets.nn.registry import model_spec
    from memnets.training.checkpoint import LEGACY_FORMAT

    model = memnets.NTM(4, 3, controller_size=8, memory_size=6, word_size=4)
    path = tmp_path / "old.pt"
    torch.save({"format": LEGACY_FORMAT, "model": model_spec(model), "state_dict": model.state_dict()}, path)
    loaded = memnets.load(path)
    x = torch.zeros(3, 2, 4)
    torch.testing.assert_close(loaded(x)[0], model.eval()(x)[0])
    # its archive's CRCs are still checked
    data = bytearray(path.read_bytes())
    start = data.find(b"data/0") + 200
    data[start : start + 8] = bytes(8)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="old.pt"):
        memnets.load(path)
