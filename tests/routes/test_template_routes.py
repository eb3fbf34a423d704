"""Template routes and template sends on Baileys and Cloud-API instances."""

from __future__ import annotations

import json
from typing import Any

import pytest
from responses import RequestsMock

from tests.conftest import EVOLUTION_URL, INSTANCE, auth, validate_evolution_body

VARIABLES = {"name": "Ana", "date": "2026-12-01", "time": "10:00", "location": "Av. Paulista 1000"}
SENT = {
    "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True, "id": "3EB0TPL"},
    "status": "PENDING",
    "messageType": "conversation",
}


def _json(response: Any) -> Any:
    return json.loads(response.body)


def _instances(evolution: RequestsMock, integration: str) -> None:
    evolution.get(
        f"{EVOLUTION_URL}/instance/fetchInstances",
        json=[{"name": INSTANCE, "integration": integration, "token": "never-shown"}],
    )


def test_templates_are_listed_read_and_previewed(api: Any) -> None:
    listing = _json(api.http.get("/templates", headers=auth()))
    names = {t["name"] for t in listing["templates"]}
    assert {"interview_reminder", "document_request", "job_offer"} <= names
    one = _json(api.http.get("/templates/interview_reminder", headers=auth()))
    assert one["languages"] == ["en", "es"] or set(one["languages"]) == {"es", "en"}
    assert one["variables"]["name"]["required"] is True
    preview = api.http.post(
        "/templates/interview_reminder/preview",
        headers=auth(),
        body=json.dumps({"language": "es_MX", "variables": VARIABLES}),
    )
    assert preview.status_code == 200
    assert _json(preview)["language"] == "es"
    assert "Ana" in _json(preview)["text"]


def test_an_unknown_template_is_404_and_bad_variables_are_422_with_every_problem(api: Any) -> None:
    assert api.http.get("/templates/nope", headers=auth()).status_code == 404
    response = api.http.post(
        "/templates/interview_reminder/preview",
        headers=auth(),
        body=json.dumps({"variables": {"name": "x" * 500, "bogus": "1"}}),
    )
    assert response.status_code == 422
    payload = _json(response)
    assert payload["Code"] == "TemplateError"
    assert len(payload["Details"]) >= 4  # too long, unknown, and the missing date/time/location


def test_a_template_on_a_baileys_instance_goes_out_as_text_and_replays_idempotently(
    api: Any, evolution: RequestsMock
) -> None:
    _instances(evolution, "WHATSAPP-BAILEYS")
    evolution.post(f"{EVOLUTION_URL}/message/sendText/{INSTANCE}", status=201, json=SENT)
    body = json.dumps(
        {"to": "+5511999999999", "template": "interview_reminder", "language": "es", "variables": VARIABLES}
    )
    headers = {**auth(), "Idempotency-Key": "tpl-1"}
    first = api.http.post("/messages/template", headers=headers, body=body)
    second = api.http.post("/messages/template", headers=headers, body=body)
    assert first.status_code == second.status_code == 201
    assert _json(first)["type"] == "template"
    assert _json(first) == _json(second)
    assert second.headers["Idempotent-Replayed"] == "true"
    sent = json.loads(evolution.calls[1].request.body)
    validate_evolution_body("sendText", sent)
    assert "Ana" in sent["text"]
    record = _json(api.http.get(f"/messages/{_json(first)['id']}", headers=auth()))
    assert record["template"]["name"] == "interview_reminder"
    assert record["template"]["language"] == "es"


def test_a_template_on_a_cloud_api_instance_goes_out_as_the_meta_template(
    api: Any, evolution: RequestsMock
) -> None:
    _instances(evolution, "WHATSAPP-BUSINESS")
    evolution.post(f"{EVOLUTION_URL}/message/sendTemplate/{INSTANCE}", status=201, json=SENT)
    response = api.http.post(
        "/messages/template",
        headers=auth(),
        body=json.dumps(
            {
                "to": "+5511999999999",
                "template": "interview_reminder",
                "language": "en",
                "variables": VARIABLES,
            }
        ),
    )
    assert response.status_code == 201
    sent = json.loads(evolution.calls[1].request.body)
    validate_evolution_body("sendTemplate", sent)
    assert sent["name"] == "interview_reminder_v1"
    assert sent["language"] == "en_US"
    assert sent["components"][0]["parameters"][0] == {"type": "text", "text": "Ana"}


def test_a_graph_error_in_a_201_is_502_and_the_record_failed(api: Any, evolution: RequestsMock) -> None:
    _instances(evolution, "WHATSAPP-BUSINESS")
    evolution.post(
        f"{EVOLUTION_URL}/message/sendTemplate/{INSTANCE}",
        status=201,
        json={
            "message": "(#132001) Template name does not exist",
            "type": "OAuthException",
            "code": 132001,
            "fbtrace_id": "x",
        },
    )
    response = api.http.post(
        "/messages/template",
        headers=auth(),
        body=json.dumps({"to": "+5511999999999", "template": "interview_reminder", "variables": VARIABLES}),
    )
    assert response.status_code == 502
    record_id = _json(response)["Details"][0]["id"]
    assert _json(api.http.get(f"/messages/{record_id}", headers=auth()))["status"] == "failed"


