"""A local, in-memory imitation of Evolution API 2.3.7 for development and tests."""

from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.simulator import Simulator

__all__ = ["SimConfig", "Simulator"]
