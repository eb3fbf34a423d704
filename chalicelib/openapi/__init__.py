"""The OpenAPI 3.1 document: each route's :class:`Operation` lives next to the route
(:func:`documented`); :mod:`chalicelib.openapi.document` builds the document from the routes, the
models and the error tree. This package's top level stays light: the builder loads on demand."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.openapi.operation import Operation, documented, operation_of

if TYPE_CHECKING:
    from chalicelib.openapi.document import RouteEntry

__all__ = ["Operation", "build_document", "documented", "operation_of", "render", "write"]


def build_document(routes: Mapping[str, Mapping[str, RouteEntry]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``app.routes``)."""
    from chalicelib.openapi import document  # noqa: PLC0415 - pydantic schema work, on demand

    return document.build_document(routes)


def render(document: Mapping[str, Any]) -> str:
    """The document as ``docs/openapi.json`` keeps it."""
    from chalicelib.openapi import document as builder  # noqa: PLC0415

    return builder.render(document)


def write(routes: Mapping[str, Mapping[str, RouteEntry]], path: Path) -> bool:
    """Write the document to ``path``; True when the file changed."""
    from chalicelib.openapi import document  # noqa: PLC0415

    return document.write(routes, path)
