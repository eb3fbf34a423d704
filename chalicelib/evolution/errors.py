"""Evolution API errors: one typed tree, and the one function that reads every error shape.

    EvolutionError                      anything that went wrong talking to Evolution
    ├── EvolutionTransportError         no usable HTTP answer
    │   ├── EvolutionConnectError       connection refused, DNS, connect timeout: never reached it
    │   ├── EvolutionTimeoutError       read timeout: the request may have been processed
    │   └── EvolutionConnectionLostError  connection dropped mid-request: may have been processed
    └── EvolutionAPIError               Evolution answered, and the answer is an error
        ├── EvolutionBadRequestError    any other 400 ("Error: …", "Text is required")
        │   ├── EvolutionSchemaError    400 with a list of lists: our body failed its JSON schema
        │   └── EvolutionNotOnWhatsAppError  400 ``[{"exists": false, …}]``: no WhatsApp account
        ├── EvolutionAuthError          401, or 403 "Unauthorized": the API key was refused
        ├── EvolutionNameTakenError     403 "This name … is already in use."
        ├── EvolutionNotFoundError      404: the instance does not exist
        ├── EvolutionNotConnectedError  the session is closed ("Connection Closed", "not connected")
        ├── EvolutionRateLimitError     429 (``retry_after`` from the header, when given)
        ├── EvolutionUnavailableError   503, including 2.4's ``LICENSE_REQUIRED``
        ├── EvolutionServerError        other 5xx, or connect/restart's 200 ``{"error": true}``
        ├── EvolutionGraphError         a Meta Graph error inside a 201 (Cloud-API instances)
        └── EvolutionBadResponseError   HTML, empty or otherwise unusable body
            └── EvolutionTooLargeError  an answer larger than the caller accepts (media)

Fields, not formatted strings: ``status``, ``messages`` (every message found, flattened to text)
and, where they exist, ``retry_after``, ``graph_code``, ``not_on_whatsapp``.

Whether a failed send left for WhatsApp is decided once, by :func:`send_fate`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal


class EvolutionError(Exception):
    """Base of everything that can go wrong talking to Evolution."""


class EvolutionTransportError(EvolutionError):
    """No usable HTTP answer came back."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"{operation}: {reason}")
        self.operation = operation
        self.reason = reason


class EvolutionConnectError(EvolutionTransportError):
    """The connection could not be made: the request never reached Evolution."""


class EvolutionTimeoutError(EvolutionTransportError):
    """Evolution did not answer within the read timeout; the request may have been processed."""


class EvolutionConnectionLostError(EvolutionTransportError):
    """The connection broke after the request was sent; it may have been processed."""


class EvolutionAPIError(EvolutionError):
    """Evolution answered with an error. ``from_evolution``: the body is in Evolution's own error
    envelope (or the answer was a 2xx), so it is Evolution speaking, not a proxy in front of it."""

    from_evolution = False

    def __init__(
        self, operation: str, status: int, messages: list[str], *, retry_after: int | None = None
    ) -> None:
        summary = "; ".join(messages)[:300] or "no message"
        super().__init__(f"{operation}: HTTP {status}: {summary}")
        self.operation = operation
        self.status = status
        self.messages = messages
        self.retry_after = retry_after


class EvolutionBadRequestError(EvolutionAPIError):
    """Evolution rejected the request (400)."""


class EvolutionSchemaError(EvolutionBadRequestError):
    """The body failed Evolution's JSON schema (a list of lists of messages)."""


class EvolutionNotOnWhatsAppError(EvolutionBadRequestError):
    """The recipient has no WhatsApp account."""

    def __init__(self, operation: str, status: int, numbers: list[str]) -> None:
        super().__init__(operation, status, [f"{n} is not on WhatsApp" for n in numbers])
        self.not_on_whatsapp = numbers


class EvolutionAuthError(EvolutionAPIError):
    """The API key was refused."""


class EvolutionNameTakenError(EvolutionAPIError):
    """An instance with that name already exists."""


class EvolutionNotFoundError(EvolutionAPIError):
    """The instance does not exist."""


class EvolutionNotConnectedError(EvolutionAPIError):
    """The WhatsApp session of the instance is not open."""


class EvolutionRateLimitError(EvolutionAPIError):
    """Evolution (or Meta behind it) throttled the request."""


class EvolutionUnavailableError(EvolutionAPIError):
    """Evolution is up but refuses service (503, licence required)."""


class EvolutionServerError(EvolutionAPIError):
    """Evolution failed (5xx, or a 200 ``{"error": true}``)."""


class EvolutionGraphError(EvolutionAPIError):
    """Meta's Graph API refused a Cloud-API send (Evolution passes it on with HTTP 201)."""

    def __init__(self, operation: str, status: int, messages: list[str], graph_code: int | None):
        super().__init__(operation, status, messages)
        self.graph_code = graph_code


class EvolutionBadResponseError(EvolutionAPIError):
    """The body could not be used: HTML, empty, or not the expected JSON."""


