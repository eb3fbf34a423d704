"""The README cannot rot: its runnable blocks run as written against `make run`'s processes, and the
commands and settings it names exist."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.runner import clean_env, copy_checkout, start_runner, two_free_ports

README = REPO / "README.md"
MARKER = "<!-- runnable: tests/test_readme.py runs this block as written -->"
SEPARATOR = "@@readme-command@@"


def runnable_blocks(text: str) -> list[str]:
    """The ```sh blocks that follow the marker, in order."""
    blocks = []
    for part in text.split(MARKER)[1:]:
        found = re.match(r"\s*```sh\n(.*?)\n```", part, re.DOTALL)
        assert found, "the marker must be followed by a ```sh block"
        blocks.append(found.group(1))
    return blocks


def commands(block: str) -> list[str]:
    """One entry per shell command: continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


BLOCKS = runnable_blocks(README.read_text())
COMMANDS = [command for block in BLOCKS for command in commands(block)]


# -- what can be checked without running anything --------------------------------------------------


def test_the_readme_has_a_walk_through_and_a_routes_block_to_run() -> None:
    assert len(BLOCKS) == 2
    assert any("/_sim/instances/manpower-whatsapp/scan" in c for c in COMMANDS)
    assert any("/messages/template" in c for c in COMMANDS)
    assert any("/preview" in c for c in COMMANDS)


def test_the_runnable_commands_have_no_placeholders_and_need_no_extra_tools() -> None:
    for command in COMMANDS:
        assert not re.search(r"<[a-z_ ]+>", command), command
        assert "…" not in command, command
        assert not re.search(r"\bjq\b", command), command
        assert "127.0.0.1:8000" not in command and "127.0.0.1:8081" not in command, (
            "ports come from $API and $SIM, so PORT and SIMULATOR_PORT are honoured"
        )


def test_every_request_with_a_body_says_it_is_json() -> None:
    for command in COMMANDS:
        if command.startswith("curl") and " -d " in command:
            assert '-H "Content-Type: application/json"' in command, command


def test_every_make_target_the_readme_names_exists() -> None:
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README.read_text()))
    assert named, "the README names make targets"
    assert named <= targets, named - targets


def test_the_readme_documents_ports_health_states_and_the_language_fallback() -> None:
    text = README.read_text()
    for needed in ("`PORT`", "`SIMULATOR_PORT`", "`degraded`", "`down`", "ServiceMisconfigured"):
        assert needed in text, needed
    assert "falls back to the template's default language" in text
    assert "GET /_sim/" in text


# -- running the blocks -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(command, its output) for every runnable command, run by one bash in a fresh checkout while
    `make run`'s runner serves it on free ports."""
    checkout = copy_checkout(tmp_path_factory.mktemp("readme"))
    port, simulator_port = two_free_ports()
    env = clean_env()
    runner = start_runner(checkout, env, port, simulator_port)
    script = "set -eu\n" + "".join(
        f"printf '\\n{SEPARATOR}\\n'\n{command}\n" for block in BLOCKS for command in commands(block)
    )
    try:
        runner.wait_until_serving()
        done = subprocess.run(  # noqa: S603 - bash running the README's own commands
            ["bash", "-c", script],  # noqa: S607
            cwd=checkout,
            env={**env, "PORT": str(port), "SIMULATOR_PORT": str(simulator_port)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        assert runner.stop(signal.SIGTERM) == 0
    assert done.returncode == 0, f"{done.stderr}\n{done.stdout[-3000:]}\n{runner.output()[-3000:]}"
    pieces = done.stdout.split(f"\n{SEPARATOR}\n")[1:]
    assert len(pieces) == len(COMMANDS), done.stdout
    return list(zip(COMMANDS, pieces, strict=True))


def _json_of(outputs: list[tuple[str, str]], fragment: str, index: int = 0) -> dict[str, object]:
    matching = [
        out for command, out in outputs if fragment in command and not command.startswith(("ID=", "SENT="))
    ]
    data: dict[str, object] = json.loads(matching[index])
    return data


@pytest.mark.e2e
def test_the_readme_blocks_run_as_written_against_make_runs_processes(
    outputs: list[tuple[str, str]],
) -> None:
    health = [json.loads(out) for command, out in outputs if command == "curl -s $API/health"]
    assert [h["status"] for h in health] == ["degraded", "ok", "ok"], "degraded until a phone is linked"
    connect = _json_of(outputs, "$API/connect")
    assert connect["state"] in ("connecting", "open")
    assert _json_of(outputs, "/scan")["instance"] == {"instanceName": "manpower-whatsapp", "state": "open"}
    assert _json_of(outputs, "$API/status") == {
        "instance": "manpower-whatsapp",
        "state": "open",
        "connected": True,
    }
    sent = _json_of(outputs, 'echo "$SENT"')
    assert str(sent["id"]).startswith("msg_")
    assert sent["status"] == "pending"
    looked_up = _json_of(outputs, "$API/messages/$ID")
    assert looked_up["id"] == sent["id"]
    assert looked_up["status"] in ("sent", "delivered", "read")
    [replayed] = [out for command, out in outputs if command.startswith("curl -s -i")]
    head, _, body = replayed.partition("\n\n")  # (text mode has turned CRLF into LF)
    assert head.startswith("HTTP/1.1 201")
    assert "Idempotent-Replayed: true" in head
    assert json.loads(body) == sent, "the same answer, nothing re-sent"
    replies = _json_of(outputs, "direction=inbound")
    assert [item["text"] for item in replies["items"]] == ["Gracias!"]  # type: ignore[index]


@pytest.mark.e2e
def test_the_walk_through_stores_an_inbound_document_and_downloads_it_by_its_link(
    outputs: list[tuple[str, str]],
) -> None:
    record = _json_of(outputs, "$API/messages/$MEDIA")
    media = record["media"]
    assert record["type"] == "document" and record["direction"] == "inbound"
    assert isinstance(media, dict) and media["stored"] is True
    assert media["size"] == 45 and len(str(media["sha256"])) == 64
    [head] = [out for command, out in outputs if command == "head -c 8 cv.pdf"]
    assert head == "%PDF-1.4", "the file downloaded by the signed link, without a key"


@pytest.mark.e2e
def test_the_routes_examples_answer_without_errors(outputs: list[tuple[str, str]]) -> None:
    for command, out in outputs:
        if command.startswith("curl -s") and not command.startswith("curl -s -i"):
            body = json.loads(out)
            assert "Code" not in body, (command, body)
    pairing = _json_of(outputs, '{"phone"')
    assert pairing["state"] == "open"
    document = _json_of(outputs, '"media"')
    assert document["type"] == "document"
    template = _json_of(outputs, "$API/messages/template")
    assert template["type"] == "template"
    assert template["template"] == {"name": "interview_reminder", "language": "es"}
    preview = _json_of(outputs, "/preview")
    assert preview["language"] == "es", "fr is not available: the default language"
    assert str(preview["text"]).startswith("Hola Ana")


def test_the_block_splitter_joins_continuations_and_drops_comments() -> None:
    block = "A=1\n# a comment\ncurl -s \\\n     -d '{\"x\": 1}' $API/x\n\n"
    assert commands(block) == ["A=1", "curl -s       -d '{\"x\": 1}' $API/x"]


def test_runnable_blocks_need_the_marker_right_before_them() -> None:
    text = f"intro\n{MARKER}\n```sh\necho one\n```\n\n```sh\necho ignored\n```\n"
    assert runnable_blocks(text) == ["echo one"]


def test_the_checkout_copy_holds_what_make_run_needs(tmp_path: Path) -> None:
    copied = copy_checkout(tmp_path)
    for needed in ("app.py", "chalicelib/settings.py", ".chalice/config.json", "devtools/run_local.py"):
        assert (copied / needed).is_file(), needed
    assert not (copied / ".venv").exists()
