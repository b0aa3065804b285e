"""Tests of memnets.data.bits against TASKS.md.

The reference layouts below are written from the task specification, one step and one
channel at a time, with plain Python loops; the generators' vectorised layouts must agree
with them exactly. The random content (data bits, priorities) is read back from the
generated inputs and then everything else is rebuilt from it.
"""

from __future__ import annotations

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

import memnets.data
from memnets.data import bits as bits_module
from memnets.data.bits import (
    BATCH_DIMS,
    GENERALISATION,
    BitBatch,
    associative_recall_batch,
    bits_per_sequence,
    copy_batch,
    masked_bce_loss,
    priority_sort_batch,
    repeat_copy_batch,
    wrong_bits_per_sequence,
)

GENERATORS = {
    "copy": copy_batch,
    "repeat_copy": repeat_copy_batch,
    "associative_recall": associative_recall_batch,
    "priority_sort": priority_sort_batch,
}
#: (input channels, output channels) of each task with its default bit width (TASKS.md).
CHANNELS = {"copy": (9, 8), "repeat_copy": (10, 9), "associative_recall": (8, 6), "priority_sort": (10, 8)}


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------------------------------
# slow reference layouts, written from TASKS.md


def ref_copy(data: list[list[float]]):
    """Copy: steps 0..L-1 data, step L delimiter (ch 8), steps L+1..2L answer."""
    length = len(data)
    total = 2 * length + 1
    inputs = [[0.0] * 9 for _ in range(total)]
    targets = [[0.0] * 8 for _ in range(total)]
    mask = [False] * total
    for t in range(length):
        for c in range(8):
            inputs[t][c] = data[t][c]
    inputs[length][8] = 1.0
    for t in range(length + 1, 2 * length + 1):
        targets[t] = list(data[t - length - 1])
        mask[t] = True
    return inputs, targets, mask


def ref_repeat_copy(data: list[list[float]], repeats: int):
    """Repeat copy: data, delimiter + (R - 5.5)/2.872 on ch 9, R·L answer steps, end marker."""
    length = len(data)
    total = length + 1 + repeats * length + 1
    inputs = [[0.0] * 10 for _ in range(total)]
    targets = [[0.0] * 9 for _ in range(total)]
    mask = [False] * total
    for t in range(length):
        for c in range(8):
            inputs[t][c] = data[t][c]
    inputs[length][8] = 1.0
    inputs[length][9] = (repeats - 5.5) / 2.872
    t = length + 1
    for _ in range(repeats):
        for vector in data:
            targets[t][:8] = list(vector)
            mask[t] = True
            t += 1
    targets[t][8] = 1.0
    mask[t] = True
    assert t == total - 1
    return inputs, targets, mask


def ref_associative_recall(items: list[list[list[float]]], query: int):
    """Associative recall: per item ch 6 then 3 vectors; ch 7, query item, ch 7, 3 answer steps."""
    inputs, targets, mask = [], [], []

    def step(data=None, channel=None, target=None):
        row = [0.0] * 8
        if data is not None:
            row[:6] = list(data)
        if channel is not None:
            row[channel] = 1.0
        inputs.append(row)
        targets.append(list(target) if target is not None else [0.0] * 6)
        mask.append(target is not None)

    for item in items:
        step(channel=6)
        for vector in item:
            step(data=vector)
    step(channel=7)
    for vector in items[query]:
        step(data=vector)
    step(channel=7)
    for vector in items[query + 1]:
        step(target=vector)
    return inputs, targets, mask


def ref_priority_sort(data: list[list[float]], priority: list[float], num_outputs: int):
    """Priority sort: vectors with priority on ch 8, delimiter ch 9, top vectors highest first."""
    n = len(data)
    total = n + 1 + num_outputs
    inputs = [[0.0] * 10 for _ in range(total)]
    targets = [[0.0] * 8 for _ in range(total)]
    mask = [False] * total
    for t in range(n):
        inputs[t][:8] = list(data[t])
        inputs[t][8] = priority[t]
    inputs[n][9] = 1.0
    ranked = sorted(range(n), key=lambda i: -priority[i])
    for j in range(num_outputs):
        targets[n + 1 + j] = list(data[ranked[j]])
        mask[n + 1 + j] = True
    return inputs, targets, mask


