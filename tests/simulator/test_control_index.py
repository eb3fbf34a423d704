"""``GET /_sim/``: the control API lists its own endpoints (the link `make run` prints)."""

from __future__ import annotations

from tests.simulator.conftest import Client


def test_the_control_index_lists_every_control_endpoint_as_json(client: Client) -> None:
    for path in ("/_sim/", "/_sim"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("application/json")
        listed = {(e["method"], e["path"]) for e in answer.json()["control"]}
        assert ("POST", "/_sim/instances/{instance}/scan") in listed
        assert ("POST", "/_sim/instances/{instance}/inbound") in listed
        assert ("GET", "/_sim/sent") in listed
        assert ("POST", "/_sim/reset") in listed
        assert all(p.startswith("/_sim/") for _, p in listed)


def test_every_listed_get_endpoint_answers(client: Client) -> None:
    for entry in client.get("/_sim/").json()["control"]:
        if entry["method"] == "GET":
            assert client.get(entry["path"]).status_code == 200, entry


def test_the_index_is_not_an_evolution_route(client: Client) -> None:
    assert client.post("/_sim/").status_code == 404
