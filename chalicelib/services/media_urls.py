"""Media URLs given by clients: Evolution fetches them, so none may point inside our networks.

``media.url`` is downloaded by Evolution, from inside whatever network it runs in: a URL at
``127.0.0.1``, ``169.254.169.254`` (the cloud metadata service) or a private address would have
it fetch and forward what it finds there (SSRF by proxy). Checked when the request is validated,
before an idempotency key is claimed or anything is sent; ``URL_ALLOWLIST`` names the private
hosts a company really serves media from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import errors
from chalicelib.urlguard import Resolver, UnsafeURLError, URLPolicy, check_url

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.settings import Settings


def media_url_policy(settings: Settings) -> URLPolicy:
    """https or http to public hosts; loopback, private and link-local only when allowlisted."""
    return URLPolicy(allow_http=True, allowlist=settings.url_allowlist)


def check_media_url(request: BaseModel, settings: Settings, *, resolve: Resolver | None = None) -> None:
    """Raise a 400 ValidationError (``loc`` ``["media", "url"]``) when the request's media URL
    points at a host Evolution must not fetch; requests without a media URL pass."""
    media = getattr(request, "media", None)
    url = getattr(media, "url", None)
    if not isinstance(url, str):
        return
    try:
        check_url(url, media_url_policy(settings), resolve=resolve)
    except UnsafeURLError as exc:
        raise errors.ValidationError(
            f"media.url is refused: {exc.reason}.",
            details=[{"loc": ["media", "url"], "msg": exc.reason}],
        ) from None
