"""Process-wide collaborators and the services built on them: the only place they are wired.

Each factory returns its real type. Collaborators (settings, the Evolution client, the store, the
integration cache) are built on first use and reused by warm invocations; services are cheap and
built per call. Service modules are imported inside the factories, so a cold start pays only for
what its first request uses. :func:`reset` forgets every process cache.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.media.blobs import BlobStore
    from chalicelib.services.broadcasts import BroadcastService
    from chalicelib.services.consent import ConsentService
    from chalicelib.services.health import HealthService
    from chalicelib.services.instances import InstanceService
    from chalicelib.services.integrations import IntegrationCache
    from chalicelib.services.media import MediaService
    from chalicelib.services.messages import MessageService
    from chalicelib.services.webhooks import WebhookService
    from chalicelib.store.base import Store


_RESETS: list[Callable[[], None]] = []


def on_reset(clear: Callable[[], None]) -> Callable[[], None]:
    """Have :func:`reset` call ``clear``: how a module's own process cache (the bundled templates,
    the OpenAPI document, the QR page) joins the one reset without this module importing it."""
    _RESETS.append(clear)
    return clear


@cache
def get_evolution() -> EvolutionClient:
    """The Evolution client (one pooled ``requests.Session`` per process)."""
    from chalicelib.evolution import EvolutionClient  # noqa: PLC0415 - requests is not cheap

    settings = get_settings()
    return EvolutionClient(
        settings.evolution_base_url,
        settings.EVOLUTION_API_KEY.get_secret_value(),
        connect_timeout=settings.EVOLUTION_CONNECT_TIMEOUT,
        read_timeout=settings.EVOLUTION_READ_TIMEOUT,
        send_timeout=settings.EVOLUTION_SEND_TIMEOUT,
        max_read_timeout=settings.EVOLUTION_MAX_READ_TIMEOUT,
    )


@cache
def get_store() -> Store:
    """The store named by ``STORE_URL`` (SQLite locally, DynamoDB when deployed)."""
    from chalicelib.store import store_from_url  # noqa: PLC0415

    return store_from_url(get_settings().STORE_URL)


@cache
def get_integrations() -> IntegrationCache:
    """What this process has learnt about the instance's integration (Baileys or Cloud API)."""
    from chalicelib.services.integrations import IntegrationCache  # noqa: PLC0415

    return IntegrationCache()


@cache
def get_blobs() -> BlobStore:
    """Where media bytes live: the stage's S3 bucket (``MEDIA_BUCKET``), else ``MEDIA_DIR``."""
    settings = get_settings()
    if settings.MEDIA_BUCKET:
        from chalicelib.media.blobs import S3Blobs  # noqa: PLC0415

        return S3Blobs(settings.MEDIA_BUCKET)
    from chalicelib.media.blobs import LocalBlobs  # noqa: PLC0415

    return LocalBlobs(settings.MEDIA_DIR, signing_key=settings.media_url_key())


def media_service() -> MediaService:
    """Fetches, keeps and links messages' media (queues its fetches on the background transport)."""
    from chalicelib.background import get_transport  # noqa: PLC0415
    from chalicelib.services.media import MediaService  # noqa: PLC0415

    settings = get_settings()
    return MediaService(
        store=get_store(),
        evolution=get_evolution(),
        blobs=get_blobs(),
        instance=settings.INSTANCE_NAME,
        max_bytes=settings.MEDIA_MAX_BYTES,
        url_ttl_s=settings.MEDIA_URL_TTL,
        transport=get_transport(),
        retry_scale=settings.EVENTS_RETRY_SCALE,
    )


def message_service() -> MessageService:
    """Sends, looks up and lists messages."""
    from chalicelib.services.messages import MessageService  # noqa: PLC0415

    return MessageService(
        evolution=get_evolution(),
        store=get_store(),
        settings=get_settings(),
        integrations=get_integrations(),
        consent=consent_service(),
    )


def instance_service() -> InstanceService:
    """The WhatsApp session: status, connect, disconnect."""
    from chalicelib.services.instances import InstanceService  # noqa: PLC0415

    return InstanceService(
        evolution=get_evolution(),
        settings=get_settings(),
        store=get_store(),
        integrations=get_integrations(),
    )


def health_service() -> HealthService:
    """The /health checks and the scheduled job."""
    from chalicelib.services.health import HealthService  # noqa: PLC0415

    return HealthService(evolution=get_evolution(), store=get_store(), settings=get_settings())


def webhook_service() -> WebhookService:
    """Applies Evolution's webhook events to the store (and tells media, consent and broadcasts)."""
    from chalicelib.background import queue_media_fetch  # noqa: PLC0415
    from chalicelib.services.webhooks import WebhookService  # noqa: PLC0415

    return WebhookService(
        store=get_store(),
        instance=get_settings().INSTANCE_NAME,
        media_fetch=queue_media_fetch,
        consent=consent_service(),
        broadcasts=broadcast_service,
    )


def consent_service() -> ConsentService:
    """Opt-out keywords, the suppression list and the send rule."""
    from chalicelib.services.consent import ConsentService, Keywords  # noqa: PLC0415

    settings = get_settings()
    return ConsentService(
        store=get_store(),
        instance=settings.INSTANCE_NAME,
        keywords=Keywords(opt_out=settings.OPT_OUT_KEYWORDS, opt_in=settings.OPT_IN_KEYWORDS),
    )


def broadcast_service() -> BroadcastService:
    """Broadcasts: creating, steering, and the paced ticks that send them."""
    from chalicelib.background import get_transport, kick  # noqa: PLC0415
    from chalicelib.services.broadcasts import BroadcastService  # noqa: PLC0415

    return BroadcastService(
        store=get_store(),
        settings=get_settings(),
        consent=consent_service(),
        transport=get_transport(),
        messages=message_service,
        kick=kick,
    )


def reset() -> None:
    """Forget every process cache: the settings, every collaborator, what was learnt about the
    instance, and each cache registered with :func:`on_reset` (tests, and a changed environment)."""
    if get_integrations.cache_info().currsize:
        get_integrations().clear()
    get_integrations.cache_clear()
    get_evolution.cache_clear()
    get_store.cache_clear()
    get_blobs.cache_clear()
    get_settings.cache_clear()
    for clear in _RESETS:
        clear()
