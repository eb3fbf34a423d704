"""One HTTP delivery attempt: a signed POST with a 10 s timeout, judged by its status code."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from chalicelib.urlguard import UnsafeURLError, URLPolicy, check_url

if TYPE_CHECKING:
    import requests

    from chalicelib.urlguard import Resolver

DEFAULT_TIMEOUT_S = 10.0
USER_AGENT = "whatsapp-evolution-events/1"
MAX_ANSWER_BYTES = 64 * 1024
Verdict = Literal["delivered", "retry", "gone", "refused"]


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt taught us: ``delivered`` (2xx), ``gone`` (410: disable the destination),
    ``refused`` (the URL is no longer allowed: no request was made), or ``retry``."""

    verdict: Verdict
    status_code: int | None = None
    error: str | None = None


@cache
def _session() -> requests.Session:
    import requests  # noqa: PLC0415

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False  # no proxy or .netrc from the environment (and no per-request lookup)
    return session


def _drain(response: requests.Response) -> None:
    """Read (and drop) up to 64 KB of the answer so its connection goes back to the pool; a
    longer answer's connection is closed instead. Only the status matters."""
    read = 0
    try:
        for chunk in response.iter_content(16 * 1024):
            read += len(chunk)
            if read > MAX_ANSWER_BYTES:
                response.close()
                return
    except Exception:  # a broken answer body does not change the status we already have
        response.close()
        return
    response.raw.release_conn()


def post_event(
    url: str,
    body: str,
    headers: dict[str, str],
    *,
    policy: URLPolicy,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    session: requests.Session | None = None,
    resolve: Resolver | None = None,
) -> AttemptResult:
    """POST ``body`` to ``url``; the URL is checked against ``policy`` first (DNS can change)."""
    import requests  # noqa: PLC0415

    try:
        check_url(url, policy, resolve=resolve)
    except UnsafeURLError as e:
        return AttemptResult("refused", error=e.reason)
    http = session or _session()
    try:
        response = http.post(
            url,
            data=body.encode(),
            headers={**headers, "Content-Type": "application/json"},
            timeout=(min(timeout_s, 5.0), timeout_s),
            allow_redirects=False,  # a redirect could point anywhere the policy refuses
            stream=True,
        )
        _drain(response)
    except requests.Timeout:
        return AttemptResult("retry", error=f"no answer within {timeout_s:g} s")
    except requests.RequestException as e:
        return AttemptResult("retry", error=f"could not connect: {type(e).__name__}")
    code = response.status_code
    if 200 <= code < 300:
        return AttemptResult("delivered", status_code=code)
    if code == 410:
        return AttemptResult("gone", status_code=code, error="the destination answered 410 Gone")
    return AttemptResult("retry", status_code=code, error=f"the destination answered {code}")
