"""Third-party Python clients of Evolution, driven against the real server and the simulator:
each must get the same outcome from both. Their own bugs are noted here, not worked around.

- ``evolutionapi`` 0.1.2 (the official SDK): ``post`` returns ``response.json()`` whatever the
  status (errors come back as dicts, and a non-JSON 404 crashed it before the simulator answered
  JSON); no request has a timeout; ``send_media`` ignores ``MediaMessage.media`` (only an uploaded
  file reaches Evolution); ``check_is_whatsapp_numbers`` posts to ``chat/checkIsWhatsappNumber``,
  a route 2.3.7 does not have (JSON 404).
- ``evolution-whatsapp`` 0.1.1: retries POSTs on 500/502/503/504, so a send Evolution may have
  performed can go out again (three attempts; the simulator's log of sends shows them).
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from evolution_api import EvoClient
from evolutionapi.client import EvolutionClient as SdkClient
from evolutionapi.models.chat import CheckIsWhatsappNumber
from evolutionapi.models.instance import InstanceConfig
from evolutionapi.models.message import LocationMessage, MediaMessage, ReactionMessage, TextMessage

from devtools.evolution_simulator import SimConfig, Simulator
from tests.contract.conftest import RealEvolution
from tests.contract.corpus import Target, mask
from tests.contract.helpers import PNG_1X1, RECIPIENT, UNREACHABLE_MEDIA, create_raw, delete_instance

pytestmark = pytest.mark.contract
Outcome = tuple[Any, ...]
REACTION_KEY = {"remoteJid": f"{RECIPIENT}@s.whatsapp.net", "fromMe": True, "id": "3EB0C0BD05DCA97A7C09CB"}


def _outcome(target: Target, call: Callable[[], Any]) -> Outcome:
    try:
        return ("answered", mask(call(), target))
    except Exception as exc:  # noqa: BLE001 - the outcome to compare is whatever the client raised
        return ("raised", type(exc).__name__, mask(str(exc), target))


@pytest.fixture
def simulator(real_evolution: RealEvolution) -> Iterator[Simulator]:
    with Simulator(SimConfig(api_key=real_evolution.api_key, port=0, save_is_on_whatsapp=True)) as simulator:
        yield simulator


def _targets(real: RealEvolution, simulator: Simulator) -> list[Target]:
    prefix = "ct" + secrets.token_hex(4)
    names = {"never": f"{prefix}-sdk", "closed": f"{prefix}-evo"}
    return [
        Target("real", real.url, real.api_key, dict(names), "http://127.0.0.1:9/hook"),
        Target("sim", simulator.url, real.api_key, dict(names), "http://127.0.0.1:9/hook"),
    ]


def drive_evolutionapi(target: Target) -> dict[str, Outcome]:
    """The official SDK on a never-connected instance it creates itself."""
    sdk = SdkClient(target.base_url, target.api_key)
    name, key = target.names["never"], target.api_key
    image = MediaMessage(
        number=RECIPIENT, mediatype="image", caption="c", mimetype="image/png", fileName="p.png"
    )
    steps: dict[str, Callable[[], Any]] = {
        "create": lambda: sdk.instances.create_instance(
            InstanceConfig(instanceName=name, integration="WHATSAPP-BAILEYS", qrcode=False)
        ),
        "create-again": lambda: sdk.instances.create_instance(InstanceConfig(instanceName=name)),
        "state": lambda: sdk.instance_operations.get_connection_state(name, key),
        "state-bad-key": lambda: sdk.instance_operations.get_connection_state(name, "not-the-key"),
        "send-text": lambda: sdk.messages.send_text(name, TextMessage(number=RECIPIENT, text="Hola"), key),
        "send-media-file": lambda: sdk.messages.send_media(
            name, image, key, file=io.BytesIO(base64.b64decode(PNG_1X1))
        ),
        "send-media-url-dropped-by-the-sdk": lambda: sdk.messages.send_media(
            name,
            MediaMessage(
                number=RECIPIENT,
                mediatype="image",
                media={"url": UNREACHABLE_MEDIA},
                caption="c",
                mimetype="image/png",
                fileName="p.png",
            ),
            key,
        ),
        "send-audio-file": lambda: sdk.messages.send_whatsapp_audio(
            name, {"number": RECIPIENT}, key, file=io.BytesIO(b"OggS\x00\x02" + bytes(40))
        ),
        "send-location": lambda: sdk.messages.send_location(
            name, LocationMessage(number=RECIPIENT, name="n", address="a", latitude=1.5, longitude=2.5), key
        ),
        "send-reaction": lambda: sdk.messages.send_reaction(name, ReactionMessage(REACTION_KEY, "👍"), key),
        "check-numbers-wrong-route": lambda: sdk.chat.check_is_whatsapp_numbers(
            name, CheckIsWhatsappNumber(numbers=[RECIPIENT]), key
        ),
        "connect": lambda: sdk.instance_operations.connect(name, key),
        "logout": lambda: sdk.instance_operations.logout(name, key),
        "delete": lambda: sdk.instance_operations.delete(name, key),
    }
    return {step: _outcome(target, call) for step, call in steps.items()}


def drive_evolution_whatsapp(target: Target) -> dict[str, Outcome]:
    """``evolution-whatsapp`` on an instance whose pairing was logged out (closed)."""
    name = target.names["closed"]
    with EvoClient(target.base_url, target.api_key, name, timeout=30) as client:
        steps: dict[str, Callable[[], Any]] = {
            "state": client.connection_state,
            "send-text": lambda: client.send_text(RECIPIENT, "Hola"),
            "send-media-base64": lambda: client.send_media(RECIPIENT, "image", "image/png", PNG_1X1, "p.png"),
            "send-media-url": lambda: client.send_media(
                RECIPIENT, "image", "image/png", UNREACHABLE_MEDIA, "p.png"
            ),
            "send-audio": lambda: client.send_whatsapp_audio(RECIPIENT, PNG_1X1),
            "send-location": lambda: client.send_location(
                RECIPIENT, latitude=1.5, longitude=2.5, name="n", address="a"
            ),
            "send-reaction": lambda: client.send_reaction(REACTION_KEY, "👍"),
            "check-numbers": lambda: client.check_is_whatsapp([RECIPIENT]),
        }
        return {step: _outcome(target, call) for step, call in steps.items()}


def _mismatches(real: dict[str, Outcome], sim: dict[str, Outcome]) -> dict[str, tuple[Outcome, Outcome]]:
    return {step: (real[step], sim[step]) for step in real if real[step] != sim[step]}


def test_the_official_sdk_gets_the_same_outcomes_from_the_simulator_as_from_the_real_server(
    real_evolution: RealEvolution, simulator: Simulator
) -> None:
    outcomes = {}
    for target in _targets(real_evolution, simulator):
        try:
            outcomes[target.label] = drive_evolutionapi(target)
        finally:
            delete_instance_at(target)
    assert _mismatches(outcomes["real"], outcomes["sim"]) == {}
    real = outcomes["real"]
    assert (
        real["send-text"][1]["response"]["message"]
        == "Cannot read properties of undefined (reading 'onWhatsApp')"
    )
    assert real["send-media-url-dropped-by-the-sdk"][1]["response"]["message"] == [
        "Owned media must be a url or base64"
    ]
    assert real["check-numbers-wrong-route"][1]["status"] == 404  # a dict, not a crash on an HTML page


def test_evolution_whatsapp_gets_the_same_outcomes_and_resends_on_500(
    real_evolution: RealEvolution, simulator: Simulator
) -> None:
    outcomes = {}
    for target in _targets(real_evolution, simulator):
        name = target.names["closed"]
        real = RealEvolution(target.base_url, target.api_key, real_evolution.workdir)
        try:
            assert create_raw(real, name, qrcode=True).status_code == 201
            requests.delete(
                f"{target.base_url}/instance/logout/{name}", headers={"apikey": target.api_key}, timeout=30
            )
            outcomes[target.label] = drive_evolution_whatsapp(target)
        finally:
            delete_instance(real, name)
    assert _mismatches(outcomes["real"], outcomes["sim"]) == {}
    assert outcomes["real"]["send-text"][:2] == ("raised", "EvolutionAPIError")
    sent = requests.get(f"{simulator.url}/_sim/sent", timeout=5).json()
    texts = [record for record in sent if record["route"] == "sendText"]
    assert len(texts) == 3 and {record["status"] for record in texts} == {
        500
    }  # its bug: a POST sent three times


def delete_instance_at(target: Target) -> None:
    requests.delete(
        f"{target.base_url}/instance/delete/{target.names['never']}",
        headers={"apikey": target.api_key},
        timeout=30,
    )
