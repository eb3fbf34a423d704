"""Evolution API: the HTTP client, its error tree and its wire shapes."""

from chalicelib.evolution.client import EvolutionClient
from chalicelib.evolution.errors import EvolutionAPIError, EvolutionError, EvolutionTransportError

__all__ = [
    "EvolutionAPIError",
    "EvolutionClient",
    "EvolutionError",
    "EvolutionTransportError",
]
