"""Sending messages safely: plan the one Evolution call and hand it to the write-ahead ledger
(:mod:`chalicelib.services.delivery`, which says what happens under every fault); and reading the
records back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from chalicelib import errors
from chalicelib.evolution import errors as evo
from chalicelib.services.delivery import IN_PROGRESS_WAIT_S, SendLedger, SendOutcome
from chalicelib.services.integrations import IntegrationCache
from chalicelib.services.message_plan import EvolutionSend, MessagePlanner
from chalicelib.services.paging import page_body
from chalicelib.services.recipients import normalize_recipient

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.evolution.wire import SentMessage
    from chalicelib.models.api import SendMessageRequest, SendTemplateRequest
    from chalicelib.services.consent import ConsentService
    from chalicelib.services.templates import Registry
    from chalicelib.settings import Settings
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

__all__ = ["MessageService", "SendOutcome", "execute", "request_fingerprint"]


def request_fingerprint(route: str, body: Any) -> str:
    """What makes two requests "the same" for an Idempotency-Key: route and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def execute(evolution: EvolutionClient, instance: str, send: EvolutionSend) -> SentMessage:
    """Make the Evolution call a plan describes: the only place a send reaches the client."""
    method = getattr(evolution, send.operation)
    return cast("SentMessage", method(instance, **send.arguments))


class MessageService:
    """Sends messages through Evolution and keeps their records in the store."""

    def __init__(
        self,
        *,
        evolution: EvolutionClient,
        store: Store,
        settings: Settings,
        integrations: IntegrationCache | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        templates_registry: Registry | None = None,
        in_progress_wait_s: float = IN_PROGRESS_WAIT_S,
        consent: ConsentService | None = None,
    ) -> None:
        self.consent = consent  # refuses templates (and late plain messages) to opted-out numbers
        self.evolution = evolution
        self.store = store
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self.integrations = integrations if integrations is not None else IntegrationCache()
        self.planner = MessagePlanner(
            evolution=evolution,
            store=store,
            settings=settings,
            integrations=self.integrations,
            templates_registry=templates_registry,
        )
        self.ledger = SendLedger(
            store=store,
            instance=self.instance,
            clock=clock,
            sleep=sleep,
            in_progress_wait_s=in_progress_wait_s,
        )

    # -- delivery --------------------------------------------------------------------------------

    def deliver(
        self,
        request: SendMessageRequest | SendTemplateRequest,
        *,
        idempotency_key: str | None,
        fingerprint: str,
        tags: dict[str, Any] | None = None,
    ) -> SendOutcome:
        """Claim the key, plan, send once through the ledger, keep the answer under the key.

        ``tags`` are kept on the message record (a broadcast's send: ``broadcast_id`` and
        ``broadcast_index``)."""
        key = f"{self.instance}:{idempotency_key}" if idempotency_key else None
        ticket = self.ledger.claim(key, fingerprint)
        if isinstance(ticket, SendOutcome):
            return ticket  # the key's answer, replayed
        try:
            if self.consent is not None:  # before planning: a template's plan may ask Evolution
                to = normalize_recipient(request.to, self.settings.DEFAULT_COUNTRY).to
                self.consent.check_send(to, template=getattr(request, "template", None) is not None)
            outgoing = self.planner.plan(request)
            if tags:
                outgoing = replace(outgoing, extras={**outgoing.extras, **tags})
        except BaseException:
            self.ledger.release(ticket)
            raise

        def call() -> SentMessage:
            try:
                return execute(self.evolution, self.instance, outgoing.send)
            except evo.EvolutionNotFoundError:
                self._forget_integration()
                raise

        return self.ledger.send(ticket, outgoing, call)

    def _forget_integration(self) -> None:
        """The instance is gone: whatever was learnt about it is stale once it is created again."""
        self.integrations.forget(self.instance)
        try:
            self.store.update_instance_state(self.instance, integration=None)
        except errors.StoreUnavailableError:
            logger.warning("could not forget the instance's integration", exc_info=True)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, id_or_message_id: str) -> dict[str, Any]:
        record = self.store.get_message(self.instance, id_or_message_id)
        if record is None:
            raise errors.NotFoundError("No message with this id.")
        return record.public()

    def list(
        self, *, direction: str | None, status: str | None, after: str | None, limit: int
    ) -> dict[str, Any]:
        try:
            page = self.store.list_messages(
                self.instance, direction=direction, status=status, after=after, limit=limit
            )
        except ValueError:
            raise errors.ValidationError(
                "after: not a cursor this API returned.",
                details=[{"loc": ["after"], "msg": "invalid cursor"}],
            ) from None
        return page_body(page)  # bounded in bytes too: Lambda answers at most 6 MB
