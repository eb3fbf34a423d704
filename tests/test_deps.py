"""The wiring: each factory builds its real service over the shared collaborators; reset forgets all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import deps
from chalicelib.evolution import EvolutionClient
from chalicelib.services import templates
from chalicelib.services.health import HealthService
from chalicelib.services.instances import InstanceService
from chalicelib.services.messages import MessageService
from chalicelib.services.webhooks import WebhookService
from chalicelib.settings import get_settings
from chalicelib.store.sqlite import SQLiteStore


def test_each_factory_returns_its_service_over_the_same_process_collaborators(service_env: Path) -> None:
    messages, instances = deps.message_service(), deps.instance_service()
    health, webhooks = deps.health_service(), deps.webhook_service()

    assert isinstance(messages, MessageService) and isinstance(instances, InstanceService)
    assert isinstance(health, HealthService) and isinstance(webhooks, WebhookService)
    assert isinstance(deps.get_evolution(), EvolutionClient)
    assert isinstance(deps.get_store(), SQLiteStore)
    assert messages.store is instances.store is health.store is webhooks.store is deps.get_store()
    assert messages.evolution is instances.evolution is health.evolution is deps.get_evolution()
    assert messages.integrations is instances.integrations is deps.get_integrations()
    assert webhooks.instance == get_settings().INSTANCE_NAME


def test_reset_forgets_settings_collaborators_the_learnt_integration_and_the_bundled_templates(
    service_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, evolution, store = get_settings(), deps.get_evolution(), deps.get_store()
    integrations = deps.get_integrations()
    integrations.remember(settings.INSTANCE_NAME, "WHATSAPP-BUSINESS")
    registry = templates.load_registry()
    monkeypatch.setenv("INSTANCE_NAME", "another-instance")

    deps.reset()

    assert integrations.get(settings.INSTANCE_NAME) is None, "a service still holding it sees it forgotten"
    assert deps.get_integrations() is not integrations
    assert get_settings() is not settings and get_settings().INSTANCE_NAME == "another-instance"
    assert deps.get_evolution() is not evolution
    assert deps.get_store() is not store
    assert templates.load_registry() is not registry


def test_reset_also_forgets_the_caches_modules_register_the_qr_page_and_the_openapi_document(
    api: Any,
) -> None:
    from chalicelib.routes import docs, qr

    assert api.http.get("/openapi.json").status_code == 200
    assert api.http.get("/connect/qr").status_code == 200
    assert docs.document.cache_info().currsize == qr.page.cache_info().currsize == 1

    deps.reset()

    assert docs.document.cache_info().currsize == qr.page.cache_info().currsize == 0


def test_a_registered_clear_runs_on_every_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    cleared: list[str] = []
    monkeypatch.setattr(deps, "_RESETS", [])
    deps.on_reset(lambda: cleared.append("mine"))
    deps.reset()
    deps.reset()
    assert cleared == ["mine", "mine"]
