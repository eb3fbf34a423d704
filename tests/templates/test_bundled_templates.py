"""The templates shipped in chalicelib/templates: each renders in each language, and the checker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.services.templates import (
    TEMPLATES_DIR,
    build_meta_components,
    get_template,
    list_templates,
    meta_template,
    render,
)
from tests.conftest import REPO, validate_evolution_body

SHIPPED = ["document_request", "interview_reminder", "job_offer"]
CASES = [(t["name"], language) for t in list_templates() for language in t["languages"]]


def examples(name: str, *, optional: bool = True) -> dict[str, Any]:
    variables = get_template(name)["variables"]
    return {k: v["example"] for k, v in variables.items() if optional or v["required"]}


def test_the_three_recruiting_templates_ship_in_spanish_by_default_and_english() -> None:
    listed = list_templates()
    assert [t["name"] for t in listed] == SHIPPED
    assert all(t["languages"] == ["es", "en"] for t in listed)
    assert all(t["meta"] is not None for t in listed)


@pytest.mark.parametrize(("name", "language"), CASES)
def test_every_template_renders_its_examples_in_every_language(name: str, language: str) -> None:
    rendered = render(name, language, examples(name))
    assert rendered.language == language
    for value in examples(name).values():
        assert value in rendered.text
    assert "{" not in rendered.text and "}" not in rendered.text
    assert len(rendered.text) <= 1024  # Meta's template body limit, with room to spare for WhatsApp
    assert "\n\n\n" not in rendered.text


@pytest.mark.parametrize(("name", "language"), CASES)
def test_every_template_reads_well_without_its_optional_variables(name: str, language: str) -> None:
    full = render(name, language, examples(name)).text
    short = render(name, language, examples(name, optional=False)).text
    assert len(short) < len(full)
    assert "\n\n\n" not in short
    assert not any(line.rstrip().endswith(":*") for line in short.splitlines())


@pytest.mark.parametrize(("name", "language"), CASES)
def test_every_template_maps_to_a_meta_template_with_a_valid_send_body(name: str, language: str) -> None:
    meta_name, meta_language, components = meta_template(name, language, examples(name))
    assert meta_name == f"{name}_v1"
    assert meta_language == {"es": "es", "en": "en_US"}[language]
    body = {"number": "5215512345678", "name": meta_name, "language": meta_language}
    validate_evolution_body("sendTemplate", {**body, "components": components})
    parameters = components[0]["parameters"]
    mapping = get_template(name)["meta"]["body_parameters"]
    assert [p["text"] for p in parameters] == [examples(name)[v] for v in mapping]


def test_the_rendered_text_is_a_valid_send_text_body() -> None:
    text = render("interview_reminder", "es_MX", examples("interview_reminder")).text
    validate_evolution_body("sendText", {"number": "5215512345678", "text": text})


def test_an_unavailable_language_falls_back_to_spanish() -> None:
    rendered = render("job_offer", "pt-BR", examples("job_offer"))
    assert rendered.language == "es"
    assert build_meta_components(rendered)[0]["type"] == "body"


def run_checker(*args: str) -> subprocess.CompletedProcess[str]:
    script = REPO / "scripts" / "check_templates.py"
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(script), *args], capture_output=True, text=True, check=False
    )


def test_the_checker_passes_the_shipped_templates_with_a_one_line_summary() -> None:
    result = run_checker()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "templates-check: 3 templates OK (document_request, interview_reminder, job_offer; languages en, es)"
    ]


def test_the_checker_fails_listing_every_problem(tmp_path: Path) -> None:
    shipped = (TEMPLATES_DIR / "job_offer.json").read_text(encoding="utf-8")
    (tmp_path / "job_offer.json").write_text(
        shipped.replace("{company}", "{company.__class__}").replace(
            '"default_language": "es"', '"default_language": "fr"'
        ),
        encoding="utf-8",
    )
    result = run_checker(str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert "job_offer.json: default_language 'fr' has no body" in lines
    assert any("invalid placeholder '{company.__class__}'" in line for line in lines)
    assert lines[-1].startswith("templates-check: ")
