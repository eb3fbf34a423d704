"""Evolution's error bodies, built the way its exception classes and Express error handler do."""

from __future__ import annotations

from typing import Any

from devtools.evolution_simulator.http_types import EvolutionHTTPError

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def reason(status: int) -> str:
    """The HTTP reason phrase Evolution puts in ``error``."""
    return _REASONS.get(status, "Error")


def wrapped(status: int, message: Any, *, error: str | None = None) -> dict[str, Any]:
    """``{"status","error","response":{"message"}}``: the shape of every thrown error."""
    return {"status": status, "error": error or reason(status), "response": {"message": message}}


def bad_request(*messages: Any) -> EvolutionHTTPError:
    """``BadRequestException(...args)``: the message is always the list of its arguments."""
    return EvolutionHTTPError(400, wrapped(400, list(messages)))


def not_found(*messages: Any) -> EvolutionHTTPError:
    """``NotFoundException(...args)``."""
    return EvolutionHTTPError(404, wrapped(404, list(messages)))


def forbidden(*messages: Any) -> EvolutionHTTPError:
    """``ForbiddenException(...args)``."""
    return EvolutionHTTPError(403, wrapped(403, list(messages)))


def unauthorized() -> EvolutionHTTPError:
    """``UnauthorizedException()`` with no arguments: the message is the bare string."""
    return EvolutionHTTPError(401, wrapped(401, "Unauthorized"))


def internal(message: str) -> EvolutionHTTPError:
    """A plain JS ``Error`` reaching the Express handler: 500 with its message as a string."""
    return EvolutionHTTPError(500, wrapped(500, message))


def internal_list(*messages: Any) -> EvolutionHTTPError:
    """``InternalServerErrorException(error.toString())``: 500 with the message in a list."""
    return EvolutionHTTPError(500, wrapped(500, list(messages)))


def undefined_property(name: str) -> str:
    """``String(new TypeError(...))`` for a read on ``undefined``."""
    return f"TypeError: Cannot read properties of undefined (reading '{name}')"


CONNECTION_CLOSED = "Connection Closed"
NEVER_CONNECTED = "Cannot read properties of undefined (reading 'onWhatsApp')"
NEVER_CONNECTED_UPLOAD = "TypeError: Cannot read properties of undefined (reading 'waUploadToServer')"


def connection_closed_boom() -> dict[str, Any]:
    """``JSON.stringify`` of Baileys' Boom "Connection Closed" (428), as whatsappNumbers leaks it."""
    payload = {"statusCode": 428, "error": "Precondition Required", "message": CONNECTION_CLOSED}
    return {
        "data": None,
        "isBoom": True,
        "isServer": False,
        "output": {"statusCode": 428, "payload": payload, "headers": {}},
    }
