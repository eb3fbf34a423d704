"""The service's domain errors: one tree, each class knowing its public code and HTTP status.

    ServiceError                      base; never raised itself
    ├── BadRequestError          400  body is not JSON
    ├── ValidationError          400  body/params fail validation (``details`` = [{"loc", "msg"}])
    │   └── StoreRejectedError   400  the store refuses the record for good (too large, a number
    │                                 it cannot hold): retrying cannot help
    ├── UnauthorizedError        401  the webhook secret is missing or wrong
    ├── ForbiddenError           403  a media link that is tampered with or expired
    ├── NotFoundError            404  unknown message id or template
    ├── InstanceNotFoundError    404  the Evolution instance does not exist
    ├── IdempotencyKeyInUseError 409  a request with the same key is still in flight
    ├── TemplateNotSupportedError 409 a Meta template asked of a non-Cloud-API instance
    ├── ConflictError            409  a state change not allowed now (resuming a finished broadcast)
    ├── RecipientNotOnWhatsAppError 422  Evolution says the number has no WhatsApp account
    ├── RecipientOptedOutError   422  the recipient opted out (see Consent)
    ├── TemplateError            422  unknown/missing variables, language not available
    ├── IdempotencyKeyReusedError 422 same key, different body
    ├── RateLimitedError         429  Evolution/Meta throttled us (``retry_after``)
    ├── UpstreamError            502  Evolution answered with something unusable
    ├── MediaUnavailableError    502  Evolution cannot give a message's media (expired, undecryptable)
    ├── InstanceDisconnectedError 503 the WhatsApp session is not open (``retry_after``)
    ├── ServiceMisconfiguredError 503 a setting of this service is missing or invalid
    ├── UpstreamUnavailableError 503  Evolution cannot be reached
    ├── StoreUnavailableError    503  the store cannot record or read right now
    └── UpstreamTimeoutError     504  Evolution did not answer in time

The web layer turns any of these into ``{"Code", "Message", "Details"?}`` in one place
(:func:`chalicelib.errors.error_body`); nothing here knows about Chalice.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    """Base of every error the API reports on purpose."""

    code: ClassVar[str] = "InternalServerError"
    status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        """Extra response headers this error implies (``Retry-After``)."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class BadRequestError(ServiceError):
    """The body is not JSON (or not an object where one is required)."""

    code = "BadRequestError"
    status = 400


class ValidationError(ServiceError):
    """Body or parameters fail validation; ``details`` says where and why."""

    code = "ValidationError"
    status = 400


class StoreRejectedError(ValidationError):
    """The store refuses this record for good (DynamoDB's ``ValidationException``: an item over
    400 KB, a number it cannot hold): a deterministic refusal, never "unavailable, try again"."""


class UnauthorizedError(ServiceError):
    """The webhook secret is missing or wrong (Evolution does not retry a 401)."""

    code = "Unauthorized"
    status = 401


class ForbiddenError(ServiceError):
    """A signed media link that is not ours, or has expired."""

    code = "Forbidden"
    status = 403


class NotFoundError(ServiceError):
    """Unknown message id or template name."""

    code = "NotFoundError"
    status = 404


class InstanceNotFoundError(ServiceError):
    """The Evolution instance this service drives does not exist."""

    code = "InstanceNotFound"
    status = 404


class IdempotencyKeyInUseError(ServiceError):
    """Another request with the same Idempotency-Key is still being processed."""

    code = "IdempotencyKeyInUse"
    status = 409


class TemplateNotSupportedError(ServiceError):
    """The template has no Cloud-API mapping but the instance is a Cloud-API instance."""

    code = "TemplateNotSupported"
    status = 409


class RecipientNotOnWhatsAppError(ServiceError):
    """Evolution reports that the recipient has no WhatsApp account."""

    code = "RecipientNotOnWhatsApp"
    status = 422


class RecipientOptedOutError(ServiceError):
    """The recipient opted out (a template, or a plain message outside their 24 h reply window)."""

    code = "RecipientOptedOut"
    status = 422


class ConflictError(ServiceError):
    """A state change that is not allowed now (e.g. resuming a finished broadcast)."""

    code = "Conflict"
    status = 409


class TemplateError(ServiceError):
    """Rendering a template failed; ``details`` lists every problem."""

    code = "TemplateError"
    status = 422


class IdempotencyKeyReusedError(ServiceError):
    """The Idempotency-Key was used before with a different request body."""

    code = "IdempotencyKeyReused"
    status = 422


class RateLimitedError(ServiceError):
    """Evolution or Meta throttled us."""

    code = "RateLimited"
    status = 429


class UpstreamError(ServiceError):
    """Evolution answered with something unusable (5xx, an error body, a Graph error)."""

    code = "UpstreamError"
    status = 502


class MediaUnavailableError(ServiceError):
    """Evolution cannot give a message's media (its 4xx or 5xx alike), or it is over the limit."""

    code = "MediaUnavailable"
    status = 502


class InstanceDisconnectedError(ServiceError):
    """The WhatsApp session is not open."""

    code = "InstanceDisconnected"
    status = 503


class ServiceMisconfiguredError(ServiceError):
    """A setting of this service is missing or invalid; the message names it, never its value."""

    code = "ServiceMisconfigured"
    status = 503


class UpstreamUnavailableError(ServiceError):
    """Evolution cannot be reached (connection refused, DNS, licence 503)."""

    code = "UpstreamUnavailable"
    status = 503


class StoreUnavailableError(ServiceError):
    """The store cannot record or read right now; the caller may retry."""

    code = "StoreUnavailable"
    status = 503


class UpstreamTimeoutError(ServiceError):
    """Evolution did not answer in time; a send may or may not have gone out."""

    code = "UpstreamTimeout"
    status = 504


def error_body(error: ServiceError) -> dict[str, Any]:
    """The public JSON body of ``error``, in Chalice's own error shape, its sizes capped."""
    from chalicelib.limits import MAX_MESSAGE_CHARS, bounded_details, clip  # noqa: PLC0415

    body: dict[str, Any] = {"Code": error.code, "Message": clip(error.message, MAX_MESSAGE_CHARS)}
    if error.details:
        body["Details"] = bounded_details(error.details)
    return body
