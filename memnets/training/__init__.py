"""The shared training loop, optimisers and checkpoints used by every task script."""

from memnets.nn.registry import build_model, model_spec, register_model, registered_models
from memnets.training.bptt import TBPTTResult, detach_state, truncated_bptt
from memnets.training.checkpoint import (
    CHECKPOINT_FORMAT,
    atomic_save,
    check_run_directory,
    checkpoint_digest,
    load,
    load_checkpoint,
    save_model,
    write_json,
)
from memnets.training.compilation import compile_steps
from memnets.training.config import TrainConfig, build_parser, option, parse_config, resolve_device
from memnets.training.distributed import is_main_process, shard_batch
from memnets.training.gradflow import (
    gradient_flow_penalty,
    gradient_flow_regularizer,
    plot_gradient_norms,
    state_gradient_norms,
    state_gradients,
    unroll_states,
)
from memnets.training.guards import (
    CONTINUE,
    Action,
    Guard,
    GuardConfig,
    LearningRateDrop,
    Rollback,
    SpikeGuard,
    make_guards,
)
from memnets.training.logger import RunLog
from memnets.training.loop import EVAL_SEED, FitResult, NonFiniteLossError, fit, step_generator
from memnets.training.optim import GravesRMSprop, make_optimizer
from memnets.training.rtrl import RealTimeRecurrentLearning, RTRLResult, rtrl_gradients
from memnets.training.task import Task

__all__ = [
    "Action",
    "CHECKPOINT_FORMAT",
    "CONTINUE",
    "EVAL_SEED",
    "FitResult",
    "GravesRMSprop",
    "Guard",
    "GuardConfig",
    "LearningRateDrop",
    "NonFiniteLossError",
    "RTRLResult",
    "RunLog",
    "RealTimeRecurrentLearning",
    "Rollback",
    "SpikeGuard",
    "TBPTTResult",
    "Task",
    "TrainConfig",
    "atomic_save",
    "build_model",
    "build_parser",
    "check_run_directory",
    "checkpoint_digest",
    "compile_steps",
    "detach_state",
    "fit",
    "gradient_flow_penalty",
    "gradient_flow_regularizer",
    "is_main_process",
    "load",
    "load_checkpoint",
    "make_guards",
    "make_optimizer",
    "model_spec",
    "option",
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
