"""The service's Evolution client against the real Evolution 2.3.7: every operation it uses and
every error shape it must read (guards, schema 400s, sends to sessions that are not open,
Cloud-API-only routes). The service no longer calls restart or whatsappNumbers; the differential
test covers their shapes for the simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from chalicelib.evolution import EvolutionClient
from chalicelib.evolution import errors as evo
from chalicelib.evolution.wire import WebhookConfig
from tests.contract.conftest import RealEvolution
from tests.contract.helpers import PNG_1X1, RECIPIENT, UNREACHABLE_MEDIA, create_raw, instances, unique

pytestmark = pytest.mark.contract


@pytest.fixture
def client(real_evolution: RealEvolution) -> EvolutionClient:
    return EvolutionClient(real_evolution.url, real_evolution.api_key, read_timeout=15.0)


@pytest.fixture
def names(real_evolution: RealEvolution) -> Iterator[list[str]]:
    with instances(real_evolution) as created:
        yield created


def _find_webhook(real: RealEvolution, name: str) -> Any:
    """``GET /webhook/find`` (the service only sets it), to read back what was set."""
    answer = requests.get(f"{real.url}/webhook/find/{name}", headers={"apikey": real.api_key}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def _wait_for_state(client: EvolutionClient, name: str, wanted: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    state = client.connection_state(name)
    while state != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        state = client.connection_state(name)
    return state


def test_the_instance_lifecycle_reads_as_the_client_expects(
    client: EvolutionClient, names: list[str]
) -> None:
    name = unique("life")
    names.append(name)
    started = time.monotonic()
    created = client.create_instance(name)
    assert time.monotonic() - started >= 4.0  # create with qrcode:true holds about 5 s
    assert created["instance"]["instanceName"] == name
    assert created["instance"]["status"] == "connecting"
    assert created["qrcode"] == {"count": 0}  # no WhatsApp behind the kit: never a QR

    rows = client.fetch_instances(name)
    assert [row["name"] for row in rows] == [name]
    assert {"createdAt", "updatedAt", "instanceId"} <= set(rows[0]["Setting"])
    assert client.connection_state(name) == "connecting"

    pairing = client.connect(name)
    assert (pairing.state, pairing.qr_code, pairing.attempt) == ("connecting", None, 0)
    assert _wait_for_state(client, name, "connecting") == "connecting"

    assert client.logout(name)["response"] == {"message": "Instance logged out"}
    assert client.connection_state(name) == "close"
    with pytest.raises(evo.EvolutionNotConnectedError):
        client.logout(name)  # 400 'The "…" instance is not connected'
    again = client.connect(name)  # connect of a closed session starts it again
    assert again.state == "connecting"


def test_connect_of_a_closed_session_is_held_about_two_seconds(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    name = unique("hold")
    names.append(name)
    assert create_raw(real_evolution, name, qrcode=False).status_code == 201
    assert client.connection_state(name) == "close"
    started = time.monotonic()
    result = client.connect(name)
    assert time.monotonic() - started >= 1.8
    assert result.state == "connecting" and result.qr_code is None


def test_the_webhook_is_set_and_found(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    name = unique("hook")
    names.append(name)
    assert create_raw(real_evolution, name, qrcode=False).status_code == 201
    assert _find_webhook(real_evolution, name) is None
    config = WebhookConfig(
        url="http://127.0.0.1:9/webhook", events=["CONNECTION_UPDATE"], headers={"X-Webhook-Secret": "s"}
    )
    client.set_webhook(name, config)
    found = _find_webhook(real_evolution, name)
    assert found is not None
    assert (found["url"], found["enabled"], found["events"]) == (
        "http://127.0.0.1:9/webhook",
        True,
        ["CONNECTION_UPDATE"],
    )
    assert found["headers"] == {"X-Webhook-Secret": "s"}


def test_guards_read_as_auth_not_found_and_name_taken(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    name = unique("guard")
    names.append(name)
    assert create_raw(real_evolution, name, qrcode=False).status_code == 201
    with pytest.raises(evo.EvolutionAuthError):
        EvolutionClient(real_evolution.url, "not-the-key").connection_state(name)
    for call in (client.connection_state, client.connect, client.logout):
        with pytest.raises(evo.EvolutionNotFoundError):
            call(unique("missing"))
    with pytest.raises(evo.EvolutionNameTakenError):
        client.create_instance(name)


def test_sends_to_sessions_that_are_not_open_read_as_not_connected(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    never, closed = unique("never"), unique("closed")
    names.extend([never, closed])
    assert create_raw(real_evolution, never, qrcode=False).status_code == 201
    assert create_raw(real_evolution, closed, qrcode=True).status_code == 201
    client.logout(closed)
    for name in (never, closed):
        sends = [
            lambda n=name: client.send_text(n, RECIPIENT, "Hola"),
            lambda n=name: client.send_media(n, RECIPIENT, mediatype="image", media=PNG_1X1),
            lambda n=name: client.send_audio(n, RECIPIENT, PNG_1X1),
            lambda n=name: client.send_location(
                n, RECIPIENT, latitude=1.5, longitude=2.5, name="n", address="a"
            ),
            lambda n=name: client.send_reaction(
                n,
                message_id="3EB0C0BD05DCA97A7C09CB",
                remote_jid=f"{RECIPIENT}@s.whatsapp.net",
                from_me=True,
                emoji="👍",
            ),
        ]
        for send in sends:
            with pytest.raises(evo.EvolutionNotConnectedError):
                send()


def test_media_evolution_cannot_download_is_a_server_error_not_a_closed_session(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    name = unique("media")
    names.append(name)
    assert create_raw(real_evolution, name, qrcode=True).status_code == 201
    with pytest.raises(evo.EvolutionServerError) as caught:
        client.send_media(name, RECIPIENT, mediatype="image", media=UNREACHABLE_MEDIA)
    assert not isinstance(caught.value, evo.EvolutionNotConnectedError)
    assert "ECONNREFUSED" in str(caught.value)


def test_bad_bodies_read_as_bad_requests(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    name = unique("bad")
    names.append(name)
    assert create_raw(real_evolution, name, qrcode=False).status_code == 201
    with pytest.raises(evo.EvolutionBadRequestError) as caught:
        client.send_reaction(
            name, message_id="3EB0", remote_jid=f"{RECIPIENT}@s.whatsapp.net", from_me=True, emoji="ok"
        )
    assert caught.value.messages == ["Reaction must be a single emoji or empty string"]
    with pytest.raises(evo.EvolutionSchemaError):
        client.set_webhook(name, WebhookConfig(url="http://127.0.0.1:9/webhook", events=["NOT_AN_EVENT"]))


def test_a_cloud_api_only_route_on_a_baileys_instance_is_a_server_error(
    client: EvolutionClient, names: list[str], real_evolution: RealEvolution
) -> None:
    name = unique("cloud")
    names.append(name)
    assert create_raw(real_evolution, name, qrcode=False).status_code == 201
    with pytest.raises(evo.EvolutionServerError) as caught:
        client.send_template(name, RECIPIENT, name="hello_world", language="en_US")
    assert caught.value.messages == ["Method not available in the Baileys service"]
