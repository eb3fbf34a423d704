"""The one table from Evolution's errors to the API's errors."""

from __future__ import annotations

from chalicelib import errors
from chalicelib.evolution import errors as evo

DISCONNECTED_RETRY_AFTER = 30  # seconds a client should wait before retrying a closed session
UNAVAILABLE_RETRY_AFTER = 10
# Graph codes meaning the recipient cannot receive the message (131026: undeliverable).
_GRAPH_NOT_ON_WHATSAPP = {131026}


def translate(error: evo.EvolutionError, *, sending: bool = False) -> errors.ServiceError:
    """The API error for an Evolution failure. ``sending`` words timeouts as "may have been sent"."""
    if sending and isinstance(error, evo.EvolutionAPIError) and evo.send_fate(error) == "maybe_sent":
        return errors.UpstreamError(
            "Evolution API answered with an error that does not say whether the message left; it may "
            "or may not have been sent: check its status before retrying."
        )
    if isinstance(error, evo.EvolutionConnectError):
        return errors.UpstreamUnavailableError(
            "Evolution API cannot be reached; nothing was sent. Try again shortly.",
            retry_after=UNAVAILABLE_RETRY_AFTER,
        )
    if isinstance(error, evo.EvolutionTransportError):
        what = (
            "The message may or may not have been sent; check its status before retrying."
            if sending
            else "Try again shortly."
        )
        return errors.UpstreamTimeoutError(f"Evolution API did not answer in time. {what}")
    if isinstance(error, evo.EvolutionNotFoundError):
        return errors.InstanceNotFoundError(
            "The WhatsApp instance does not exist in Evolution API; call POST /connect to create it."
        )
    if isinstance(error, evo.EvolutionNotOnWhatsAppError) or (
        isinstance(error, evo.EvolutionGraphError) and error.graph_code in _GRAPH_NOT_ON_WHATSAPP
    ):
        return errors.RecipientNotOnWhatsAppError("The recipient has no WhatsApp account.")
    if isinstance(error, evo.EvolutionRateLimitError):
        return errors.RateLimitedError(
            "WhatsApp is throttling this instance; retry after the given delay.",
            retry_after=error.retry_after if error.retry_after is not None else 60,
        )
    if isinstance(error, evo.EvolutionNotConnectedError):
        return errors.InstanceDisconnectedError(
            "The WhatsApp session is not open; reconnect it with POST /connect.",
            retry_after=DISCONNECTED_RETRY_AFTER,
        )
    if isinstance(error, evo.EvolutionUnavailableError):
        return errors.UpstreamUnavailableError(
            "Evolution API is unavailable right now.",
            retry_after=error.retry_after or UNAVAILABLE_RETRY_AFTER,
        )
    if isinstance(error, evo.EvolutionAuthError):
        return errors.UpstreamError("Evolution API refused this service's API key.")
    if isinstance(error, evo.EvolutionGraphError):
        return errors.UpstreamError("WhatsApp Cloud API refused the message.")
    if isinstance(error, evo.EvolutionBadResponseError) and sending:
        return errors.UpstreamError(
            "Evolution API's answer could not be read; the message may or may not have been sent: "
            "check its status before retrying."
        )
    if isinstance(error, evo.EvolutionBadRequestError):
        return errors.UpstreamError("Evolution API rejected the request.")
    return errors.UpstreamError("Evolution API answered with an error.")
