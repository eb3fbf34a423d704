"""ConsentService: keywords folded (case, accents, trailing ./!), only a whole text counts, the
suppression written with its event, and the send rule with its 24 h reply window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chalicelib import errors
from chalicelib.models.records import MessageRecord
from chalicelib.services.consent import ConsentService, Keywords, fold
from chalicelib.store.sqlite import SQLiteStore

INSTANCE = "consent-test"
ANA = "+5511999990001"


def inbound(text: str, *, sender: str = ANA, at: str = "2026-12-01T10:00:00.000Z") -> MessageRecord:
    return MessageRecord.model_validate(
        {
            "id": "msg_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
            "instance": INSTANCE,
            "direction": "inbound",
            "message_id": "IN1",
            "type": "text",
            "status": "delivered",
            "from": sender,
            "text": text,
            "timestamp": at,
            "created_at": at,
            "updated_at": at,
        }
    )


@pytest.fixture
def consent(tmp_path: Path) -> ConsentService:
    return ConsentService(store=SQLiteStore(str(tmp_path / "c.db")), instance=INSTANCE)


@pytest.mark.parametrize(
    "text", ["BAJA", " baja ", "Baja.", "baja!!", "STOP", "cancelar", "Unsubscribe", "ALTO"]
)
def test_an_opt_out_keyword_is_recognised_whatever_its_case_and_trailing_marks(text: str) -> None:
    assert Keywords().intent(text) == "opt_out"


@pytest.mark.parametrize("text", ["START", "alta", "Álta!", "ÁLTA."])
def test_an_opt_in_keyword_is_recognised_with_or_without_accents(text: str) -> None:
    assert Keywords().intent(text) == "opt_in"


@pytest.mark.parametrize("text", ["quiero darme de baja", "stop it please", "BAJA ya", "", "¿baja?"])
def test_a_keyword_inside_a_sentence_asks_nothing(text: str) -> None:
    assert Keywords().intent(text) is None


def test_configured_keywords_are_added_and_folded() -> None:
    words = Keywords(opt_out="Darme de baja, NO MÁS", opt_in="volver")
    assert words.intent("no mas") == "opt_out" and words.intent("Darme de BAJA!") == "opt_out"
    assert words.intent("Volver") == "opt_in" and words.intent("STOP") == "opt_out"
    assert fold("  Ñandú!. ") == "nandu"


def test_baja_suppresses_the_sender_once_with_one_event_and_alta_lifts_it(consent: ConsentService) -> None:
    assert consent.on_inbound(inbound("BAJA")) == "opt_out"
    assert consent.on_inbound(inbound("baja")) == "opt_out"  # a second one changes nothing
    suppression = consent.store.get_suppression(INSTANCE, ANA)
    assert suppression is not None and suppression.reason == "keyword"
    assert consent.on_inbound(inbound("ALTA")) == "opt_in"
    assert consent.store.get_suppression(INSTANCE, ANA) is None
    events = [
        (e.type, e.data["to"], e.data["reason"]) for e in consent.store.undispatched_events(INSTANCE, limit=9)
    ]
    assert events == [("recipient.opted_out", ANA, "keyword"), ("recipient.opted_in", ANA, "keyword")]


def test_templates_to_a_suppressed_number_are_refused_and_plain_replies_only_within_24_hours(
    consent: ConsentService,
) -> None:
    consent.on_inbound(inbound("STOP", at="2026-12-01T10:00:00.000Z"))
    within = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(errors.RecipientOptedOutError):
        consent.check_send(ANA, template=True, now=within)
    consent.check_send(ANA, template=False, now=within)  # answering what they wrote
    with pytest.raises(errors.RecipientOptedOutError):
        consent.check_send(ANA, template=False, now=within + timedelta(hours=2))
    consent.on_inbound(inbound("¿Y mi entrevista?", at="2026-12-02T11:00:00.000Z"))  # they wrote again
    consent.check_send(ANA, template=False, now=within + timedelta(hours=2))
    consent.check_send("+5511999990002", template=True, now=within)  # not suppressed
    consent.check_send("120363025246125486@g.us", template=True, now=within)  # a group never opts out


def test_the_list_pages_and_a_manual_suppression_is_lifted_once(consent: ConsentService) -> None:
    body, created = consent.add(ANA, "asked by phone")
    assert created and body["reason"] == "manual" and body["note"] == "asked by phone"
    assert consent.add(ANA, None)[1] is False
    assert [s["to"] for s in consent.list(after=None, limit=10)["items"]] == [ANA]
    consent.remove(ANA)
    with pytest.raises(errors.NotFoundError):
        consent.remove(ANA)
    with pytest.raises(errors.ValidationError):
        consent.list(after="bogus", limit=10)
