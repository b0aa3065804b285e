"""Memory-augmented networks: the Neural Turing Machine and the Differentiable Neural Computer."""

from memnets.nn.memory.dnc import DNC, DNCCell, DNCState
from memnets.nn.memory.ntm import NTM, NTMCell, NTMState

__all__ = ["NTM", "NTMCell", "NTMState", "DNC", "DNCCell", "DNCState"]
