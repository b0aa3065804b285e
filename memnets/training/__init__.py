"""The shared training loop, optimisers and checkpoints used by every task script."""

from memnets.nn.registry import build_model, model_spec, register_model, registered_models
from memnets.training.checkpoint import CHECKPOINT_FORMAT, atomic_save, load, load_checkpoint, write_json
from memnets.training.config import TrainConfig, parse_config, resolve_device
from memnets.training.loop import EVAL_SEED, FitResult, NonFiniteLossError, Task, fit, step_generator
from memnets.training.optim import GravesRMSprop, make_optimizer

__all__ = [
    "CHECKPOINT_FORMAT",
    "EVAL_SEED",
    "FitResult",
    "GravesRMSprop",
    "NonFiniteLossError",
    "Task",
    "TrainConfig",
    "atomic_save",
    "build_model",
    "fit",
    "load",
    "load_checkpoint",
    "make_optimizer",
    "model_spec",
    "parse_config",
    "register_model",
    "registered_models",
    "resolve_device",
    "step_generator",
    "write_json",
]
