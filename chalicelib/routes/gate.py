"""The check before every view: a misconfigured service answers 503 naming the settings, and a
request the authorizer could not verify is verified here or refused."""

from __future__ import annotations

from chalice.app import Request, Response

from chalicelib import errors
from chalicelib.routes._http import error_response, json_response
from chalicelib.settings import SettingsError, get_settings, report_once

# The principal the authorizer gives a request whose key it could not check (it could not load the
# settings). Such a request reaches a view only through this gate, which checks the key itself.
UNVERIFIED = "unverified"


def refusal(request: Request) -> Response | None:
    """The answer that replaces the view's, or None when the view may run."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        report_once(exc)
        sentences = " ".join(problem.sentence() for problem in exc.problems)
        return error_response(
            errors.ServiceMisconfiguredError(
                f"The service is misconfigured: {sentences} An operator must fix the settings.",
                details=[{"loc": ["settings", name], "msg": "missing or invalid"} for name in exc.names],
            )
        )
    authorizer = (request.context or {}).get("authorizer") or {}
    if authorizer.get("principalId") != UNVERIFIED:
        return None
    scheme, _, key = (request.headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and key.strip() and settings.api_key_matches(key.strip()):
        return None
    return json_response({"Message": "User is not authorized to access this resource"}, 403)
