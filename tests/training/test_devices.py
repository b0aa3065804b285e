"""Device handling: no tensor is created on the wrong device.

Without a GPU, the ``meta`` device stands in for CUDA: like a CUDA tensor, a meta tensor
refuses to meet a CPU tensor in an operation, so a model that builds a state or a constant
on the CPU (``torch.zeros(...)`` without ``device=``) fails here as it would on a GPU. The
CUDA tests run where a GPU is available.
"""

from __future__ import annotations

import math

import pytest
import torch

from memnets import SequenceToSequence
from memnets.data.bits import copy_batch, masked_bce_loss
from memnets.nn.memory.ntm import NTM
from memnets.nn.recurrent.cells import GRUCell, LSTMCell, RNNCell

_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _small_ntm() -> NTM:
    torch.manual_seed(0)
    return NTM(9, 8, controller_size=16, memory_size=8, word_size=4)


def test_the_meta_device_refuses_cpu_tensors_as_cuda_does():
    with pytest.raises(RuntimeError, match="device"):
        torch.zeros(3) + torch.zeros(3, device="meta")


@pytest.mark.parametrize("make", [_small_ntm, lambda: SequenceToSequence(9, 8, 8, cell="lstm", num_layers=2)],
                         ids=["NTM", "SequenceToSequence"])
def test_sequence_models_stay_on_their_device(make):
    model = make().to("meta")
    batch = copy_batch(3, max_len=4, generator=torch.Generator().manual_seed(0), device="meta")
    logits, _ = model(batch.inputs)
    masked_bce_loss(logits, batch).backward()
    assert logits.device.type == "meta"
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in model.parameters())


@pytest.mark.parametrize("cell", [LSTMCell(3, 4), GRUCell(3, 4), RNNCell(3, 4)], ids=lambda c: type(c).__name__)
def test_cells_stay_on_their_device(cell):
    cell = cell.to("meta")
    out = cell(torch.zeros(2, 3, device="meta"))  # hx=None: the zero state must be made on the input's device
    out = cell(torch.zeros(2, 3, device="meta"), out)
    assert all(t.device.type == "meta" for t in (out if isinstance(out, tuple) else (out,)))


@_CUDA
@pytest.mark.parametrize("amp", [None, "bf16"])
def test_fit_trains_the_ntm_on_cuda(tmp_path, amp):
    from memnets.training import TrainConfig, fit
    from tasks._bits import BitTask

    cfg = TrainConfig(out=str(tmp_path / "run"), steps=3, batch_size=8, eval_every=3, log_every=1, progress=False,
                      device="cuda", amp=amp)
    result = fit(_small_ntm(), BitTask(copy_batch, eval_sequences=16, max_len=5), cfg)
    assert all(p.device.type == "cuda" for p in result.model.parameters())
    losses = [r["loss"] for r in result.history if "loss" in r]
    assert len(losses) == 3 and all(math.isfinite(loss) for loss in losses)