def test_a_template_without_meta_mapping_on_cloud_api_is_409(
    service_env: Any, evolution: RequestsMock, tmp_path: Any
) -> None:
    from chalicelib import errors
    from chalicelib.deps import get_evolution, get_store
    from chalicelib.models.api import SendTemplateRequest
    from chalicelib.services import templates
    from chalicelib.services.messages import MessageService, request_fingerprint
    from chalicelib.settings import get_settings

    source = json.loads((templates.TEMPLATES_DIR / "interview_reminder.json").read_text())
    source.pop("meta")
    (tmp_path / "interview_reminder.json").write_text(json.dumps(source))
    get_store().update_instance_state(INSTANCE, integration="WHATSAPP-BUSINESS")
    service = MessageService(
        evolution=get_evolution(),
        store=get_store(),
        settings=get_settings(),
        templates_registry=templates.read_registry(tmp_path),
    )
    body = {"to": "+5511999999999", "template": "interview_reminder", "variables": VARIABLES}
    req = SendTemplateRequest.model_validate(body)
    with pytest.raises(errors.TemplateNotSupportedError):
        service.deliver(
            req,
            idempotency_key="tpl-409",
            fingerprint=request_fingerprint("/messages/template", body),
        )
    assert len(evolution.calls) == 0
    assert get_store().claim_idempotency(f"{INSTANCE}:tpl-409", "other", now=0, ttl_s=60).claimed, (
        "the key was released"
    )


SENT_AGAIN = {**SENT, "key": {**SENT["key"], "id": "3EB0TPL2"}}


def _template(api: Any) -> Any:
    body = {
        "to": "+5511999999999",
        "template": "interview_reminder",
        "language": "en",
        "variables": VARIABLES,
    }
    return api.http.post("/messages/template", headers=auth(), body=json.dumps(body))


def _sent_paths(evolution: RequestsMock) -> list[str]:
    return [call.request.url.split(EVOLUTION_URL)[1].split("?")[0] for call in evolution.calls]


def test_an_instance_created_again_by_connect_is_no_longer_taken_for_the_old_integration(
    api: Any, evolution: RequestsMock
) -> None:
    _instances(evolution, "WHATSAPP-BUSINESS")
    evolution.post(f"{EVOLUTION_URL}/message/sendTemplate/{INSTANCE}", status=201, json=SENT)
    assert _template(api).status_code == 201
    # the Cloud API instance was deleted behind our back; connect creates a Baileys one
    state_url = f"{EVOLUTION_URL}/instance/connectionState/{INSTANCE}"
    evolution.get(state_url, status=404, json={"status": 404, "response": {"message": ["does not exist"]}})
    evolution.post(
        f"{EVOLUTION_URL}/instance/create", status=201, json={"instance": {"instanceName": INSTANCE}}
    )
    evolution.get(
        f"{EVOLUTION_URL}/instance/connect/{INSTANCE}", json={"code": "2@abc", "base64": "", "count": 1}
    )
    # no usable QR in that answer, so /connect reads the state Evolution reports now
    evolution.get(state_url, json={"instance": {"instanceName": INSTANCE, "state": "connecting"}})
    assert api.http.post("/connect", headers=auth()).status_code == 200
    evolution.post(f"{EVOLUTION_URL}/message/sendText/{INSTANCE}", status=201, json=SENT_AGAIN)

    second = _template(api)

    assert second.status_code == 201
    assert _sent_paths(evolution)[-1] == f"/message/sendText/{INSTANCE}"
    assert _sent_paths(evolution).count("/instance/fetchInstances") == 1, "the store told the new integration"


def test_a_send_that_finds_the_instance_gone_forgets_its_integration_and_learns_it_again(
    api: Any, evolution: RequestsMock
) -> None:
    from chalicelib.deps import get_store

    _instances(evolution, "WHATSAPP-BUSINESS")
    evolution.post(
        f"{EVOLUTION_URL}/message/sendTemplate/{INSTANCE}",
        status=404,
        json={"status": 404, "response": {"message": ["The instance does not exist"]}},
    )
    gone = _template(api)
    assert gone.status_code == 404 and _json(gone)["Code"] == "InstanceNotFound"
    state = get_store().get_instance_state(INSTANCE)
    assert state is not None and state.integration is None
    _instances(evolution, "WHATSAPP-BAILEYS")
    evolution.post(f"{EVOLUTION_URL}/message/sendText/{INSTANCE}", status=201, json=SENT)

    again = _template(api)

    assert again.status_code == 201
    assert _sent_paths(evolution).count("/instance/fetchInstances") == 2
    assert _sent_paths(evolution)[-1] == f"/message/sendText/{INSTANCE}"
