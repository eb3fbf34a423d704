"""Evolution API: the HTTP client, its error tree and its wire shapes."""

from chalicelib.evolution.client import WEBHOOK_EVENTS, EvolutionClient
from chalicelib.evolution.errors import EvolutionAPIError, EvolutionError, EvolutionTransportError

__all__ = [
    "WEBHOOK_EVENTS",
    "EvolutionAPIError",
    "EvolutionClient",
    "EvolutionError",
    "EvolutionTransportError",
]