class EvolutionTooLargeError(EvolutionBadResponseError):
    """The answer is larger than the caller accepts (a media file over ``MEDIA_MAX_BYTES``)."""


# Messages Evolution uses when the WhatsApp session is not open (CONTRACT.md §2).
_NOT_CONNECTED_MARKERS = (
    "connection closed",
    "is not connected",
    "reading 'onwhatsapp'",
    "connection terminated",
    # a never-connected instance has no socket: media sends fail on the upload, and a recipient
    # in the IsOnWhatsapp cache (skipping onWhatsApp) fails on sendMessage
    "reading 'wauploadtoserver'",
    "reading 'sendmessage'",
)
_UNKNOWN_ROUTE = re.compile(r"^Cannot (GET|POST|PUT|PATCH|DELETE) /")
# Graph error codes that mean "slow down" (Meta's throughput and pair rate limits).
_GRAPH_RATE_LIMIT_CODES = {4, 80007, 130429, 131048, 131056}


def _flatten(message: Any) -> tuple[list[str], list[dict[str, Any]], bool]:
    """Texts in ``message`` (string, list, list of lists, list of objects), the objects, nested?"""
    texts: list[str] = []
    objects: list[dict[str, Any]] = []
    nested = False
    items = message if isinstance(message, list) else [message]
    for item in items:
        if isinstance(item, list):
            nested = True
            texts.extend(str(x) for x in item)
        elif isinstance(item, dict):
            objects.append(item)
            texts.append(str(item.get("message") or item.get("number") or item.get("jid") or item))
        elif item is not None:
            texts.append(str(item))
    return texts, objects, nested


_UNUSABLE = object()  # an empty or non-JSON body


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else _UNUSABLE
    except ValueError:
        return _UNUSABLE


def _retry_after(headers: Any) -> int | None:
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0, int(float(value)))
    except ValueError:
        return None


def error_from_response(
    operation: str,
    status: int,
    text: str,
    *,
    headers: Any = None,
    expect_message_key: bool = False,
) -> tuple[Any, EvolutionAPIError | None]:
    """Read an Evolution answer: ``(parsed JSON, None)`` on success, ``(parsed, error)`` otherwise.

    This is the only place that knows Evolution's error shapes (CONTRACT.md §2): the usual
    ``{"status", "error", "response": {"message": …}}`` with a string, list, list of lists or
    list of objects inside; ``whatsappNumbers``' ``message`` without ``response``; connect's and
    restart's 200 ``{"error": true}``; a Graph error in a 201 (``expect_message_key`` marks sends,
    whose success must carry ``key.id``); and HTML or empty bodies.
    """
    parsed = _parse_json(text)
    body = None if parsed is _UNUSABLE else parsed
    if 200 <= status < 300:
        if parsed is _UNUSABLE:
            return None, EvolutionBadResponseError(operation, status, [f"HTTP {status} without JSON"])
        return body, _spoken(_success_error(operation, status, body, expect_message_key), True)
    retry_after = _retry_after(headers)
    if not isinstance(body, dict | list | str):
        kind = "an empty body" if not text.strip() else "a body that is not JSON"
        if status == 429:
            return body, EvolutionRateLimitError(operation, status, [kind], retry_after=retry_after)
        if status == 503:
            return body, EvolutionUnavailableError(operation, status, [kind])
        if status in (401, 403):
            return body, EvolutionAuthError(operation, status, [kind])
        return body, EvolutionBadResponseError(operation, status, [f"HTTP {status} with {kind}"])
    message: Any = body
    if isinstance(body, dict):
        response = body.get("response")
        if isinstance(response, dict) and "message" in response:
            message = response["message"]
        elif "message" in body:
            message = body["message"]
        elif "code" in body or "error" in body:
            message = body.get("code") or body.get("error")
    texts, objects, nested = _flatten(message)
    error = _error_for_status(
        operation,
        status=status,
        texts=texts,
        objects=objects,
        nested=nested,
        retry_after=retry_after,
        body=body,
    )
    return body, _spoken(error, _is_evolution_envelope(status, body))


def _is_evolution_envelope(status: int, body: Any) -> bool:
    """Evolution's own error shape: ``{"status": <the HTTP status>, "error", "response" | "message"}``
    (CONTRACT.md §2), or 2.4's ``{"code": "LICENSE_REQUIRED"}``."""
    if not isinstance(body, dict):
        return False
    if body.get("code") == "LICENSE_REQUIRED":
        return True
    return body.get("status") == status and "error" in body and ("response" in body or "message" in body)


def _spoken(error: EvolutionAPIError | None, by_evolution: bool) -> EvolutionAPIError | None:
    if error is not None:
        error.from_evolution = by_evolution
    return error


