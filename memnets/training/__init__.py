"""The shared training loop, optimisers and checkpoints used by every task script."""

from memnets.nn.registry import build_model, model_spec, register_model, registered_models
from memnets.training.bptt import TBPTTResult, detach_state, truncated_bptt
from memnets.training.checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_save,
    load,
    load_checkpoint,
    save_model,
    write_json,
)
from memnets.training.compilation import compile_steps
from memnets.training.config import TrainConfig, parse_config, resolve_device
from memnets.training.distributed import is_main_process, shard_batch
from memnets.training.gradflow import (
    gradient_flow_penalty,
    gradient_flow_regularizer,
    plot_gradient_norms,
    state_gradient_norms,
    state_gradients,
    unroll_states,
)
from memnets.training.loop import (
    EVAL_SEED,
    FitResult,
    LearningRateDrop,
    NonFiniteLossError,
    Rollback,
    SpikeGuard,
    Task,
    fit,
    step_generator,
)
from memnets.training.optim import GravesRMSprop, make_optimizer
from memnets.training.rtrl import RealTimeRecurrentLearning, RTRLResult, rtrl_gradients

__all__ = [
    "CHECKPOINT_FORMAT",
    "EVAL_SEED",
    "FitResult",
    "GravesRMSprop",
    "LearningRateDrop",
    "NonFiniteLossError",
    "RTRLResult",
    "RealTimeRecurrentLearning",
    "Rollback",
    "SpikeGuard",
    "TBPTTResult",
    "Task",
    "TrainConfig",
    "atomic_save",
    "build_model",
    "compile_steps",
    "detach_state",
    "fit",
    "gradient_flow_penalty",
    "gradient_flow_regularizer",
    "is_main_process",
    "load",
    "load_checkpoint",
    "make_optimizer",
    "model_spec",
    "parse_config",
    "plot_gradient_norms",
    "register_model",
    "registered_models",
    "resolve_device",
    "rtrl_gradients",
    "save_model",
    "shard_batch",
    "state_gradient_norms",
    "state_gradients",
    "step_generator",
    "truncated_bptt",
    "unroll_states",
    "write_json",
]
