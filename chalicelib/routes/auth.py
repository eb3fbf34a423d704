"""The API-key authorizer: ``Authorization: Bearer <key>``, compared in constant time."""

from __future__ import annotations

import logging

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib.settings import SettingsError, get_settings

logger = logging.getLogger(__name__)

bp = Blueprint(__name__)

_DENY = AuthResponse(routes=[], principal_id="anonymous")


@bp.authorizer(name="api_key_auth")
def api_key_auth(auth_request: AuthRequest) -> AuthResponse:
    """Allow every route for a known key; deny (403) anything else. No header → 401 by the gateway."""
    scheme, _, key = (auth_request.token or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return _DENY
    try:
        settings = get_settings()
    except SettingsError:
        logger.exception("authorizer cannot load its settings: denying")
        return _DENY
    if not settings.api_key_digests:
        logger.error("API_KEYS is empty: every request is denied")
        return _DENY
    if not settings.api_key_matches(key.strip()):
        return _DENY
    return AuthResponse(routes=["*"], principal_id="api-client")