def _error_for_status(  # noqa: PLR0911 - one return per row of CONTRACT.md §2
    operation: str,
    *,
    status: int,
    texts: list[str],
    objects: list[dict[str, Any]],
    nested: bool,
    retry_after: int | None,
    body: Any,
) -> EvolutionAPIError:
    lowered = " ".join(texts).lower()
    if status == 429:
        return EvolutionRateLimitError(operation, status, texts, retry_after=retry_after)
    if any(marker in lowered for marker in _NOT_CONNECTED_MARKERS):
        return EvolutionNotConnectedError(operation, status, texts, retry_after=retry_after)
    if status == 404 and any(_UNKNOWN_ROUTE.match(text) for text in texts):
        # Express's catch-all: this Evolution has no such route (another version), not a missing instance
        return EvolutionServerError(operation, status, texts)
    if status == 404:
        return EvolutionNotFoundError(operation, status, texts)
    if status == 401 or (status == 403 and "unauthorized" in lowered):
        return EvolutionAuthError(operation, status, texts)
    if status == 403 and "already in use" in lowered:
        return EvolutionNameTakenError(operation, status, texts)
    if status == 503 or (isinstance(body, dict) and body.get("code") == "LICENSE_REQUIRED"):
        return EvolutionUnavailableError(operation, status, texts, retry_after=retry_after)
    if status == 400:
        missing = [o for o in objects if o.get("exists") is False]
        if missing:
            numbers = [str(o.get("number") or o.get("jid") or "") for o in missing]
            return EvolutionNotOnWhatsAppError(operation, status, numbers)
        if nested:
            return EvolutionSchemaError(operation, status, texts)
        return EvolutionBadRequestError(operation, status, texts)
    if status >= 500:
        return EvolutionServerError(operation, status, texts, retry_after=retry_after)
    if status in (401, 403):
        return EvolutionAuthError(operation, status, texts)
    return EvolutionBadRequestError(operation, status, texts)


def _success_error(  # noqa: PLR0911 - one return per success-shaped failure
    operation: str, status: int, body: Any, expect_message_key: bool
) -> EvolutionAPIError | None:
    """A 2xx can still be a failure: connect's ``{"error": true}``, a Graph error in a 201."""
    if isinstance(body, dict) and body.get("error") is True:
        texts, _, _ = _flatten(body.get("message") or body.get("response") or "error")
        if any(marker in " ".join(texts).lower() for marker in _NOT_CONNECTED_MARKERS):
            return EvolutionNotConnectedError(operation, status, texts)
        return EvolutionServerError(operation, status, texts)
    if not expect_message_key:
        return None
    key = body.get("key") if isinstance(body, dict) else None
    if isinstance(key, dict) and isinstance(key.get("id"), str) and key["id"]:
        return None
    graph = body.get("error") if isinstance(body, dict) else None
    graph = graph if isinstance(graph, dict) else body
    if isinstance(graph, dict) and ("fbtrace_id" in graph or "code" in graph or "type" in graph):
        code = graph.get("code")
        graph_code = code if isinstance(code, int) else None
        texts = [str(graph.get("message") or graph.get("type") or "Graph error")]
        if graph_code in _GRAPH_RATE_LIMIT_CODES:
            return EvolutionRateLimitError(operation, status, texts)
        return EvolutionGraphError(operation, status, texts, graph_code)
    return EvolutionBadResponseError(operation, status, ["a send answer without key.id"])


# Never processed, whoever answered: the connection failed, the key was refused, no such route or
# instance (these are checked before anything is sent).
_NEVER_PROCESSED = (EvolutionConnectError, EvolutionAuthError, EvolutionNotFoundError)
# Evolution's own word that it did not send, believed only in Evolution's own error envelope: the
# same status from a proxy in front of it (a bare 503 or 429) proves nothing about the request.
_EVOLUTION_DID_NOT_SEND = (EvolutionNotConnectedError, EvolutionRateLimitError, EvolutionUnavailableError)


SendFate = Literal["not_sent", "maybe_sent", "refused"]


def send_fate(error: EvolutionError) -> SendFate:
    """What a failed send means for the message, the one "did it leave?" decision:

    - ``not_sent``: proof that it did not go out: it never reached Evolution (connect error, key
      refused, no such instance), or Evolution's own error body says it did not send (session
      closed, rate limited, unavailable): safe to send again;
    - ``maybe_sent``: no proof either way: no usable answer (read timeout, connection lost after
      sending, an answer that cannot be read), any 5xx, or a 429/503 not in Evolution's own
      envelope (a proxy's): it may have gone out, so it must never be re-sent blindly;
    - ``refused``: Evolution refused this message (not on WhatsApp, a rejected body, a Graph
      error): it did not go out; the send is recorded ``failed`` and that answer kept.
    """
    if isinstance(error, _NEVER_PROCESSED):
        return "not_sent"
    if isinstance(error, EvolutionServerError) and error.status == 404:
        return "refused"  # "Cannot POST /…": this Evolution has no such route; nothing was done
    if isinstance(error, _EVOLUTION_DID_NOT_SEND) and error.from_evolution:
        return "not_sent"
    if isinstance(error, EvolutionTransportError | EvolutionBadResponseError | EvolutionServerError):
        return "maybe_sent"
    if isinstance(error, EvolutionAPIError) and (error.status >= 500 or error.status == 429):
        return "maybe_sent"
    return "refused"
