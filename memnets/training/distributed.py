"""Multi-process training with `torch.distributed`: launch with ``torchrun``, change nothing.

`fit` calls `process_group` around the training run. In a
single process (no ``WORLD_SIZE`` in the environment, or ``WORLD_SIZE=1``) it does
nothing. Under ``torchrun --nproc_per_node=N`` it reads ``WORLD_SIZE``, ``RANK`` and
``LOCAL_RANK``, joins the process group with the backend the device needs (``gloo`` on
the CPU, ``nccl`` on CUDA; one GPU per process, ``cuda:LOCAL_RANK``), and destroys the
group when training ends, also on an error.

The data of a multi-process run are those of the single-process run with the same global
batch: every rank draws the *global* batch of step ``s`` from the generator seeded with
``(seed, s)`` and keeps its own contiguous slice (`shard_batch`). Ranks therefore
never see the same sequence twice; when the task's loss is a mean over the items of a
batch, the average of the ranks' losses is the single-process loss (and DDP's averaged
gradient its gradient); and a checkpoint resumes under any world size that divides the
batch.

Examples:
    .. code-block:: bash

        torchrun --nproc_per_node=2 -m tasks.copy --out runs/copy-ddp --batch-size 64
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor, nn

__all__ = [
    "DistributedContext",
    "backend_for",
    "barrier",
    "env_world",
    "get_rank",
    "get_world_size",
    "is_main_process",
    "process_group",
    "run_processes",
    "shard_batch",
]

#: How long a rank waits in a collective (or at start-up) for the others before failing.
_TIMEOUT = datetime.timedelta(minutes=30)
_LOCALHOST = "127.0.0.1"
#: Pause before a process group is destroyed, for gloo's workers to finish (see process_group).
_DRAIN_SECONDS = 0.2
#: Process groups this process has joined: each gets its own key prefix in the rendezvous store.
_groups_joined = 0


def env_world() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` as ``torchrun`` sets them; ``(0, 0, 1)`` if unset."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"expected 0 <= RANK < WORLD_SIZE, got RANK={rank}, WORLD_SIZE={world_size}")
    return rank, local_rank, world_size


def get_rank() -> int:
    """This process's rank: from the process group if there is one, else from ``RANK`` (default 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return env_world()[0]


