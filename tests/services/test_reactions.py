"""A reaction's ``to`` must name the chat of the message it reacts to."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import errors
from chalicelib.models.records import MessageRecord
from chalicelib.services.reactions import check_reaction_chat
from chalicelib.services.recipients import normalize_recipient


def _record(**fields: Any) -> MessageRecord:
    base = {
        "id": "msg_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
        "instance": "acme",
        "message_id": "3EB0TARGET",
        "type": "text",
        "status": "delivered",
        "created_at": "2026-12-01T12:00:00Z",
        "updated_at": "2026-12-01T12:00:00Z",
    }
    return MessageRecord.model_validate(base | fields)


SENT = _record(direction="outbound", to="+5511999999999", jid="5511999999999@s.whatsapp.net")
RECEIVED_LID = _record(
    direction="inbound", jid="13718000000000@lid", **{"from": "+5511999999999"}, from_lid="13718000000000@lid"
)
IN_GROUP = _record(direction="inbound", jid="120363021234567890@g.us", **{"from": "+5511999999999"})


@pytest.mark.parametrize(
    ("to", "target"),
    [
        ("+55 11 99999-9999", SENT),
        ("+5511999999999", RECEIVED_LID),
        ("13718000000000@lid", RECEIVED_LID),
        ("120363021234567890@g.us", IN_GROUP),
    ],
)
def test_a_to_naming_the_chat_passes(to: str, target: MessageRecord) -> None:
    check_reaction_chat(normalize_recipient(to), target)


@pytest.mark.parametrize(
    ("to", "target"),
    [
        ("+5511988887777", SENT),
        ("+5511988887777", RECEIVED_LID),
        ("+5511999999999", IN_GROUP),  # the participant who wrote, not the group
        ("120363029999999999@g.us", IN_GROUP),
    ],
)
def test_a_to_naming_another_chat_is_refused(to: str, target: MessageRecord) -> None:
    with pytest.raises(errors.ValidationError) as excinfo:
        check_reaction_chat(normalize_recipient(to), target)
    assert excinfo.value.details is not None
    assert excinfo.value.details[0]["loc"] == ["to"]
