"""Template loading, strict rendering, Meta mapping and the public listing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import NotFoundError, TemplateError, TemplateNotSupportedError
from chalicelib.services.templates import (
    Registry,
    TemplateDefinitionError,
    build_meta_components,
    get_template,
    list_templates,
    load_registry,
    meta_template,
    preview,
    render,
)

GREETING: dict[str, Any] = {
    "name": "greeting",
    "description": "A test appointment greeting.",
    "default_language": "es",
    "bodies": {
        "es": "Hola {name}\nTu cita: {date}\nCon: {host}\n\nHasta pronto",
        "en": "Hi {name}\nYour appointment: {date}\nWith: {host}\n\nSee you",
        "pt_BR": "Olá {name}\nSua consulta: {date}\nCom: {host}\n\nAté logo",
    },
    "variables": {
        "name": {"required": True, "max_length": 20, "example": "Ana"},
        "date": {"required": True, "max_length": 20, "example": "2026-12-01"},
        "host": {"required": False, "max_length": 20, "example": "Laura"},
    },
    "meta": {
        "name": "greeting_v1",
        "languages": {"es": "es", "en": "en_US"},
        "body_parameters": ["date", "name"],
    },
}
PLAIN: dict[str, Any] = {
    "name": "plain",
    "description": "No Meta mapping, no variables.",
    "default_language": "en",
    "bodies": {"en": "Literal {{braces}} stay"},
    "variables": {},
}
VALUES = {"name": "Ana", "date": "2026-12-01", "host": "Laura"}


def write(directory: Path, definition: dict[str, Any], file_name: str | None = None) -> Path:
    path = directory / (file_name or f"{definition['name']}.json")
    path.write_text(json.dumps(definition), encoding="utf-8")
    return path


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    write(tmp_path, GREETING)
    write(tmp_path, PLAIN)
    return load_registry(tmp_path)


def problems_of(tmp_path: Path, definition: dict[str, Any], file_name: str | None = None) -> str:
    write(tmp_path, definition, file_name)
    with pytest.raises(TemplateDefinitionError) as caught:
        load_registry(tmp_path)
    return "\n".join(caught.value.problems)


def details_of(registry: Registry, name: str, language: str | None, variables: Any) -> list[Any]:
    with pytest.raises(TemplateError) as caught:
        render(name, language, variables, registry=registry)
    return caught.value.details or []


# --- rendering -------------------------------------------------------------------------------


def test_render_fills_every_placeholder_of_the_requested_language(registry: Registry) -> None:
    rendered = render("greeting", "en", VALUES, registry=registry)
    assert rendered.text == "Hi Ana\nYour appointment: 2026-12-01\nWith: Laura\n\nSee you"
    assert (rendered.language, rendered.template) == ("en", "greeting")
    assert (rendered.meta_name, rendered.meta_language) == ("greeting_v1", "en_US")
    assert rendered.meta_parameters == ("2026-12-01", "Ana")


def test_no_language_means_the_template_default(registry: Registry) -> None:
    assert render("greeting", None, VALUES, registry=registry).language == "es"


@pytest.mark.parametrize(
    ("requested", "used"),
    [
        ("es_MX", "es"),
        ("es-mx", "es"),
        ("EN", "en"),
        ("en-GB", "en"),
        ("pt-br", "pt_BR"),
        ("PT_BR", "pt_BR"),
        ("pt", "es"),  # a region body is never chosen for a bare language: default instead
        ("fr", "es"),
        ("fr_CA", "es"),
    ],
)
def test_a_well_formed_language_falls_back_to_its_prefix_then_to_the_default(
    registry: Registry, requested: str, used: str
) -> None:
    assert render("greeting", requested, VALUES, registry=registry).language == used


@pytest.mark.parametrize("language", ["", "e", "español", "es_", "es__MX", "es MX", "1es", "x" * 20])
def test_a_malformed_language_is_a_template_error(registry: Registry, language: str) -> None:
    assert details_of(registry, "greeting", language, VALUES) == [
        {"loc": ["language"], "msg": "Must be a language code like 'es' or 'es_MX'."}
    ]


def test_an_absent_optional_variable_drops_its_whole_line(registry: Registry) -> None:
    rendered = render("greeting", "es", {"name": "Ana", "date": "mañana"}, registry=registry)
    assert rendered.text == "Hola Ana\nTu cita: mañana\n\nHasta pronto"


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_null_or_blank_optional_variable_counts_as_absent(registry: Registry, blank: str | None) -> None:
    text = render("greeting", "es", {**VALUES, "host": blank}, registry=registry).text
    assert "Con:" not in text


def test_values_are_stripped_and_their_inner_whitespace_collapsed(registry: Registry) -> None:
    variables = {"name": "  Ana\n María ", "date": "1\t de\r\ndic"}
    text = render("greeting", "es", variables, registry=registry).text
    assert text.startswith("Hola Ana María\nTu cita: 1 de dic\n")


def test_numbers_are_accepted_and_stringified(registry: Registry) -> None:
    rendered = render("greeting", "es", {"name": 42, "date": 1.5}, registry=registry)
    assert rendered.text.startswith("Hola 42\nTu cita: 1.5\n")
    assert rendered.meta_parameters == ("1.5", "42")


def test_escaped_braces_render_as_literal_braces(registry: Registry) -> None:
    assert render("plain", None, {}, registry=registry).text == "Literal {braces} stay"


@pytest.mark.parametrize(
    "attack",
    ["{date}", "{0.__class__}", "${{7*7}}", "{name!r}", "{{name}}", "%(name)s", "{"],
)
def test_values_that_look_like_placeholders_are_inserted_literally(registry: Registry, attack: str) -> None:
    rendered = render("greeting", "en", {"name": attack, "date": "{name}"}, registry=registry)
    assert rendered.text.startswith(f"Hi {attack}\nYour appointment: {{name}}\n")
    assert rendered.meta_parameters == ("{name}", attack)


def test_preview_answers_text_and_language(registry: Registry) -> None:
    assert preview("greeting", "en-US", VALUES, registry=registry) == {
        "text": "Hi Ana\nYour appointment: 2026-12-01\nWith: Laura\n\nSee you",
        "language": "en",
    }


# --- rendering errors ------------------------------------------------------------------------


def test_an_unknown_template_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="no_such"):
        render("no_such", "es", VALUES, registry=registry)


def test_a_missing_required_variable_is_reported_at_its_location(registry: Registry) -> None:
    assert details_of(registry, "greeting", "es", {"name": "Ana"}) == [
        {"loc": ["variables", "date"], "msg": "Required variable is missing."}
    ]


def test_an_empty_required_variable_is_refused(registry: Registry) -> None:
    assert details_of(registry, "greeting", "es", {"name": " ", "date": "x"}) == [
        {"loc": ["variables", "name"], "msg": "Must not be empty."}
    ]


def test_an_unknown_variable_is_refused_and_the_expected_ones_named(registry: Registry) -> None:
    assert details_of(registry, "greeting", "es", {**VALUES, "salary": "1"}) == [
        {
            "loc": ["variables", "salary"],
            "msg": "Unknown variable; this template takes name, date, host.",
        }
    ]


def test_a_value_longer_than_max_length_is_refused(registry: Registry) -> None:
    assert details_of(registry, "greeting", "es", {**VALUES, "name": "A" * 21}) == [
        {"loc": ["variables", "name"], "msg": "Must be at most 20 characters (got 21)."}
    ]


@pytest.mark.parametrize(
    ("value", "kind"),
    [(True, "a boolean"), (["Ana"], "an array"), ({"first": "Ana"}, "an object")],
)
def test_a_value_that_is_not_text_or_a_number_is_refused(
    registry: Registry, value: object, kind: str
) -> None:
    assert details_of(registry, "greeting", "es", {**VALUES, "name": value}) == [
        {"loc": ["variables", "name"], "msg": f"Must be text or a number, not {kind}."}
    ]


@pytest.mark.parametrize(
    ("value", "msg"),
    [
        (float("nan"), "Must be a finite number."),
        (float("inf"), "Must be a finite number."),
        (10**5000, "Must be a number of reasonable size."),
        ("An\x00a", "Must not contain control characters."),
    ],
    ids=["nan", "infinity", "huge-int", "control-char"],
)
def test_odd_values_are_refused_with_a_reason(registry: Registry, value: object, msg: str) -> None:
    assert details_of(registry, "greeting", "es", {**VALUES, "name": value}) == [
        {"loc": ["variables", "name"], "msg": msg}
    ]


def test_variables_that_are_not_an_object_are_refused(registry: Registry) -> None:
    assert details_of(registry, "greeting", "es", ["Ana"]) == [
        {"loc": ["variables"], "msg": "Must be an object of variable names to values."}
    ]


def test_every_problem_is_reported_at_once(registry: Registry) -> None:
    variables = {"name": "A" * 21, "host": 3.0j, "salary": "x"}
    details = details_of(registry, "greeting", "e", variables)
    assert [d["loc"] for d in details] == [
        ["language"],
        ["variables", "name"],
        ["variables", "date"],
        ["variables", "host"],
        ["variables", "salary"],
    ]


def test_three_problems_make_three_details_in_one_error(registry: Registry) -> None:
    with pytest.raises(TemplateError) as caught:
        render("greeting", "es", {"name": "", "other": 1}, registry=registry)
    assert caught.value.details == [
        {"loc": ["variables", "name"], "msg": "Must not be empty."},
        {"loc": ["variables", "date"], "msg": "Required variable is missing."},
        {
            "loc": ["variables", "other"],
            "msg": "Unknown variable; this template takes name, date, host.",
        },
    ]
    assert caught.value.status == 422
    assert caught.value.message == (
        "Template 'greeting' cannot be rendered: see Details for the 3 problem(s)."
    )


# --- Meta (Cloud API) ------------------------------------------------------------------------


def test_meta_components_carry_the_body_parameters_in_mapping_order(registry: Registry) -> None:
    rendered = render("greeting", "es", VALUES, registry=registry)
    assert build_meta_components(rendered) == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "2026-12-01"},
                {"type": "text", "text": "Ana"},
            ],
        }
    ]


def test_meta_template_answers_the_meta_name_language_code_and_components(
    registry: Registry,
) -> None:
    name, language, components = meta_template("greeting", "en_GB", VALUES, registry=registry)
    assert (name, language) == ("greeting_v1", "en_US")
    assert components[0]["parameters"][1] == {"type": "text", "text": "Ana"}


def test_meta_template_validates_variables_like_render(registry: Registry) -> None:
    with pytest.raises(TemplateError):
        meta_template("greeting", "es", {"name": "Ana"}, registry=registry)


def test_a_template_without_meta_mapping_is_not_supported_on_the_cloud_api(
    registry: Registry,
) -> None:
    with pytest.raises(TemplateNotSupportedError, match="plain"):
        meta_template("plain", None, {}, registry=registry)
    with pytest.raises(TemplateNotSupportedError):
        build_meta_components(render("plain", None, {}, registry=registry))


def test_a_language_without_a_meta_template_is_not_supported_on_the_cloud_api(
    registry: Registry,
) -> None:
    with pytest.raises(TemplateNotSupportedError, match="pt_BR"):
        meta_template("greeting", "pt_BR", VALUES, registry=registry)


def test_a_meta_template_without_parameters_has_no_components(tmp_path: Path) -> None:
    write(
        tmp_path,
        {**PLAIN, "meta": {"name": "plain_v1", "languages": {"en": "en"}, "body_parameters": []}},
    )
    assert meta_template("plain", "en", {}, registry=load_registry(tmp_path)) == (
        "plain_v1",
        "en",
        [],
    )


# --- public listing --------------------------------------------------------------------------


def test_get_template_has_the_public_shape(registry: Registry) -> None:
    assert get_template("greeting", registry=registry) == {
        "name": "greeting",
        "description": "A test appointment greeting.",
        "languages": ["es", "en", "pt_BR"],
        "variables": {
            "name": {"required": True, "max_length": 20, "example": "Ana"},
            "date": {"required": True, "max_length": 20, "example": "2026-12-01"},
            "host": {"required": False, "max_length": 20, "example": "Laura"},
        },
        "meta": {
            "name": "greeting_v1",
            "languages": {"es": "es", "en": "en_US"},
            "body_parameters": ["date", "name"],
        },
    }


def test_list_templates_is_sorted_by_name_and_says_null_without_meta(registry: Registry) -> None:
    listed = list_templates(registry=registry)
    assert [t["name"] for t in listed] == ["greeting", "plain"]
    assert listed[1]["meta"] is None
    assert listed[1]["variables"] == {}


def test_get_template_of_an_unknown_name_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError):
        get_template("nope", registry=registry)


def test_the_bundled_registry_is_read_once_per_process() -> None:
    assert load_registry() is load_registry()


# --- broken definitions ----------------------------------------------------------------------


def broken(**changes: Any) -> dict[str, Any]:
    """GREETING with top-level keys replaced; ``None`` deletes the key."""
    definition = copy.deepcopy(GREETING)
    for key, value in changes.items():
        if value is None:
            del definition[key]
        else:
            definition[key] = value
    return definition


def with_body(es: str) -> dict[str, Any]:
    return broken(bodies={"es": es}, meta={**GREETING["meta"], "languages": {"es": "es"}})


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (
            with_body("Hola {name} {date} {salary}\n{host}"),
            "greeting.json: body 'es' uses undeclared variable 'salary'",
        ),
        (
            with_body("Hola {name} {date}"),
            "greeting.json: variable 'host' is declared but not used in any body",
        ),
        (
            broken(meta={**GREETING["meta"], "body_parameters": ["name", "phone"]}),
            "greeting.json: meta.body_parameters references undeclared variable 'phone'",
        ),
        (
            broken(meta={**GREETING["meta"], "body_parameters": ["name", "host"]}),
            "greeting.json: meta.body_parameters uses optional variable 'host'",
        ),
        (
            broken(meta={**GREETING["meta"], "languages": {"es": "es", "fr": "fr"}}),
            "greeting.json: meta.languages maps 'fr', which has no body",
        ),
        (
            broken(meta={**GREETING["meta"], "languages": {"es": "es-mx"}}),
            "greeting.json: meta.languages: 'es-mx' is not a Meta code",
        ),
        (
            broken(meta={**GREETING["meta"], "name": "Greeting V1"}),
            "greeting.json: meta.name 'Greeting V1' must be lowercase",
        ),
        (
            broken(default_language="fr"),
            "greeting.json: default_language 'fr' has no body",
        ),
        (
            broken(bodies={**GREETING["bodies"], "ES": GREETING["bodies"]["es"]}),
            "greeting.json: bodies 'es' and 'ES' are the same language",
        ),
        (
            broken(bodies={**GREETING["bodies"], "spanish": GREETING["bodies"]["es"]}),
            "greeting.json: body language 'spanish' is not a language code",
        ),
        (
            broken(bodies={**GREETING["bodies"], "en": "Hi {name}\nWith: {host}"}),
            "greeting.json: body 'en' does not use variable 'date'",
        ),
        (
            with_body("Hola {name}, {date}\nCon {host} ({name})"),
            "greeting.json: body 'es' line 2 mixes required and optional variables",
        ),
        (
            with_body("{name} {date}\n{host}" + "x" * 4096),
            "greeting.json: body 'es' can exceed 4096 characters",
        ),
        (
            broken(name="greeting_two"),
            "greeting.json: name 'greeting_two' does not match the file name 'greeting'",
        ),
        (
            broken(variables={**GREETING["variables"], "Host": GREETING["variables"]["host"]}),
            "greeting.json: variable 'Host' must be lowercase",
        ),
        (
            broken(
                variables={
                    **GREETING["variables"],
                    "name": {"required": True, "max_length": 2, "example": "Ana"},
                }
            ),
            "greeting.json: variable 'name': example must be 1 to max_length characters",
        ),
        (
            broken(
                variables={
                    **GREETING["variables"],
                    "name": {"required": "yes", "max_length": 9, "example": "A"},
                }
            ),
            "greeting.json: variables.name.required: Input should be a valid boolean",
        ),
        (
            broken(
                variables={
                    **GREETING["variables"],
                    "name": {"required": True, "max_length": 0, "example": "A"},
                }
            ),
            "greeting.json: variables.name.max_length: Input should be greater than 0",
        ),
        (
            broken(description=None),
            "greeting.json: description: Field required",
        ),
        (
            broken(varaibles={}),
            "greeting.json: varaibles: Extra inputs are not permitted",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_broken_definition_names_its_file_and_its_problem(
    tmp_path: Path, definition: dict[str, Any], problem: str
) -> None:
    assert problem in problems_of(tmp_path, definition, "greeting.json")


@pytest.mark.parametrize(
    ("placeholder", "problem"),
    [
        ("{name.__class__}", "invalid placeholder '{name.__class__}'"),
        ("{0}", "invalid placeholder '{0}'"),
        ("{}", "invalid placeholder '{}'"),
        ("{name!r}", "invalid placeholder '{name!r}'"),
        ("{name:>10}", "invalid placeholder '{name:>10}'"),
        ("{name[0]}", "invalid placeholder '{name[0]}'"),
        ("{ name }", "invalid placeholder '{ name }'"),
        ("{Name}", "invalid placeholder '{Name}'"),
        ("{", "unmatched '{' at column 3"),
        ("}", "unmatched '}' at column 3"),
    ],
)
def test_a_bad_placeholder_fails_validation(tmp_path: Path, placeholder: str, problem: str) -> None:
    found = problems_of(tmp_path, with_body("{name} {date}\n{host}\nx " + placeholder))
    assert f"greeting.json: body 'es' line 3: {problem}" in found


def test_every_problem_of_every_file_is_listed(tmp_path: Path) -> None:
    write(tmp_path, broken(default_language="fr", meta={**GREETING["meta"], "body_parameters": ["x"]}))
    write(tmp_path, {"name": "other"})
    write(tmp_path, PLAIN)
    with pytest.raises(TemplateDefinitionError) as caught:
        load_registry(tmp_path)
    problems = caught.value.problems
    assert sum(p.startswith("greeting.json: ") for p in problems) == 2
    assert sum(p.startswith("other.json: ") for p in problems) == 4
    assert not any(p.startswith("plain.json") for p in problems)
    assert f"{len(problems)} template problem(s)" in str(caught.value)


def test_a_file_that_is_not_json_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{name: 1", encoding="utf-8")
    with pytest.raises(TemplateDefinitionError, match=r"bad\.json: file: Invalid JSON"):
        load_registry(tmp_path)


def test_a_directory_without_templates_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(TemplateDefinitionError, match="no template files"):
        load_registry(tmp_path)


def test_check_variables_refuses_exactly_what_render_refuses() -> None:
    from chalicelib.services.templates import TemplateError, check_variables, render

    good = {"name": "Ana", "date": "lunes", "time": "10:00", "location": "Oficina", "recruiter": "Luis"}
    check_variables("interview_reminder", "es", good)
    render("interview_reminder", "es", good)
    for bad in ({}, {**good, "surprise": "x"}, {**good, "name": "A" * 61}, {**good, "name": "Ana\x00"}):
        with pytest.raises(TemplateError) as checked:
            check_variables("interview_reminder", "es", bad)
        with pytest.raises(TemplateError) as rendered:
            render("interview_reminder", "es", bad)
        assert checked.value.details == rendered.value.details