def stack_padded(sequences) -> BitBatch:
    """Pad reference sequences at the end with zeros (mask False) and stack them time-major."""
    total = max(len(inputs) for inputs, _, _ in sequences)
    batch = len(sequences)
    c_in, c_out = len(sequences[0][0][0]), len(sequences[0][1][0])
    inputs = torch.zeros(total, batch, c_in)
    targets = torch.zeros(total, batch, c_out)
    mask = torch.zeros(total, batch, dtype=torch.bool)
    lengths = torch.zeros(batch, dtype=torch.long)
    for b, (x, y, m) in enumerate(sequences):
        inputs[: len(x), b] = torch.tensor(x)
        targets[: len(y), b] = torch.tensor(y)
        mask[: len(m), b] = torch.tensor(m)
        lengths[b] = len(x)
    return BitBatch(inputs, targets, mask, lengths)


def assert_same_batch(actual: BitBatch, expected: BitBatch) -> None:
    assert actual.inputs.dtype == torch.float32 and actual.targets.dtype == torch.float32
    assert actual.mask.dtype == torch.bool and actual.lengths.dtype == torch.long
    for name in BitBatch._fields:
        a, e = getattr(actual, name), getattr(expected, name)
        assert a.shape == e.shape, name
        assert torch.equal(a, e), name


# ---------------------------------------------------------------------------------------
# copy


def test_copy_layout_channel_by_channel():
    batch = copy_batch(2, length=3, generator=seeded(1))
    x, y, m = batch.inputs, batch.targets, batch.mask
    assert x.shape == (7, 2, 9) and y.shape == (7, 2, 8) and m.shape == (7, 2)
    assert batch.lengths.tolist() == [7, 7]
    assert torch.all(x[:3, :, 8] == 0)  # no delimiter on data steps
    assert torch.all(x[3, :, 8] == 1) and torch.all(x[3, :, :8] == 0)  # delimiter step
    assert torch.all(x[4:] == 0)  # the answer phase reads zeros
    assert torch.equal(y[4:7], x[0:3, :, :8])  # target = the data in order
    assert torch.all(y[:4] == 0)
    assert m[:, 0].tolist() == [False] * 4 + [True] * 3
    assert set(x[:3, :, :8].unique().tolist()) == {0.0, 1.0}


def test_copy_matches_reference_with_padding():
    batch = copy_batch(24, min_len=1, max_len=7, generator=seeded(2))
    sequences = []
    for b, total in enumerate(batch.lengths.tolist()):
        assert total % 2 == 1
        length = (total - 1) // 2
        sequences.append(ref_copy(batch.inputs[:length, b, :8].tolist()))
    assert_same_batch(batch, stack_padded(sequences))
    assert len(set(batch.lengths.tolist())) > 1  # the batch really mixes lengths


