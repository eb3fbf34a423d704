"""The HTTP edge's helpers: the view decorator (errors → responses), body parsing, responses."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import pydantic
from chalice.app import Response

from chalicelib import errors, limits
from chalicelib.logs import request_id_var

logger = logging.getLogger(__name__)

P = ParamSpec("P")
M = TypeVar("M", bound=pydantic.BaseModel)
JSON_HEADERS = {"Content-Type": "application/json"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def error_response(error: errors.ServiceError) -> Response:
    return json_response(errors.error_body(error), error.status, error.headers())


def api_view(view: Callable[P, Any]) -> Callable[P, Response]:
    """The one place where errors become responses: ServiceError by its table, anything else 500."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            result = view(*args, **kwargs)
        except errors.ServiceError as exc:
            if exc.status >= 500:
                logger.warning("request failed: %s", exc.code, extra={"error": exc.code})
            return error_response(exc)
        except Exception:
            logger.exception("unexpected error")
            request_id = request_id_var.get() or "unknown"
            return json_response(
                {
                    "Code": "InternalServerError",
                    "Message": f"An internal error occurred (request id {request_id}).",
                },
                500,
            )
        return result if isinstance(result, Response) else json_response(result)

    return wrapper


def read_json(
    raw: str | bytes | None, *, required: bool = True, max_bytes: int = limits.SMALL_BODY_BYTES
) -> Any:
    """The request body as JSON; an empty body is ``{}`` when not required.

    Refused before parsing: a body over ``max_bytes`` (400 ValidationError) and one nested deeper
    than :data:`limits.MAX_JSON_DEPTH` (400 BadRequestError); ``NaN``/``Infinity`` are not JSON.
    """
    if not raw or not raw.strip():
        if required:
            raise errors.BadRequestError("The request body is empty; send a JSON object.")
        return {}
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if len(data) > max_bytes:
        logger.warning("request body refused: too large", extra={"bytes": len(data), "limit": max_bytes})
        raise errors.ValidationError(
            f"The request body is larger than this route accepts ({_size(max_bytes)}).",
            details=[{"loc": ["body"], "msg": f"over {max_bytes} bytes"}],
        )
    if limits.nesting_exceeds(data):
        raise errors.BadRequestError(
            f"The request body nests arrays or objects more than {limits.MAX_JSON_DEPTH} levels deep."
        )
    try:
        return limits.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise errors.BadRequestError("The request body is not valid JSON.") from exc


def _size(n: int) -> str:
    return f"{n / limits.MB:.2f} MB" if n >= limits.MB else f"{n // limits.KB} KB"


def parse_model(model: type[M], data: Any) -> M:
    """Validate ``data`` into ``model``; failures become a ValidationError with ``Details``."""
    if not isinstance(data, dict):
        raise errors.ValidationError(
            "The request body must be a JSON object.",
            details=[{"loc": [], "msg": "expected an object"}],
        )
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise errors.ValidationError(
            "The request is not valid: " + _summary(exc),
            details=validation_details(exc),
        ) from None


def parse_query(model: type[M], params: Mapping[str, str] | None) -> M:
    """Validate query parameters into ``model`` (the one that documents them); failures become a
    ValidationError whose ``Details`` locate each parameter under ``query``."""
    try:
        return model.model_validate(dict(params or {}))
    except pydantic.ValidationError as exc:
        raise errors.ValidationError(
            "The query parameters are not valid.", details=validation_details(exc, ("query",))
        ) from None


def validation_details(exc: pydantic.ValidationError, prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"loc": [*prefix, *(str(p) for p in e["loc"])], "msg": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _summary(exc: pydantic.ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = limits.clip(".".join(str(p) for p in first["loc"]), limits.MAX_LOC_PART_CHARS) or "body"
    more = exc.error_count() - 1
    return f"{where}: {first['msg']}" + (f" (and {more} more)" if more else "") + "."
