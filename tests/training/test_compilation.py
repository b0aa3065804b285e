"""torch.compile: the steps trace without graph breaks, compiled equals eager, --compile and --amp in fit."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo as dynamo
import torch._dynamo.testing
from torch import nn

from memnets.nn.memory.ntm import NTM, NTMCell
from memnets.nn.recurrent.cells import GRUCell, LSTMCell, RNNCell
from memnets.nn.registry import register_model
from memnets.training import Task, TrainConfig, fit
from memnets.training.compilation import STEP_MODULES, compile_steps, step_module_types


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    dynamo.reset()
    yield
    dynamo.reset()


def _no_breaks(fn, *args) -> None:
    report = dynamo.explain(fn)(*args)
    assert report.graph_break_count == 0, report.break_reasons
    assert report.graph_count == 1


def _small_ntm_cell() -> NTMCell:
    torch.manual_seed(0)
    return NTMCell(9, 8, controller_size=16, memory_size=8, word_size=4)


@pytest.mark.parametrize("cell", [LSTMCell(3, 5), GRUCell(3, 5), RNNCell(3, 5)], ids=lambda c: type(c).__name__)
def test_cells_trace_without_graph_breaks(cell):
    x = torch.randn(2, 3)
    _no_breaks(cell, x)  # hx=None
    _no_breaks(cell, x, cell(x))


def test_ntm_step_traces_without_graph_breaks():
    cell = _small_ntm_cell()
    x = torch.randn(2, 9)
    _no_breaks(cell, x, cell.initial_state(2))
    _no_breaks(cell._step, x, cell(x)[1])  # the function the NTM's time loop calls


def test_gated_graph_conv_traces_without_graph_breaks():
    from memnets.nn.graphs import GatedGraphConv

    conv = GatedGraphConv(8, num_layers=3)
    x = torch.randn(5, 4)
    edge_index = torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 0]])
    _no_breaks(conv, x, edge_index)


_BACKENDS = ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)]  # fit(compile=True) runs inductor


@pytest.mark.parametrize("backend", _BACKENDS)
def test_compiled_gated_graph_conv_matches_eager(backend):
    from memnets.nn.graphs import GatedGraphConv

    torch.manual_seed(0)
    conv = GatedGraphConv(8, num_layers=3)
    x = torch.randn(6, 4)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 5, 0, 3]])
    eager = conv(x, edge_index)  # the fused sparse path
    compiled = torch.compile(conv, backend=backend, fullgraph=True)(x, edge_index)  # gather/scatter
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", _BACKENDS)
@pytest.mark.parametrize("make", [lambda: LSTMCell(3, 5), lambda: GRUCell(3, 5)], ids=["LSTMCell", "GRUCell"])
def test_compiled_cell_matches_eager(make, backend):
    torch.manual_seed(0)
    eager = make()
    compiled = make()
    compiled.load_state_dict(eager.state_dict())
    compiled.compile(backend=backend)
    x = torch.randn(4, 3)
    for module in (eager, compiled):
        state = None
        for _ in range(3):  # hx=None, then the cell's own state
            state = module(x, state)
        out = state[0] if isinstance(state, tuple) else state
        out.square().sum().backward()
    torch.testing.assert_close(compiled(x), eager(x))
    for p, q in zip(compiled.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def _ntm_outputs_and_grads(model: NTM, x: torch.Tensor):
    logits, state = model(x)
    (logits.square().sum() + state.memory.sum()).backward()
    return logits.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("backend", _BACKENDS)
def test_compiled_ntm_matches_eager(backend):
    torch.manual_seed(0)
    eager = NTM(9, 8, controller_size=16, memory_size=8, word_size=4)
    compiled = NTM(9, 8, controller_size=16, memory_size=8, word_size=4)
    compiled.load_state_dict(eager.state_dict())
    assert compile_steps(compiled, backend=backend) == ["cell"]
    x = torch.randn(6, 3, 9)
    logits, grads = _ntm_outputs_and_grads(compiled, x)
    logits_ref, grads_ref = _ntm_outputs_and_grads(eager, x)
    torch.testing.assert_close(logits, logits_ref, rtol=1e-4, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-4, atol=1e-5)
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no _orig_mod. prefixes


def test_compile_steps_compiles_steps_not_sequences():
    torch.manual_seed(0)
    nested = nn.ModuleDict({"enc": nn.Sequential(nn.Linear(3, 3), LSTMCell(3, 4)), "dec": nn.GRUCell(4, 4)})
    keys = list(nested.state_dict())
    assert compile_steps(nested, backend="eager") == ["enc.1", "dec"]
    assert list(nested.state_dict()) == keys
    mlp = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    assert compile_steps(mlp, backend="eager") == [""]  # no step inside: the whole model
    assert len(step_module_types()) == 1 + len(STEP_MODULES)  # every listed step class still imports


# --------------------------------------------------------------------------- fit(compile=..., amp=...)


@register_model
class _CellTagger(nn.Module):
    """A time-major tagger built on a memnets cell: what --compile compiles is the cell."""

    def __init__(self, size: int = 3, hidden: int = 8):
        super().__init__()
        self.cell = GRUCell(size, hidden)
        self.readout = nn.Linear(hidden, 1)

    def forward(self, x):
        h, outs = x.new_zeros(x.shape[1], self.cell.hidden_size), []  # one state signature: one graph
        for x_t in x.unbind(0):
            h = self.cell(x_t, h)
            outs.append(h)
        return self.readout(torch.stack(outs)).squeeze(-1)


class _SumTask(Task):
    batch_dim = 1

    def sample(self, batch_size, generator, device):
        x = torch.randn(5, batch_size, 3, generator=generator)
        return x.to(device), x.sum(-1).cumsum(0).to(device)

    def loss(self, model, batch):
        x, y = batch
        loss = ((model(x) - y) ** 2).mean()
        return loss, {}


def _fit(tmp_path, **overrides):
    torch.manual_seed(0)
    cfg = TrainConfig(out=str(tmp_path / str(sorted(overrides.items()))), steps=4, batch_size=8, log_every=1,
                      eval_every=100, checkpoint_every=100, progress=False, device="cpu", lr=1e-2, **overrides)
    result = fit(_CellTagger(), _SumTask(), cfg)
    return [r["loss"] for r in result.history if "loss" in r], result.model


def test_fit_with_compile_matches_eager(tmp_path):
    eager_losses, eager = _fit(tmp_path)
    compiled_losses, compiled = _fit(tmp_path, compile=True)
    torch.testing.assert_close(compiled_losses, eager_losses, rtol=1e-4, atol=1e-6)
    for p, q in zip(compiled.parameters(), eager.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_fit_with_bf16_autocast_stays_close_to_float32(tmp_path):
    fp32_losses, _ = _fit(tmp_path)
    bf16_losses, model = _fit(tmp_path, amp="bf16")
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast, not a bf16 model
    torch.testing.assert_close(bf16_losses, fp32_losses, rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8")


def test_ntm_keeps_its_addressing_in_float32_under_autocast():
    cell = _small_ntm_cell()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, state = cell(torch.randn(2, 9))
    assert logits.dtype == torch.bfloat16  # the controller and the read-out run in bf16 ...
    assert state.memory.dtype == torch.float32  # ... the memory and the weightings do not
    assert state.read_weights.dtype == state.write_weights.dtype == torch.float32


# --------------------------------------------------------------------------- sequence models


def _sequence_outputs_and_grads(model: nn.Module, x: torch.Tensor):
    model.zero_grad()
    output, state = model(x)
    h = state[0] if isinstance(state, tuple) else state
    (output.square().sum() + h.sum()).backward()
    return output.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_compiled_sequence_model_matches_eager_and_reuses_its_step(kind):
    import memnets

    make = getattr(memnets, kind)
    torch.manual_seed(0)
    # The gate-core path (fused=False), the one compile_step compiles: torch's fused kernel
    # needs no compiling.
    eager = make(3, 5, num_layers=2, bidirectional=kind == "LSTM", fused=False)
    compiled = make(3, 5, num_layers=2, bidirectional=kind == "LSTM", fused=False)
    compiled.load_state_dict(eager.state_dict())
    counter = dynamo.testing.CompileCounter()
    assert compile_steps(compiled, backend=counter) == [""]  # its own compile_step, not the whole model
    graphs = []
    for length in (4, 7, 1):  # the graphs of the first length serve every layer, direction, step and length
        x = torch.randn(length, 2, 3)
        out, grads = _sequence_outputs_and_grads(compiled, x)
        out_ref, grads_ref = _sequence_outputs_and_grads(eager, x)
        torch.testing.assert_close(out, out_ref)
        for g, g_ref in zip(grads, grads_ref):
            torch.testing.assert_close(g, g_ref)
        graphs.append(counter.frame_count)
    assert 1 <= graphs[0] <= 2 and graphs == [graphs[0]] * 3, graphs  # first step (state without grad), later steps
    assert list(compiled.state_dict()) == list(eager.state_dict())


def test_compile_steps_finds_the_lstm_inside_the_sequence_model():
    from memnets import SequenceToSequence

    torch.manual_seed(0)
    eager = SequenceToSequence(4, 6, 3, cell="lstm", num_layers=2)
    compiled = SequenceToSequence(4, 6, 3, cell="lstm", num_layers=2)
    compiled.load_state_dict(eager.state_dict())
    names = compile_steps(compiled, backend="aot_eager")
    assert names == [name for name, m in compiled.named_modules() if type(m).__name__ == "LSTM"]
    x = torch.randn(5, 2, 4)
    torch.testing.assert_close(compiled(x)[0], eager(x)[0], rtol=1e-5, atol=1e-6)


def test_compile_is_available_on_this_machine():
    # CI and the developers' machines have a C compiler: the default fast path must work here.
    from memnets.training.compilation import compile_unavailable

    assert compile_unavailable("cpu") is None


def test_fit_falls_back_to_eager_and_says_why(tmp_path, monkeypatch, capsys):
    from memnets.training import compilation

    monkeypatch.setattr(compilation, "compile_unavailable", lambda device: "RuntimeError: no C compiler found")
    called = []
    monkeypatch.setattr(compilation, "compile_steps", lambda model, **options: called.append(model))
    losses, _ = _fit(tmp_path, compile=True)
    eager_losses, _ = _fit(tmp_path / "eager")
    assert called == []
    assert "torch.compile is not available here (RuntimeError: no C compiler found); training eager" in capsys.readouterr().err
    assert losses == eager_losses  # the eager path, bit for bit


def test_probe_reports_a_failing_compiler(monkeypatch):
    from memnets.training import compilation

    def broken(*args, **kwargs):
        raise RuntimeError("Compiler: cc is not found\nmore detail")

    compilation._probe.cache_clear()
    monkeypatch.setattr(compilation.torch, "compile", broken)
    try:
        assert compilation.compile_unavailable("cpu") == "RuntimeError: Compiler: cc is not found"
    finally:
        compilation._probe.cache_clear()


def test_no_compilation_into_a_kernel_cache_shared_across_cpu_capabilities(monkeypatch, tmp_path):
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    from memnets.training import compilation

    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    assert compilation._shared_kernel_cache() is None
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())
    assert "TORCHINDUCTOR_CACHE_DIR is torch's default" in compilation._shared_kernel_cache()
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "avx2"))
    assert compilation._shared_kernel_cache() is None