def get_world_size() -> int:
    """The number of processes: from the process group if there is one, else ``WORLD_SIZE`` (default 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return env_world()[2]


def is_main_process() -> bool:
    """True on rank 0, the process that writes metrics, checkpoints and plots."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (no-op without a process group)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def backend_for(device: torch.device) -> str:
    """``"nccl"`` for CUDA devices, ``"gloo"`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in a (possibly single-process) run.

    Attributes:
        rank: this process's rank, 0 .. world_size - 1.
        world_size: the number of processes.
        device: the device this process trains on (``cuda:LOCAL_RANK`` under torchrun).
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0."""
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to call in training: ``DistributedDataParallel(model)``, or ``model`` alone."""
        if not self.enabled:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def mean(self, values: Mapping[str, float]) -> dict[str, float]:
        """``values`` averaged over the ranks (one all-reduce); the same dictionary on every rank.

        Decisions taken on the result (stop on a non-finite loss, advance a curriculum)
        therefore agree across ranks.
        """
        if not self.enabled:
            return dict(values)
        keys = sorted(values)
        packed = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(packed)
        means = dict(zip(keys, (packed / self.world_size).tolist()))
        return {k: means[k] for k in values}

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (e.g. a Ctrl-C seen by one)."""
        if not self.enabled:
            return flag
        packed = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(packed)
        return bool(packed.item() > 0)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (a picklable value, e.g. evaluation results)."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.enabled:
            dist.barrier()


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[DistributedContext]:
    """Join ``torchrun``'s process group for the duration of a block.

    Single process: yields a context with ``world_size=1`` and does nothing else. Under
    ``torchrun`` (``WORLD_SIZE`` > 1): picks the backend for ``device`` (gloo / nccl),
    puts CUDA runs on ``cuda:LOCAL_RANK``, initialises the group and destroys it on the
    way out, also when the block raises. A group that is already initialised (by the
    caller) is used as it is and left alone.

    Args:
        device: the device asked for (``cuda`` without an index becomes ``cuda:LOCAL_RANK``).

    Yields:
        The `DistributedContext`.
    """
    if dist.is_available() and dist.is_initialized():
        device = _rank_device(device, env_world()[1])
        yield DistributedContext(dist.get_rank(), dist.get_world_size(), device)
        return
    rank, local_rank, world_size = env_world()
    if world_size == 1:
        yield DistributedContext(0, 1, device)
        return
    device = _rank_device(device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # torchrun's store outlives a group, and a script may call fit several times: a fresh key
    # prefix per group keeps a fast rank from reading a finished group's addresses.
    global _groups_joined
    store, _, _ = next(dist.rendezvous("env://", rank, world_size, timeout=_TIMEOUT))
    store = dist.PrefixStore(f"memnets/group{_groups_joined}/", store)
    _groups_joined += 1
    dist.init_process_group(backend_for(device), store=store, rank=rank, world_size=world_size, timeout=_TIMEOUT,
                            device_id=device if device.type == "cuda" else None)
    try:
        yield DistributedContext(dist.get_rank(), dist.get_world_size(), device)
    finally:
        # gloo's worker threads may still be destroying finished work items, and that takes
        # the GIL when a tensor made in Python goes with them; the group's destructor joins
        # those threads while holding the GIL. Destroying the group at that moment deadlocks
        # (seen when one rank left after a Ctrl-C), so give them a moment first.
        time.sleep(_DRAIN_SECONDS)
        dist.destroy_process_group()


def _rank_device(device: torch.device, local_rank: int) -> torch.device:
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return device


def shard_batch(batch: Any, rank: int, world_size: int, dim: Any = None) -> Any:
    """Rank ``rank``'s contiguous part of a global batch: items ``[rank·b, (rank+1)·b)``, b = B / world_size.

    Args:
        batch: a tensor; a tuple, NamedTuple, list or dict of batches (recursively);
            or a ``torch_geometric`` ``Batch`` (split by graphs; plain values set on the
            whole batch, such as a step count, are kept). Plain values (numbers,
            strings, ``None``) are kept as they are.
        rank: this process's rank.
        world_size: the number of processes.
        dim: the batch dimension: one int for every tensor, or a structure shaped like
            ``batch`` giving each tensor's (e.g. ``BitBatch(inputs=1, targets=1,
            mask=1, lengths=0)`` for time-major sequences). ``None`` (undeclared) is
            refused for tensors: there is no safe guess between batch-first and time-major.

    Returns:
        The same structure, every tensor cut to B / world_size along its batch dimension.

    Raises:
        ValueError: if the tensors disagree on the batch size B along their batch
            dimensions (usually a wrong ``dim``: time-major data need ``dim=1``), or B is
            not divisible by ``world_size``.
        TypeError: for a leaf it does not know how to split (override
            `memnets.training.Task.shard`).

    Examples:
        >>> shard_batch((torch.arange(4), torch.zeros(3, 4)), 1, 2, dim=(0, 1))[0]
        tensor([2, 3])
    """
    if world_size == 1:
        return batch
    sizes: dict[int, str] = {}
    _map_leaves(batch, dim, lambda leaf, d: sizes.setdefault(_leaf_size(leaf, d), _describe(leaf, d)))
    if len(sizes) > 1:
        raise ValueError(f"shard_batch: expected one batch size along the batch dimensions, got "
                         f"{'; '.join(f'{size} ({what})' for size, what in sizes.items())}; check Task.batch_dim")
    if not sizes:
        raise ValueError("shard_batch: expected a batch holding at least one tensor, got none")
    (size,) = sizes
    if size % world_size:
        raise ValueError(f"shard_batch: expected the batch size divisible by world_size={world_size}, got {size}")
    part = size // world_size
    return _map_leaves(batch, dim, lambda leaf, d: _narrow(leaf, d, rank * part, part))


def _map_leaves(batch: Any, dim: Any, fn: Callable[[Any, Any], Any]) -> Any:
    """Apply ``fn(leaf, leaf_dim)`` to every tensor and graph batch of ``batch``; keep plain values."""
    if isinstance(batch, Tensor) or _is_graph_batch(batch):
        return fn(batch, dim)
    if isinstance(batch, Mapping):
        dims = dim if isinstance(dim, Mapping) else dict.fromkeys(batch, dim)
        return type(batch)({k: _map_leaves(v, dims[k], fn) for k, v in batch.items()})
    if isinstance(batch, (tuple, list)):
        dims = dim if isinstance(dim, Sequence) else [dim] * len(batch)
        parts = [_map_leaves(v, d, fn) for v, d in zip(batch, dims, strict=True)]
        return type(batch)(*parts) if hasattr(batch, "_fields") else type(batch)(parts)  # NamedTuple or not
    if batch is None or isinstance(batch, (bool, int, float, str)):
        return batch
    raise TypeError(
        f"shard_batch: cannot split a {type(batch).__name__} between ranks; override Task.shard for this task"
    )


def _is_graph_batch(batch: Any) -> bool:
    return hasattr(batch, "index_select") and hasattr(batch, "num_graphs") and hasattr(batch, "from_data_list")


def _leaf_size(leaf: Any, dim: Any) -> int:
    if _is_graph_batch(leaf):
        return leaf.num_graphs
    if dim is None:
        raise TypeError(f"shard_batch: the batch dimension of a {tuple(leaf.shape)} tensor is not declared; "
                        f"set Task.batch_dim (0 batch-first, 1 time-major, or one per field) or override Task.shard")
    if not isinstance(dim, int):
        raise TypeError(f"shard_batch: expected an int batch dimension for a tensor, got {dim!r}")
    return leaf.shape[dim]


def _describe(leaf: Any, dim: Any) -> str:
    if _is_graph_batch(leaf):
        return "graphs of a graph batch"
    return f"dimension {dim} of a {tuple(leaf.shape)} tensor"


def _narrow(leaf: Any, dim: Any, start: int, length: int) -> Any:
    if _is_graph_batch(leaf):
        part = type(leaf).from_data_list(leaf.index_select(slice(start, start + length)))
        for key in leaf.keys():  # batch-level plain values set after collation (e.g. a step count)
            if key not in part.keys() and isinstance(leaf[key], (bool, int, float, str)):
                part[key] = leaf[key]
        return part
    return leaf.narrow(dim, start, length)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_LOCALHOST, 0))
        return sock.getsockname()[1]


