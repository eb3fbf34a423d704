"""The Evolution API client: one pooled session, timeouts on every call, retries only when safe.

Retry policy (urllib3 ``Retry`` mounted on the session, so it is the library that retries):
- connect errors (refused, DNS, connect timeout) are retried with bounded backoff for every
  method: the request never left, so even a send is safe to try again;
- GETs are retried on 429/502/503/504, honouring ``Retry-After`` up to ``RETRY_AFTER_CAP``
  seconds (a longer wait is not slept in a Lambda: the 429/503 is passed on instead);
- read errors are never retried, and nothing under ``/message/`` is retried once it may have
  reached the server: Evolution has no idempotency key, ours lives in the store.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from chalicelib.evolution import media, wire
from chalicelib.evolution.errors import (
    EvolutionBadResponseError,
    EvolutionConnectError,
    EvolutionConnectionLostError,
    EvolutionTimeoutError,
    error_from_response,
)

logger = logging.getLogger(__name__)

RETRY_AFTER_CAP = 2.0
METADATA_TEXT = 64 * 1024  # how much of an error answer is read as text


class CappedRetry(Retry):
    """``Retry`` that gives up at once when ``Retry-After`` asks for more than the cap.

    Sleeping a minute inside a Lambda helps nobody: the 429/503 goes back to the caller with
    its ``Retry-After`` instead (urllib3 returns the response since ``raise_on_status=False``).
    """

    def get_backoff_time(self) -> float:
        """``backoff_factor * 2**(n-1)`` from the first retry on (urllib3 retries once at once)."""
        retries_so_far = len(self.history)
        if retries_so_far == 0:
            return 0.0
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (retries_so_far - 1)))

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> CappedRetry:
        if response is not None:
            retry_after = self.get_retry_after(response)
            if retry_after is not None and retry_after > RETRY_AFTER_CAP:
                raise MaxRetryError(_pool, url or "", None)
        retry: CappedRetry = super().increment(method, url, response, error, _pool, _stacktrace)
        return retry


def _retry(*, connect: int, status: int) -> Retry:
    return CappedRetry(
        total=None,
        connect=connect,
        read=0,
        redirect=0,
        status=status,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=frozenset({429, 502, 503, 504}),
        backoff_factor=0.3,
        backoff_max=1.0,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def build_session(base_url: str) -> requests.Session:
    """A session whose adapters carry the retry policy: sends get connect retries only."""
    session = requests.Session()
    session.mount(base_url.rstrip("/") + "/", HTTPAdapter(max_retries=_retry(connect=2, status=2)))
    session.mount(base_url.rstrip("/") + "/message/", HTTPAdapter(max_retries=_retry(connect=1, status=0)))
    return session


class EvolutionClient:
    """Calls Evolution API 2.3.x. Every method raises an ``EvolutionError`` subclass on failure."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        send_timeout: float = 15.0,
        max_read_timeout: float = 22.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.send_timeout = send_timeout
        self.max_read_timeout = max_read_timeout
        self._session = session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = build_session(self.base_url)
        return self._session

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        read_timeout: float | None = None,
        connect_timeout: float | None = None,
        expect_message_key: bool = False,
    ) -> Any:
        timeout = (
            connect_timeout or self.connect_timeout,
            min(read_timeout or self.read_timeout, self.max_read_timeout),
        )
        with _transport_errors(operation, timeout[1]):
            response = self.session.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=self._headers(),
                timeout=timeout,
                allow_redirects=False,
            )
        body, error = error_from_response(
            operation,
            response.status_code,
            response.text,
            headers=response.headers,
            expect_message_key=expect_message_key,
        )
        if error is not None:
            logger.info(
                "evolution error",
                extra={
                    "operation": operation,
                    "status": response.status_code,
                    "error": type(error).__name__,
                },
            )
            raise error
        return body

    def _headers(self) -> dict[str, str]:
        return {"apikey": self._api_key, "Accept": "application/json"}

    def _instance(self, instance: str) -> str:
        return quote(instance, safe="")

    def _send(
        self, kind: str, instance: str, payload: wire.Wire, delay_ms: int | None = None
    ) -> wire.SentMessage:
        read = self.send_timeout
        if delay_ms:
            read = max(read, delay_ms / 1000 + 2.0)
        body = self._request(
            "POST",
            f"/message/{kind}/{self._instance(instance)}",
            operation=kind,
            json=payload.body(),
            read_timeout=read,
            expect_message_key=True,
        )
        return wire.SentMessage.from_body(body)

    # -- instance lifecycle -----------------------------------------------------------------

    def create_instance(
        self,
        instance: str,
        *,
        integration: str = "WHATSAPP-BAILEYS",
        webhook: wire.WebhookConfig | None = None,
        qrcode: bool = True,
    ) -> dict[str, Any]:
        """``qrcode=True`` starts the session too, and Evolution then answers only after ~5 s."""
        payload = wire.CreateInstance(
            instance_name=instance,
            integration=integration,
            qrcode=qrcode,
            webhook=webhook,
        )
        body = self._request("POST", "/instance/create", operation="createInstance", json=payload.body())
        return body if isinstance(body, dict) else {}

    def fetch_instances(self, instance: str | None = None) -> list[dict[str, Any]]:
        params = {"instanceName": instance} if instance else None
        body = self._request("GET", "/instance/fetchInstances", operation="fetchInstances", params=params)
        return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []

    def connect(self, instance: str, *, number: str | None = None) -> wire.ConnectResult:
        params = {"number": number} if number else None
        body = self._request(
            "GET",
            f"/instance/connect/{self._instance(instance)}",
            operation="connect",
            params=params,
        )
        return wire.ConnectResult.from_body(body)

    def connection_state(self, instance: str, *, timeout: float | None = None) -> str:
        """The session state; ``timeout`` shortens both timeouts (health checks)."""
        body = self._request(
            "GET",
            f"/instance/connectionState/{self._instance(instance)}",
            operation="connectionState",
            read_timeout=timeout,
            connect_timeout=min(timeout, self.connect_timeout, 1.0) if timeout else None,
        )
        state = body.get("instance", {}).get("state") if isinstance(body, dict) else None
        if not isinstance(state, str):
            raise EvolutionBadResponseError("connectionState", 200, ["no instance.state in the answer"])
        return state

    def logout(self, instance: str) -> dict[str, Any]:
        body = self._request("DELETE", f"/instance/logout/{self._instance(instance)}", operation="logout")
        return body if isinstance(body, dict) else {}

    def set_webhook(self, instance: str, config: wire.WebhookConfig) -> dict[str, Any]:
        body = self._request(
            "POST",
            f"/webhook/set/{self._instance(instance)}",
            operation="setWebhook",
            json=wire.SetWebhook(webhook=config).body(),
        )
        return body if isinstance(body, dict) else {}

    # -- sends (never retried once they may have reached the server) -------------------------

    def send_text(
        self,
        instance: str,
        number: str,
        text: str,
        *,
        delay_ms: int | None = None,
        link_preview: bool | None = None,
        quoted_id: str | None = None,
    ) -> wire.SentMessage:
        payload = wire.SendText(
            number=number,
            text=text,
            delay=delay_ms,
            link_preview=link_preview,
            quoted=_quoted(quoted_id),
        )
        return self._send("sendText", instance, payload, delay_ms)

    def send_media(
        self,
        instance: str,
        number: str,
        *,
        mediatype: wire.MediaType,
        media: str,
        mimetype: str | None = None,
        caption: str | None = None,
        file_name: str | None = None,
        delay_ms: int | None = None,
        quoted_id: str | None = None,
    ) -> wire.SentMessage:
        payload = wire.SendMedia(
            number=number,
            mediatype=mediatype,
            media=media,
            mimetype=mimetype,
            caption=caption,
            file_name=file_name,
            delay=delay_ms,
            quoted=_quoted(quoted_id),
        )
        return self._send("sendMedia", instance, payload, delay_ms)

    def send_audio(
        self,
        instance: str,
        number: str,
        audio: str,
        *,
        delay_ms: int | None = None,
        quoted_id: str | None = None,
    ) -> wire.SentMessage:
        payload = wire.SendAudio(number=number, audio=audio, delay=delay_ms, quoted=_quoted(quoted_id))
        return self._send("sendWhatsAppAudio", instance, payload, delay_ms)

    def send_location(
        self,
        instance: str,
        number: str,
        *,
        latitude: float,
        longitude: float,
        name: str,
        address: str,
        delay_ms: int | None = None,
        quoted_id: str | None = None,
    ) -> wire.SentMessage:
        payload = wire.SendLocation(
            number=number,
            latitude=latitude,
            longitude=longitude,
            name=name,
            address=address,
            delay=delay_ms,
            quoted=_quoted(quoted_id),
        )
        return self._send("sendLocation", instance, payload, delay_ms)

    def send_reaction(
        self, instance: str, *, message_id: str, remote_jid: str, from_me: bool, emoji: str
    ) -> wire.SentMessage:
        payload = wire.SendReaction(
            key=wire.ReactionKey(id=message_id, remote_jid=remote_jid, from_me=from_me),
            reaction=emoji,
        )
        return self._send("sendReaction", instance, payload)

    def send_template(
        self,
        instance: str,
        number: str,
        *,
        name: str,
        language: str,
        components: list[dict[str, Any]] | None = None,
    ) -> wire.SentMessage:
        payload = wire.SendTemplate(number=number, name=name, language=language, components=components)
        return self._send("sendTemplate", instance, payload)

    # -- media ----------------------------------------------------------------------------------

    def get_media(self, instance: str, message_id: str, *, max_bytes: int) -> wire.MediaContent:
        """A received (or phone-typed) message's media, decoded, from Evolution's own copy.

        The answer is streamed into one bounded buffer: EvolutionTooLargeError past ``max_bytes``
        of file. Evolution downloads from WhatsApp (retrying once after 5 s) before answering,
        so the read may take up to ``max_read_timeout``. Safe to repeat: it changes nothing.
        """
        operation = media.OPERATION
        payload = wire.GetBase64FromMediaMessage(
            message=wire.MediaMessageRef(key=wire.MediaKey(id=message_id))
        )
        timeout = (self.connect_timeout, self.max_read_timeout)
        limit = media.body_limit(max_bytes)
        with _transport_errors(operation, timeout[1]):
            response = self.session.request(
                "POST",
                f"{self.base_url}/chat/getBase64FromMediaMessage/{self._instance(instance)}",
                json=payload.body(),
                headers=self._headers(),
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            try:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                raw = media.read_bounded(
                    response.iter_content(chunk_size=1024 * 1024), limit=limit, expected=expected
                )
            finally:
                response.close()
        if not 200 <= response.status_code < 300:
            _, error = error_from_response(
                operation,
                response.status_code,
                raw[:METADATA_TEXT].decode("utf-8", "replace"),
                headers=response.headers,
            )
            if error is None:  # pragma: no cover - error_from_response always finds one for a non-2xx
                error = EvolutionBadResponseError(operation, response.status_code, ["not a success"])
            logger.info(
                "evolution error",
                extra={"operation": operation, "status": response.status_code, "error": type(error).__name__},
            )
            raise error
        return media.parse_media(raw, max_bytes=max_bytes)


@contextlib.contextmanager
def _transport_errors(operation: str, read_timeout: float) -> Iterator[None]:
    """requests' exceptions as the error tree's transport errors (did the request leave?)."""
    try:
        yield
    except requests.exceptions.ConnectTimeout as exc:
        raise EvolutionConnectError(operation, "connect timeout") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise EvolutionTimeoutError(operation, f"no answer within {read_timeout:g} s") from exc
    except requests.exceptions.ConnectionError as exc:
        if _never_left(exc):
            raise EvolutionConnectError(operation, "connection failed") from exc
        raise EvolutionConnectionLostError(operation, "connection lost") from exc
    except requests.exceptions.RequestException as exc:
        raise EvolutionConnectError(operation, type(exc).__name__) from exc


def _quoted(message_id: str | None) -> wire.Quoted | None:
    return wire.Quoted(key=wire.QuotedKey(id=message_id)) if message_id else None


def _never_left(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether a ConnectionError happened before the request was sent (refused, DNS)."""
    reason: Any = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, NewConnectionError)
