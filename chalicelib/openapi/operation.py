"""How one route is documented: the :class:`Operation` a route module attaches to its view with
:func:`documented`, next to the route. Light on purpose (route modules import it at cold start):
models that are not already loaded are named as ``"module.Class"`` under :mod:`chalicelib.models`
and imported only when the document is built."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from chalicelib import errors
from chalicelib.limits import SMALL_BODY_BYTES

if TYPE_CHECKING:
    from pydantic import BaseModel

JSON = "application/json"
HTML = "text/html"
ATTRIBUTE = "openapi"  # where a documented view keeps its Operation

F = TypeVar("F", bound=Callable[..., Any])

UPSTREAM_ERRORS: tuple[type[errors.ServiceError], ...] = (
    errors.InstanceNotFoundError,
    errors.RateLimitedError,
    errors.UpstreamError,
    errors.InstanceDisconnectedError,
    errors.UpstreamUnavailableError,
    errors.UpstreamTimeoutError,
)
SEND_ERRORS: tuple[type[errors.ServiceError], ...] = (
    errors.BadRequestError,
    errors.ValidationError,
    errors.NotFoundError,
    errors.IdempotencyKeyInUseError,
    errors.RecipientNotOnWhatsAppError,
    errors.IdempotencyKeyReusedError,
    errors.StoreUnavailableError,
    *UPSTREAM_ERRORS,
)
WEBHOOK_ERRORS: tuple[type[errors.ServiceError], ...] = (
    errors.BadRequestError,
    errors.ValidationError,
    errors.UnauthorizedError,
    errors.StoreUnavailableError,
)


@dataclass(frozen=True)
class Operation:
    """How one route is documented."""

    summary: str
    tag: str
    responses: Mapping[int, type[BaseModel] | str | None]  # bodies that are not errors (None: free-form)
    errors: tuple[type[errors.ServiceError], ...] = ()
    request: type[BaseModel] | str | None = None
    body_required: bool = True
    query: type[BaseModel] | str | None = None
    idempotent: bool = False  # takes Idempotency-Key, may answer Idempotent-Replayed
    webhook: bool = False  # authenticated by the webhook secret
    media_type: str = JSON
    description: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # extra documented response headers
    max_body_bytes: int = SMALL_BODY_BYTES  # what the route's read_json accepts (chalicelib.limits)


def documented(operation: Operation) -> Callable[[F], F]:
    """Attach ``operation`` to a view (under its ``@bp.route``); the document reads it from there."""

    def attach(view: F) -> F:
        vars(view)[ATTRIBUTE] = operation
        return view

    return attach


def operation_of(view: object) -> Operation | None:
    """The Operation a view was documented with, if any."""
    found = getattr(view, ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None
