"""The HTTP edge's helpers: the view decorator (errors → responses), body parsing, responses."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import pydantic
from chalice.app import Response

from chalicelib import errors
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


def read_json(raw: str | bytes | None, *, required: bool = True) -> Any:
    """The request body as JSON; an empty body is ``{}`` when not required."""
    if not raw or not raw.strip():
        if required:
            raise errors.BadRequestError("The request body is empty; send a JSON object.")
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.BadRequestError("The request body is not valid JSON.") from exc


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
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = exc.error_count() - 1
    return f"{where}: {first['msg']}" + (f" (and {more} more)" if more else "") + "."