def _process_main(index: int, world_size: int, port: int, threads: int | None, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR=_LOCALHOST, MASTER_PORT=str(port), WORLD_SIZE=str(world_size),
                      RANK=str(index), LOCAL_RANK=str(index), LOCAL_WORLD_SIZE=str(world_size))
    if threads is not None:
        torch.set_num_threads(threads)
    fn(*args)


def run_processes(fn: Callable[..., Any], world_size: int, args: tuple = (), threads: int | None = 1) -> None:
    """Run ``fn(*args)`` in ``world_size`` fresh processes with torchrun's environment.

    What ``torchrun --nproc_per_node=world_size`` does for a script, for a function: each
    process gets ``MASTER_ADDR``/``MASTER_PORT`` (a free local port), ``WORLD_SIZE``,
    ``RANK`` and ``LOCAL_RANK``, so `fit` inside ``fn`` joins the
    group by itself. Used by the tests and the benchmark; ``fn`` must be importable
    (defined at module level).

    Args:
        fn: the function each process runs.
        world_size: the number of processes.
        args: arguments of ``fn``.
        threads: ``torch.set_num_threads`` in each process (torchrun's default is 1);
            ``None`` leaves it alone.

    Raises:
        torch.multiprocessing.ProcessRaisedException: if a process raised.
    """
    mp.start_processes(_process_main, args=(world_size, _free_port(), threads, fn, args), nprocs=world_size,
                       join=True, start_method="spawn")
