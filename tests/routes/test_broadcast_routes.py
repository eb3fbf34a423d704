"""/broadcasts and /suppressions through the Chalice test client (the local worker off, so ticks
stay queued), and consent applied to webhooks and sends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from responses import RequestsMock

from tests.conftest import EVOLUTION_URL, INSTANCE, WEBHOOK_SECRET, auth, load_webhook

ANA = "+5511999999999"


@pytest.fixture
def api(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from chalice.test import Client

    from app import app
    from chalicelib import deps
    from tests.conftest import REPO

    monkeypatch.setenv("LOCAL_WORKER", "false")
    deps.reset()
    with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
        yield client
    deps.reset()


def _json(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


def _post(api: Any, path: str, body: Any = None, *, key: str | None = None) -> Any:
    headers = auth()
    if key is not None:
        headers["Idempotency-Key"] = key
    raw = b"" if body is None else json.dumps(body).encode()
    return api.http.post(path, headers=headers, body=raw)


def _broadcast(n: int = 3, **body: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Recordatorio entrevistas 2-dic",
        "text": "Hola, te esperamos mañana.",
        "recipients": [{"to": f"+55119999{i:05d}", "reference": f"cand-{i}"} for i in range(n)],
        "pacing": {"per_minute": 4, "jitter": 0.5},
    }
    values.update(body)
    return values


def _create(api: Any, **body: Any) -> dict[str, Any]:
    response = _post(api, "/broadcasts", _broadcast(**body))
    assert response.status_code == 202, response.body
    created: dict[str, Any] = _json(response)
    return created


def _inbound(api: Any, text: str, *, message_id: str = "IN-BAJA-1", at: float | None = None) -> None:
    body = load_webhook("messages.upsert.text")
    body["instance"] = INSTANCE
    body["data"]["key"]["id"] = message_id
    body["data"]["messageTimestamp"] = int(time.time() if at is None else at)
    body["data"]["message"] = {"conversation": text}
    response = api.http.post(
        "/webhook",
        headers={"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET},
        body=json.dumps(body).encode(),
    )
    assert response.status_code == 200, response.body


def test_a_broadcast_is_created_running_with_counts_an_eta_and_its_recipients(api: Any) -> None:
    created = _create(api)
    assert created["id"].startswith("bc_") and created["status"] == "running"
    assert created["total"] == 3 and created["counts"]["queued"] == 3 and created["eta"].endswith("Z")
    assert created["pacing"] == {"per_minute": 4.0, "jitter": 0.5, "window": None}
    got = _json(api.http.get(f"/broadcasts/{created['id']}", headers=auth()))
    assert got["id"] == created["id"] and got["name"] == "Recordatorio entrevistas 2-dic"
    page = _json(api.http.get(f"/broadcasts/{created['id']}/recipients?limit=2", headers=auth()))
    assert [(r["index"], r["to"], r["reference"], r["status"]) for r in page["items"]] == [
        (0, "+5511999900000", "cand-0", "queued"),
        (1, "+5511999900001", "cand-1", "queued"),
    ]
    rest = _json(api.http.get(f"/broadcasts/{created['id']}/recipients?after={page['next']}", headers=auth()))
    assert [r["index"] for r in rest["items"]] == [2] and rest["next"] is None
    listed = _json(api.http.get("/broadcasts", headers=auth()))
    assert [b["id"] for b in listed["items"]] == [created["id"]]


def test_an_idempotency_key_replays_the_same_broadcast_and_refuses_another_body(api: Any) -> None:
    first = _post(api, "/broadcasts", _broadcast(), key="bc-key-1")
    again = _post(api, "/broadcasts", _broadcast(), key="bc-key-1")
    assert first.status_code == again.status_code == 202
    assert _json(again)["id"] == _json(first)["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = _post(api, "/broadcasts", _broadcast(2), key="bc-key-1")
    assert other.status_code == 422 and _json(other)["Code"] == "IdempotencyKeyReused"
    assert len(_json(api.http.get("/broadcasts", headers=auth()))["items"]) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"recipients": []}, 400, "ValidationError"),
        ({"recipients": [{"to": "+5511999900000"}] * 10_001}, 400, "ValidationError"),
        ({"text": None}, 400, "ValidationError"),
        ({"template": "interview_reminder"}, 400, "ValidationError"),
        ({"text": None, "template": "no_such_template"}, 404, "NotFoundError"),
        ({"pacing": {"per_minute": 61}}, 400, "ValidationError"),
        ({"pacing": {"jitter": 1.5}}, 400, "ValidationError"),
        ({"pacing": {"window": {"start": "9", "end": "19:00", "timezone": "UTC"}}}, 400, "ValidationError"),
        (
            {"pacing": {"window": {"start": "09:00", "end": "19:00", "timezone": "Mars/Base"}}},
            400,
            "ValidationError",
        ),
        ({"start_at": "tomorrow"}, 400, "ValidationError"),
        ({"start_at": "9999-12-31T23:59:59Z"}, 400, "ValidationError"),
        ({"surprise": 1}, 400, "ValidationError"),
    ],
)
def test_a_body_wrong_as_a_whole_is_refused(api: Any, body: dict[str, Any], status: int, code: str) -> None:
    response = _post(api, "/broadcasts", _broadcast(**body))
    assert response.status_code == status, response.body
    assert _json(response)["Code"] == code


def test_a_body_that_is_not_json_or_too_big_is_a_clear_400(api: Any) -> None:
    bad = api.http.post("/broadcasts", headers=auth(), body=b"{nope")
    assert bad.status_code == 400 and _json(bad)["Code"] == "BadRequestError"
    huge = api.http.post("/broadcasts", headers=auth(), body=b'{"name": "' + b"x" * (4 * 1024 * 1024) + b'"}')
    assert huge.status_code == 400 and _json(huge)["Code"] == "ValidationError"


def test_pause_resume_and_cancel_answer_the_broadcast_or_409(api: Any) -> None:
    created = _create(api)
    path = f"/broadcasts/{created['id']}"
    assert _json(_post(api, path + "/pause"))["status"] == "paused"
    conflict = _post(api, path + "/pause")
    assert conflict.status_code == 409 and _json(conflict)["Code"] == "Conflict"
    assert _json(_post(api, path + "/resume"))["status"] == "running"
    assert _json(_post(api, path + "/cancel"))["status"] == "cancelled"
    assert _post(api, path + "/resume").status_code == 409
    assert _post(api, "/broadcasts/bc_01JDQ4Z9W6M8E3V7K2B5N1P0RS/pause").status_code == 404
    assert api.http.get("/broadcasts/nope", headers=auth()).status_code == 404


def test_list_queries_are_validated(api: Any) -> None:
    created = _create(api)
    for query in ("?limit=0", "?limit=abc", "?after=bogus", "?status=lost", "?extra=1"):
        response = api.http.get(f"/broadcasts/{created['id']}/recipients{query}", headers=auth())
        assert response.status_code == 400, query
    assert api.http.get("/broadcasts?limit=101", headers=auth()).status_code == 400
    assert api.http.get("/broadcasts", headers={}).status_code == 401


def test_the_progress_page_is_public_no_store_and_locked_down(api: Any) -> None:
    response = api.http.get("/broadcasts/bc_01JDQ4Z9W6M8E3V7K2B5N1P0RS/view")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    policy = response.headers["Content-Security-Policy"]
    assert (
        "default-src 'none'" in policy and "script-src 'sha256-" in policy and "connect-src 'self'" in policy
    )
    assert b"sessionStorage" in (
        response.body if isinstance(response.body, bytes) else response.body.encode()
    )


# -- consent -----------------------------------------------------------------------------------


def test_a_baja_reply_suppresses_the_sender_and_later_broadcasts_skip_them(api: Any) -> None:
    _inbound(api, "Baja.")
    listed = _json(api.http.get("/suppressions", headers=auth()))
    assert [(s["to"], s["reason"]) for s in listed["items"]] == [(ANA, "keyword")]
    created = _create(api, recipients=[{"to": ANA}, {"to": "+5511999900001"}])
    rows = _json(api.http.get(f"/broadcasts/{created['id']}/recipients", headers=auth()))["items"]
    assert [(r["status"], r["reason"]) for r in rows] == [("skipped", "opted_out"), ("queued", None)]
    _inbound(api, "ALTA", message_id="IN-ALTA-1")
    assert _json(api.http.get("/suppressions", headers=auth()))["items"] == []


def test_templates_to_a_suppressed_number_are_refused_but_a_prompt_reply_is_allowed(
    api: Any, evolution: RequestsMock
) -> None:
    _inbound(api, "STOP", at=time.time() - 25 * 3600)  # a day and an hour ago
    template = {
        "to": ANA,
        "template": "interview_reminder",
        "variables": {
            "name": "Ana",
            "date": "lunes",
            "time": "10:00",
            "location": "Oficina",
            "recruiter": "Luis",
        },
    }
    refused = _post(api, "/messages/template", template)
    assert refused.status_code == 422 and _json(refused)["Code"] == "RecipientOptedOut"
    evolution.post(
        f"{EVOLUTION_URL}/message/sendText/{INSTANCE}",
        status=201,
        json={
            "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True, "id": "3EB0AA"},
            "status": "PENDING",
        },
    )
    late = _post(api, "/messages", {"to": ANA, "text": "¿Sigues interesada?"})
    assert late.status_code == 422 and _json(late)["Code"] == "RecipientOptedOut"
    _inbound(api, "¿Y mi entrevista?", message_id="IN-Q-1")  # they write again: a reply is allowed
    reply = _post(api, "/messages", {"to": ANA, "text": "Es el lunes a las 10:00."})
    assert reply.status_code == 201, reply.body


def test_suppressions_are_added_by_hand_and_deleted_with_or_without_the_plus(api: Any) -> None:
    created = _post(api, "/suppressions", {"to": "+55 11 99999-0001", "note": "pidió por teléfono"})
    assert created.status_code == 201
    assert _json(created) | {"created_at": "x"} == {
        "to": "+5511999990001",
        "reason": "manual",
        "note": "pidió por teléfono",
        "created_at": "x",
    }
    assert api.http.delete("/suppressions/5511999990001", headers=auth()).status_code == 204
    assert api.http.delete("/suppressions/%2B5511999990001", headers=auth()).status_code == 404
    _post(api, "/suppressions", {"to": "+5511999990001"})
    assert api.http.delete("/suppressions/%2B5511999990001", headers=auth()).status_code == 204
    assert _post(api, "/suppressions", {"to": "not a number"}).status_code == 400
    assert api.http.delete("/suppressions/abc", headers=auth()).status_code == 400


def test_ten_thousand_recipients_are_created_each_with_its_own_check(api: Any) -> None:
    recipients = [{"to": f"+5511{970_000_000 + i:09d}", "reference": f"cand-{i}"} for i in range(10_000)]
    recipients[17] = {"to": "not a number"}
    recipients[9_999] = {"to": recipients[0]["to"]}
    created = _create(api, recipients=recipients)
    assert created["total"] == 10_000
    assert created["counts"]["queued"] == 9_998 and created["counts"]["skipped"] == 2
    skipped = _json(api.http.get(f"/broadcasts/{created['id']}/recipients?status=skipped", headers=auth()))
    assert [(r["index"], r["reason"]) for r in skipped["items"]] == [
        (17, "invalid_number"),
        (9_999, "duplicate"),
    ]