def test_copy_length_distribution_includes_both_ends():
    batch = copy_batch(3000, min_len=1, max_len=20, generator=seeded(3))
    lengths = ((batch.lengths - 1) // 2).tolist()
    assert set(lengths) == set(range(1, 21))
    data = batch.inputs[..., :8][batch.inputs[..., 8].cumsum(0) == 0]  # the steps before the delimiter
    assert abs(float(data.mean()) - 0.5) < 0.01


def test_copy_other_bit_width():
    batch = copy_batch(2, length=4, bits=3, generator=seeded(4))
    assert batch.inputs.shape == (9, 2, 4) and batch.targets.shape == (9, 2, 3)
    assert torch.all(batch.inputs[4, :, 3] == 1)
    assert torch.equal(batch.targets[5:], batch.inputs[:4, :, :3])


# ---------------------------------------------------------------------------------------
# repeat copy


def test_repeat_copy_layout_channel_by_channel():
    batch = repeat_copy_batch(3, length=2, repeats=3, generator=seeded(5))
    x, y, m = batch.inputs, batch.targets, batch.mask
    total = 2 + 1 + 3 * 2 + 1
    assert x.shape == (total, 3, 10) and y.shape == (total, 3, 9)
    assert batch.lengths.tolist() == [total] * 3
    assert torch.all(x[:2, :, 8:] == 0)
    assert torch.all(x[2, :, 8] == 1) and torch.all(x[2, :, :8] == 0)
    assert torch.all(x[2, :, 9] == torch.tensor((3 - 5.5) / 2.872))  # the count, fixed constants
    assert torch.all(x[3:] == 0)
    data = x[:2, :, :8]
    assert torch.equal(y[3:9, :, :8], torch.cat([data, data, data]))  # R copies, in order
    assert torch.all(y[:9, :, 8] == 0)
    assert torch.all(y[9, :, 8] == 1) and torch.all(y[9, :, :8] == 0)  # end marker
    assert torch.all(y[:3] == 0)
    assert m[:, 0].tolist() == [False] * 3 + [True] * 7  # R·L steps and the end marker


@pytest.mark.parametrize("repeats", [1, 10, 20])
def test_repeat_count_encoding_keeps_constants(repeats):
    batch = repeat_copy_batch(1, length=1, repeats=repeats, generator=seeded(6))
    assert batch.inputs[1, 0, 9].item() == pytest.approx((repeats - 5.5) / 2.872, abs=1e-6)


def test_repeat_copy_matches_reference_with_padding():
    batch = repeat_copy_batch(24, max_len=5, max_repeats=4, generator=seeded(7))
    sequences = []
    for b, total in enumerate(batch.lengths.tolist()):
        length = int(batch.inputs[:, b, 8].argmax())  # the delimiter step
        repeats, rest = divmod(total - 2, length)
        assert rest == 0
        sequences.append(ref_repeat_copy(batch.inputs[:length, b, :8].tolist(), repeats - 1))
    assert_same_batch(batch, stack_padded(sequences))
    assert len(set(batch.lengths.tolist())) > 1


def test_repeat_copy_draws_cover_ranges():
    batch = repeat_copy_batch(2000, generator=seeded(8))
    lengths = batch.inputs[..., 8].argmax(0)
    counts = torch.round(batch.inputs[..., 9].sum(0) * 2.872 + 5.5).long()
    assert set(lengths.tolist()) == set(range(1, 11))
    assert set(counts.tolist()) == set(range(1, 11))
    assert torch.equal(batch.lengths, lengths * (counts + 1) + 2)


# ---------------------------------------------------------------------------------------
# associative recall


def split_items(batch: BitBatch, b: int) -> tuple[list, int]:
    """Read the items and the query index of sequence b back from its inputs."""
    count = int(batch.lengths[b]) // 4 - 2
    items = [batch.inputs[4 * k + 1: 4 * k + 4, b, :6].tolist() for k in range(count)]
    query_vectors = batch.inputs[4 * count + 1: 4 * count + 4, b, :6].tolist()
    matches = [k for k, item in enumerate(items) if item == query_vectors]
    assert matches, "the query is not one of the items"
    return items, matches[0]


def test_associative_recall_layout_channel_by_channel():
    batch = associative_recall_batch(4, items=3, generator=seeded(9))
    x, y, m = batch.inputs, batch.targets, batch.mask
    assert x.shape == (4 * 3 + 8, 4, 8) and y.shape == (20, 4, 6)
    for b in range(4):
        assert x[:, b, 6].nonzero().flatten().tolist() == [0, 4, 8]  # item delimiters
        assert x[:, b, 7].nonzero().flatten().tolist() == [12, 16]  # query delimiters
        assert torch.all(x[[0, 4, 8, 12, 16], b, :6] == 0)
        assert torch.all(x[17:, b] == 0)  # answer phase reads zeros
        items, query = split_items(batch, b)
        assert query in (0, 1)  # never the last item
        assert y[17:, b].tolist() == items[query + 1]  # the item that followed the query
        assert torch.all(y[:17, b] == 0)
        assert m[:, b].tolist() == [False] * 17 + [True] * 3


@pytest.mark.parametrize("items", [2, 6, 12, 20])
def test_associative_recall_length_is_4k_plus_8(items):
    batch = associative_recall_batch(2, items=items, generator=seeded(10))
    assert batch.lengths.tolist() == [4 * items + 8] * 2
    assert batch.inputs.shape[0] == 4 * items + 8


def test_associative_recall_query_is_uniform_over_all_but_last():
    batch = associative_recall_batch(900, items=4, generator=seeded(11))
    items = batch.inputs[:16].reshape(4, 4, 900, 8)[:, 1:, :, :6]  # (item, vector, B, bit)
    query = batch.inputs[17:20, :, :6]
    matches = (items == query).all(-1).all(1)  # (item, B)
    assert torch.all(matches.any(0)) and not matches[3].any()  # a listed item, never the last
    frequency = matches.float().argmax(0).bincount(minlength=4).tolist()
    assert all(abs(f - 300) < 60 for f in frequency[:3]), frequency  # uniform: binomial sd 14
    two = associative_recall_batch(50, items=2, generator=seeded(12))
    assert torch.equal(two.inputs[9:12], two.inputs[1:4])  # K = 2: the query is always item 0
    assert torch.equal(two.targets[13:16, :], two.inputs[5:8, :, :6])


def test_associative_recall_matches_reference_with_padding():
    batch = associative_recall_batch(24, generator=seeded(13))
    sequences = [ref_associative_recall(*split_items(batch, b)) for b in range(24)]
    assert_same_batch(batch, stack_padded(sequences))
    counts = (batch.lengths // 4 - 2).tolist()
    assert min(counts) >= 2 and max(counts) <= 6 and len(set(counts)) > 1


# ---------------------------------------------------------------------------------------
# priority sort


def test_priority_sort_layout_channel_by_channel():
    batch = priority_sort_batch(3, generator=seeded(14))
    x, y, m = batch.inputs, batch.targets, batch.mask
    assert x.shape == (37, 3, 10) and y.shape == (37, 3, 8)
    assert batch.lengths.tolist() == [37] * 3
    priority = x[:20, :, 8]
    assert torch.all(priority >= -1) and torch.all(priority < 1)
    assert torch.all(x[:20, :, 9] == 0) and torch.all(x[20, :, 9] == 1) and torch.all(x[20, :, :9] == 0)
    assert torch.all(x[21:] == 0)
    for b in range(3):
        ranked = sorted(range(20), key=lambda i: -priority[i, b].item())[:16]
        assert y[21:, b].tolist() == x[ranked, b, :8].tolist()
    assert torch.all(y[:21] == 0)
    assert m[:, 0].tolist() == [False] * 21 + [True] * 16


def test_priority_sort_matches_reference():
    batch = priority_sort_batch(8, num_inputs=6, num_outputs=4, generator=seeded(15))
    sequences = [ref_priority_sort(batch.inputs[:6, b, :8].tolist(), batch.inputs[:6, b, 8].tolist(), 4)
                 for b in range(8)]
    assert_same_batch(batch, stack_padded(sequences))


def test_priority_distribution():
    priority = priority_sort_batch(500, generator=seeded(16)).inputs[:20, :, 8]
    assert abs(float(priority.mean())) < 0.03 and float(priority.min()) < -0.99 and float(priority.max()) > 0.99


# ---------------------------------------------------------------------------------------
# shared behaviour of the generators


@pytest.mark.parametrize("task", GENERATORS)
def test_shapes_dtypes_and_padding(task):
    batch = GENERATORS[task](16, generator=seeded(17))
    c_in, c_out = CHANNELS[task]
    total = int(batch.lengths.max())
    assert batch.inputs.shape == (total, 16, c_in) and batch.targets.shape == (total, 16, c_out)
    assert batch.mask.shape == (total, 16) and batch.lengths.shape == (16,)
    padding = torch.arange(total).unsqueeze(1) >= batch.lengths
    assert torch.all(batch.inputs[padding] == 0) and torch.all(batch.targets[padding] == 0)
    assert not batch.mask[padding].any()
    assert torch.all(batch.targets[~batch.mask] == 0)  # nothing to write outside the answer phase
    assert torch.all(batch.mask.any(0))
    for field, dim in zip(batch, BATCH_DIMS):
        assert field.shape[dim] == 16


@pytest.mark.parametrize("task", GENERATORS)
def test_same_seed_same_batch_different_seed_different(task):
    make = GENERATORS[task]
    first, again, other = make(8, generator=seeded(5)), make(8, generator=seeded(5)), make(8, generator=seeded(6))
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    assert first.inputs.shape != other.inputs.shape or not torch.equal(first.inputs, other.inputs)


@pytest.mark.parametrize("task", GENERATORS)
def test_default_generator_is_torch_global_rng(task):
    make = GENERATORS[task]
    torch.manual_seed(123)
    first = make(4)
    torch.manual_seed(123)
    again = make(4)
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)


@pytest.mark.parametrize("task", GENERATORS)
def test_device_argument(task):
    make = GENERATORS[task]
    reference = make(4, generator=seeded(18))
    on_cpu = make(4, generator=seeded(18), device=torch.device("cpu"))
    assert all(t.device.type == "cpu" for t in on_cpu)
    for a, b in zip(reference, on_cpu):
        assert torch.equal(a, b)
    meta = make(4, generator=seeded(18), device="meta")  # proves the tensors are moved
    assert all(t.device.type == "meta" for t in meta)
    assert meta.inputs.shape == reference.inputs.shape
    if torch.cuda.is_available():
        on_gpu = make(4, generator=seeded(18), device="cuda")
        for a, b in zip(reference, on_gpu):
            assert torch.equal(a, b.cpu())


def test_generalisation_settings_follow_tasks_md():
    assert set(GENERALISATION) == set(GENERATORS)
    assert [kw["length"] for kw in GENERALISATION["copy"].values()] == [30, 50, 80, 120]
    assert [kw["items"] for kw in GENERALISATION["associative_recall"].values()] == [12, 15, 20]
    grid = [(kw["length"], kw["repeats"]) for kw in GENERALISATION["repeat_copy"].values()]
    assert max(r for _, r in grid) == 20 and max(n for n, _ in grid) == 20 and all(r > 10 or n > 10 for n, r in grid)
    assert len(GENERALISATION["priority_sort"]) == 0
    for task, settings in GENERALISATION.items():
        for kwargs in settings.values():
            batch = GENERATORS[task](2, generator=seeded(19), **kwargs)
            assert batch.mask.any()
    assert copy_batch(1, **GENERALISATION["copy"]["L=120"]).inputs.shape[0] == 241


# ---------------------------------------------------------------------------------------
# argument checks


@pytest.mark.parametrize(
    "make, kwargs, words",
    [
        (copy_batch, dict(min_len=5, max_len=3), ["expected min_len <= max_len", "got min_len=5 > max_len=3"]),
        (copy_batch, dict(length=0), ["length must be greater than zero, got 0"]),
        (copy_batch, dict(min_len=0), ["min_len must be greater than zero, got 0"]),
        (copy_batch, dict(bits=0), ["bits must be greater than zero, got 0"]),
        (repeat_copy_batch, dict(repeats=0), ["repeats must be greater than zero, got 0"]),
        (repeat_copy_batch, dict(min_repeats=4, max_repeats=2), ["expected min_repeats <= max_repeats"]),
        (repeat_copy_batch, dict(min_len=3, max_len=2), ["expected min_len <= max_len"]),
        (associative_recall_batch, dict(items=1), ["items must be at least 2, got 1"]),
        (associative_recall_batch, dict(min_items=1), ["min_items must be at least 2, got 1"]),
        (associative_recall_batch, dict(min_items=7, max_items=6), ["expected min_items <= max_items"]),
        (associative_recall_batch, dict(item_len=0), ["item_len must be greater than zero, got 0"]),
        (priority_sort_batch, dict(num_inputs=3, num_outputs=4), ["expected num_outputs <= num_inputs"]),
        (priority_sort_batch, dict(num_outputs=0), ["num_outputs must be greater than zero, got 0"]),
        (copy_batch, dict(zero_vectors=1.5), ["zero_vectors", "1.5"]),
        (repeat_copy_batch, dict(zero_vectors=-0.1), ["zero_vectors", "-0.1"]),
    ],
)
def test_invalid_values_raise_value_error(make, kwargs, words):
    with pytest.raises(ValueError) as info:
        make(2, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{make.__name__}: ")
    for word in words:
        assert word in message


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(length=2.5), ["length should be of type int, got: float"]),
        (dict(length=True), ["length should be of type int, got: bool"]),
        (dict(generator="seed"), ["torch.Generator", "str"]),
    ],
)
def test_invalid_types_raise_type_error(kwargs, words):
    with pytest.raises(TypeError) as info:
        copy_batch(2, **kwargs)
    assert str(info.value).startswith("copy_batch: ")
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("make", GENERATORS.values())
def test_batch_size_must_be_positive(make):
    with pytest.raises(ValueError, match="batch_size must be greater than zero, got 0"):
        make(0)


