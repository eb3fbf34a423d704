"""Planning a send describes the Evolution call as data; executing it calls exactly that method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.evolution.wire import SentMessage
from chalicelib.models.api import SendMessageRequest, SendTemplateRequest
from chalicelib.services.integrations import IntegrationCache
from chalicelib.services.message_plan import EvolutionSend, MessagePlanner
from chalicelib.services.messages import execute
from chalicelib.settings import load_settings
from chalicelib.store.sqlite import SQLiteStore
from tests.store.conftest import outbound

VARIABLES = {"name": "Ana", "date": "2026-12-01", "time": "10:00", "location": "Av. Paulista 1000"}


class NoEvolution:
    """Planning must not call Evolution (the integration comes from the store here)."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"planning called Evolution's {name}")


@pytest.fixture
def planner(tmp_path: Path) -> MessagePlanner:
    settings = load_settings(
        EVOLUTION_API_URL="http://evolution.test",
        EVOLUTION_API_KEY="k",
        INSTANCE_NAME="manpower-whatsapp",
        API_KEYS="key",
        WEBHOOK_SECRET="s" * 32,
    )
    store = SQLiteStore(str(tmp_path / "store.db"))
    store.update_instance_state("manpower-whatsapp", integration="WHATSAPP-BAILEYS")
    return MessagePlanner(
        evolution=NoEvolution(),  # type: ignore[arg-type]
        store=store,
        settings=settings,
        integrations=IntegrationCache(),
    )


@pytest.mark.parametrize(
    ("body", "send"),
    [
        (
            {"to": "+5511999999999", "text": "Hola", "link_preview": False, "delay_ms": 1200},
            EvolutionSend(
                "send_text",
                {
                    "number": "5511999999999",
                    "text": "Hola",
                    "link_preview": False,
                    "delay_ms": 1200,
                    "quoted_id": None,
                },
            ),
        ),
        (
            {"to": "+5511999999999", "media": {"type": "audio", "url": "https://example.com/a.ogg"}},
            EvolutionSend(
                "send_audio",
                {
                    "number": "5511999999999",
                    "audio": "https://example.com/a.ogg",
                    "delay_ms": None,
                    "quoted_id": None,
                },
            ),
        ),
        (
            {
                "to": "+5511999999999",
                "media": {"type": "document", "url": "https://example.com/cv.pdf", "filename": "cv.pdf"},
            },
            EvolutionSend(
                "send_media",
                {
                    "number": "5511999999999",
                    "mediatype": "document",
                    "media": "https://example.com/cv.pdf",
                    "mimetype": None,
                    "caption": None,
                    "file_name": "cv.pdf",
                    "delay_ms": None,
                    "quoted_id": None,
                },
            ),
        ),
        (
            {
                "to": "+5511999999999",
                "location": {"latitude": -23.5, "longitude": -46.6, "name": "HQ", "address": "Av"},
            },
            EvolutionSend(
                "send_location",
                {
                    "number": "5511999999999",
                    "latitude": -23.5,
                    "longitude": -46.6,
                    "name": "HQ",
                    "address": "Av",
                    "delay_ms": None,
                    "quoted_id": None,
                },
            ),
        ),
    ],
)
def test_each_kind_of_message_plans_one_evolution_call_with_its_arguments(
    planner: MessagePlanner, body: dict[str, Any], send: EvolutionSend
) -> None:
    assert planner.plan(SendMessageRequest.model_validate(body)).send == send


def test_a_reaction_is_planned_against_the_chat_of_the_message_it_reacts_to(planner: MessagePlanner) -> None:
    planner.store.create_message(outbound(1, message_id="3EB0TARGET"))
    request = SendMessageRequest.model_validate(
        {"to": "+5511999999999", "reaction": {"message_id": "3EB0TARGET", "emoji": "👍"}}
    )

    outgoing = planner.plan(request)

    assert outgoing.send == EvolutionSend(
        "send_reaction",
        {
            "message_id": "3EB0TARGET",
            "remote_jid": "5511999999999@s.whatsapp.net",
            "from_me": True,
            "emoji": "👍",
        },
    )


def test_a_reaction_to_an_unknown_message_is_refused_before_any_call(planner: MessagePlanner) -> None:
    request = SendMessageRequest.model_validate(
        {"to": "+5511999999999", "reaction": {"message_id": "NOPE", "emoji": "👍"}}
    )
    with pytest.raises(errors.NotFoundError):
        planner.plan(request)


def test_a_template_is_text_on_baileys_and_the_meta_template_on_cloud_api(planner: MessagePlanner) -> None:
    request = SendTemplateRequest.model_validate(
        {"to": "+5511999999999", "template": "interview_reminder", "language": "en", "variables": VARIABLES}
    )
    as_text = planner.plan(request)
    planner.store.update_instance_state("manpower-whatsapp", integration="WHATSAPP-BUSINESS")
    planner.integrations.clear()
    as_meta = planner.plan(request)

    assert as_text.send.operation == "send_text" and "Ana" in as_text.send.arguments["text"]
    assert as_meta.send.operation == "send_template"
    assert (as_meta.send.arguments["name"], as_meta.send.arguments["language"]) == (
        "interview_reminder_v1",
        "en_US",
    )
    assert as_text.fingerprint == as_meta.fingerprint, "both match the same rendered text"


class Recorder:
    """An Evolution client that records the one call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> SentMessage:
            self.calls.append((name, args, kwargs))
            return SentMessage(message_id="3EB0X", remote_jid=None, status="PENDING", message_type=None)

        return call


def test_executing_a_plan_calls_the_named_method_with_the_instance_then_the_arguments() -> None:
    client = Recorder()
    sent = execute(client, "acme", EvolutionSend("send_text", {"number": "5511", "text": "Hola"}))  # type: ignore[arg-type]
    assert client.calls == [("send_text", ("acme",), {"number": "5511", "text": "Hola"})]
    assert sent.message_id == "3EB0X"
