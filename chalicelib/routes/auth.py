"""The API-key authorizer: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib.routes.gate import UNVERIFIED
from chalicelib.settings import SettingsError, get_settings, report_once

bp = Blueprint(__name__)

_DENY = AuthResponse(routes=[], principal_id="anonymous")


@bp.authorizer(name="api_key_auth")
def api_key_auth(auth_request: AuthRequest) -> AuthResponse:
    """Allow every route for a known key; deny (403) anything else. No header → 401 by the gateway.

    Without its settings the authorizer cannot know the keys: rather than a misleading 403 it lets
    the request on as ``UNVERIFIED``, and the gate before every view (``chalicelib.routes.gate``)
    answers 503 naming the bad settings, or checks the key itself once it can load them.
    """
    scheme, _, key = (auth_request.token or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _DENY
    try:
        settings = get_settings()
    except SettingsError as exc:
        report_once(exc)
        return AuthResponse(routes=["*"], principal_id=UNVERIFIED)
    if not settings.api_key_matches(key.strip()):
        return _DENY
    return AuthResponse(routes=["*"], principal_id="api-client")