def test_length_one_and_fixed_length_ignores_range():
    batch = copy_batch(1, min_len=50, max_len=60, length=1, generator=seeded(20))
    assert batch.lengths.tolist() == [3] and batch.mask[:, 0].tolist() == [False, False, True]


# ---------------------------------------------------------------------------------------
# metrics


def answer_bits(batch: BitBatch) -> int:
    return int(batch.mask.sum()) * batch.targets.shape[2]


@pytest.mark.parametrize("task", GENERATORS)
def test_perfect_logits_give_zero_wrong_bits_and_near_zero_bits(task):
    batch = GENERATORS[task](8, generator=seeded(21))
    logits = (batch.targets * 2 - 1) * 30
    assert wrong_bits_per_sequence(logits, batch).item() == 0.0
    assert bits_per_sequence(logits, batch).item() < 1e-9


@pytest.mark.parametrize("task", GENERATORS)
def test_zero_logits_give_one_bit_per_answer_bit_exactly(task):
    batch = GENERATORS[task](4, generator=seeded(22))
    logits = torch.zeros_like(batch.targets)
    assert bits_per_sequence(logits, batch).item() == answer_bits(batch) / 4
    assert masked_bce_loss(logits, batch).item() == pytest.approx(math.log(2), rel=1e-6)


def test_metrics_by_hand_on_one_short_sequence():
    batch = copy_batch(1, length=1, generator=seeded(23))
    target = batch.targets[2, 0]
    logits = torch.full_like(batch.targets, 2.0)
    ones = int(target.sum())
    zeros = 8 - ones
    nats = ones * math.log1p(math.exp(-2.0)) + zeros * math.log1p(math.exp(2.0))
    assert bits_per_sequence(logits, batch).item() == pytest.approx(nats / math.log(2), rel=1e-6)
    assert wrong_bits_per_sequence(logits, batch).item() == zeros
    assert masked_bce_loss(logits, batch).item() == pytest.approx(nats / 8, rel=1e-6)


def test_metrics_ignore_steps_outside_the_answer_phase():
    batch = copy_batch(6, min_len=1, max_len=5, generator=seeded(24))
    perfect = (batch.targets * 2 - 1) * 5
    noisy = torch.where(batch.mask.unsqueeze(2), perfect, torch.randn(perfect.shape, generator=seeded(0)) * 100)
    for metric in (bits_per_sequence, wrong_bits_per_sequence, masked_bce_loss):
        assert metric(noisy, batch).item() == pytest.approx(metric(perfect, batch).item(), rel=1e-6)


def test_wrong_bits_counts_flipped_bits_per_sequence():
    batch = repeat_copy_batch(4, length=3, repeats=2, generator=seeded(25))
    logits = batch.targets * 2 - 1
    logits[4, 0, :3] *= -1  # 3 wrong bits in sequence 0
    logits[10, 2, 8] *= -1  # a missed end marker in sequence 2
    assert wrong_bits_per_sequence(logits, batch).item() == pytest.approx(4 / 4)


def test_metrics_equal_torch_losses_on_the_selected_bits():
    batch = associative_recall_batch(16, generator=seeded(26))
    logits = torch.randn(batch.targets.shape, generator=seeded(1)) * 3
    chosen, wanted = logits[batch.mask], batch.targets[batch.mask]
    total = F.binary_cross_entropy_with_logits(chosen, wanted, reduction="sum")
    assert bits_per_sequence(logits, batch).item() == pytest.approx(total.item() / math.log(2) / 16, rel=1e-5)
    assert masked_bce_loss(logits, batch).item() == pytest.approx(torch.nn.BCEWithLogitsLoss()(chosen, wanted).item(),
                                                                  rel=1e-5)
    wrong = ((chosen > 0).float() != wanted).sum().item()
    assert wrong_bits_per_sequence(logits, batch).item() == pytest.approx(wrong / 16)


def test_metrics_finite_for_huge_logits_and_gradient_only_on_answer_phase():
    batch = copy_batch(3, min_len=2, max_len=4, generator=seeded(27))
    logits = ((1 - 2 * batch.targets) * 1e4).requires_grad_()  # confidently wrong everywhere
    loss = masked_bce_loss(logits, batch)
    assert torch.isfinite(loss) and torch.isfinite(bits_per_sequence(logits, batch))
    loss.backward()
    assert torch.all(logits.grad[~batch.mask] == 0) and torch.all(logits.grad[batch.mask].abs().sum(-1) > 0)


def test_gradcheck_float64():
    batch = copy_batch(2, min_len=1, max_len=3, generator=seeded(28))
    logits = torch.randn(batch.targets.shape, dtype=torch.float64, generator=seeded(2)).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: masked_bce_loss(z, batch), (logits,), fast_mode=True)
    assert torch.autograd.gradcheck(lambda z: bits_per_sequence(z, batch), (logits,), fast_mode=True)
    assert masked_bce_loss(logits, batch).dtype == torch.float64


def test_metric_shape_errors():
    batch = copy_batch(2, length=2, generator=seeded(29))
    with pytest.raises(ValueError, match="bits_per_sequence: expected logits"):
        bits_per_sequence(torch.zeros(5, 2, 9), batch)
    with pytest.raises(ValueError, match="expected logits of rank 3"):
        masked_bce_loss(torch.zeros(5, 2), batch)
    with pytest.raises(ValueError, match="BitBatch"):
        wrong_bits_per_sequence(torch.zeros(5, 2, 8), (batch.inputs, batch.targets))


def test_package_exports_and_docstring_examples():
    assert set(bits_module.__all__) <= set(memnets.data.__all__)
    for name in bits_module.__all__:
        assert getattr(memnets.data, name) is getattr(bits_module, name)
    result = doctest.testmod(bits_module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("make", [copy_batch, repeat_copy_batch])
def test_zero_vectors_zero_is_the_papers_draw(make):
    plain = make(16, generator=torch.Generator().manual_seed(3))
    explicit = make(16, generator=torch.Generator().manual_seed(3), zero_vectors=0.0)
    assert all(torch.equal(a, b) for a, b in zip(plain, explicit))


@pytest.mark.parametrize("make", [copy_batch, repeat_copy_batch])
def test_zero_vectors_blanks_whole_vectors_at_the_asked_rate_and_targets_follow(make):
    batch = make(4000, length=5, generator=torch.Generator().manual_seed(0), zero_vectors=0.25)
    data = batch.inputs[:5, :, :8]
    share = float((data.sum(-1) == 0).float().mean())
    # all-zero: blanked (0.25) or drawn so by chance (0.75 / 256)
    assert abs(share - (0.25 + 0.75 / 256)) < 0.01
    assert torch.equal(batch.targets[6:11, :, :8], data)  # the answer is what was read, zeros included


def test_zero_vectors_one_blanks_everything():
    batch = copy_batch(8, length=4, generator=torch.Generator().manual_seed(0), zero_vectors=1.0)
    assert not batch.inputs[..., :8].any() and not batch.targets.any()
