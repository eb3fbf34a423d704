"""Message templates: load the bundled definitions once, render them strictly, map them to Meta.

Rendering rules (the contract callers rely on):

- Placeholders are ``{variable}``; ``{{`` and ``}}`` are literal braces. Values are inserted as
  plain text and never re-read, so a value ``"{date}"`` appears as ``{date}``.
- Values may be strings or numbers (stringified; booleans and non-finite floats are refused). Each
  is stripped and its inner whitespace (newlines included) collapsed to one space, so it stays on
  its line and suits Meta, which refuses newlines in parameters. Then ``max_length`` applies.
- An optional variable that is absent, ``null`` or blank renders as nothing, and every body line
  using it is dropped (templates keep optional variables on lines of their own: checked at load).
- Language: ``None`` means the template's default. A well-formed code (``es``, ``es-MX``,
  ``ES_mx``) matches a body case-insensitively, else its primary language (``es_MX`` -> ``es``),
  else falls back to the default; :attr:`Rendered.language` says which body was used. A malformed
  code is a :class:`TemplateError`.
- Every problem is collected before one :class:`TemplateError` is raised (``details`` =
  ``[{"loc": [...], "msg": ...}]``); an unknown template is a :class:`NotFoundError`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pydantic

from chalicelib.deps import on_reset
from chalicelib.errors import NotFoundError, TemplateError, TemplateNotSupportedError
from chalicelib.models.templates import (
    LANGUAGE_CODE,
    CompiledTemplate,
    Line,
    Placeholder,
    Rendered,
    TemplateDefinition,
    VariableSpec,
    normalize_language,
)

__all__ = [
    "TEMPLATES_DIR",
    "Registry",
    "Rendered",
    "TemplateDefinitionError",
    "build_meta_components",
    "get_template",
    "list_templates",
    "load_registry",
    "meta_template",
    "preview",
    "read_registry",
    "render",
]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

Registry = Mapping[str, CompiledTemplate]
Detail = dict[str, Any]

_BLANK_RUNS = re.compile(r"\n{3,}")


class TemplateDefinitionError(Exception):
    """Template files are broken: a deployment bug, reported with every problem and its file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} template problem(s):\n" + "\n".join(problems))
        self.problems = tuple(problems)


def load_registry(directory: Path | None = None) -> Registry:
    """The templates of ``directory``; by default the bundled ones, read once per process."""
    return _bundled_registry() if directory is None else read_registry(directory)


@cache
def _bundled_registry() -> Registry:
    return read_registry(TEMPLATES_DIR)


on_reset(_bundled_registry.cache_clear)


def read_registry(directory: Path) -> Registry:
    """Read and check every ``*.json`` in ``directory`` (uncached); raise on any problem."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise TemplateDefinitionError([f"{directory}: no template files (*.json)"])
    templates: dict[str, CompiledTemplate] = {}
    problems: list[str] = []
    for path in files:
        definition, found = _read_file(path)
        problems += [f"{path.name}: {problem}" for problem in found]
        if definition is not None and not found:
            templates[definition.name] = CompiledTemplate.compile(definition)
    if problems:
        raise TemplateDefinitionError(problems)
    return MappingProxyType(templates)


def _read_file(path: Path) -> tuple[TemplateDefinition | None, list[str]]:
    try:
        definition = TemplateDefinition.model_validate_json(path.read_bytes())
    except pydantic.ValidationError as error:
        return None, [
            f"{'.'.join(str(part) for part in e['loc']) or 'file'}: {e['msg']}"
            for e in error.errors(include_url=False)
        ]
    return definition, definition.problems(path.stem)


def render(
    name: str,
    language: str | None = None,
    variables: Mapping[str, object] | None = None,
    *,
    registry: Registry | None = None,
) -> Rendered:
    """Render template ``name``; see the module docstring for the rules."""
    template = _lookup(name, registry)
    details: list[Detail] = []
    used = _resolve_language(template, language, details)
    values = _clean_values(template.definition.variables, variables, details)
    if details:
        raise TemplateError(
            f"Template {name!r} cannot be rendered: see Details for the {len(details)} problem(s).",
            details=details,
        )
    meta = template.definition.meta
    return Rendered(
        text=_fill(template.lines[used], values, template.definition.variables),
        language=used,
        template=name,
        meta_name=meta.name if meta else None,
        meta_language=meta.languages.get(used) if meta else None,
        meta_parameters=tuple(values[v] for v in meta.body_parameters) if meta else None,
    )


def check_variables(
    name: str,
    language: str | None = None,
    variables: Mapping[str, object] | None = None,
    *,
    registry: Registry | None = None,
) -> None:
    """What :func:`render` checks, without filling the text: :class:`TemplateError` when ``variables``
    (or ``language``) would not render (a broadcast checks each of its 10,000 recipients this way)."""
    template = _lookup(name, registry)
    details: list[Detail] = []
    _resolve_language(template, language, details)
    _clean_values(template.definition.variables, variables, details)
    if details:
        raise TemplateError(
            f"Template {name!r} cannot be rendered: see Details for the {len(details)} problem(s).",
            details=details,
        )


def build_meta_components(rendered: Rendered) -> list[dict[str, Any]]:
    """Meta Graph ``components`` for ``rendered``: its body parameters, in mapping order."""
    if rendered.meta_parameters is None:
        raise TemplateNotSupportedError(f"Template {rendered.template!r} has no Meta template mapping.")
    if not rendered.meta_parameters:
        return []
    parameters = [{"type": "text", "text": value} for value in rendered.meta_parameters]
    return [{"type": "body", "parameters": parameters}]


def meta_template(
    name: str,
    language: str | None,
    variables: Mapping[str, object] | None,
    *,
    registry: Registry | None = None,
) -> tuple[str, str, list[dict[str, Any]]]:
    """``(meta_name, meta_language_code, components)`` for a Cloud-API ``sendTemplate``."""
    rendered = render(name, language, variables, registry=registry)
    components = build_meta_components(rendered)
    if rendered.meta_name is None or rendered.meta_language is None:
        raise TemplateNotSupportedError(
            f"Template {name!r} has no Meta template in language {rendered.language!r}."
        )
    return rendered.meta_name, rendered.meta_language, components


def preview(
    name: str,
    language: str | None = None,
    variables: Mapping[str, object] | None = None,
    *,
    registry: Registry | None = None,
) -> dict[str, str]:
    """What :func:`render` would send, as the preview route answers it."""
    rendered = render(name, language, variables, registry=registry)
    return {"text": rendered.text, "language": rendered.language}


def list_templates(*, registry: Registry | None = None) -> list[dict[str, Any]]:
    """Every template's public description, by name."""
    templates = load_registry() if registry is None else registry
    return [_public(templates[name]) for name in sorted(templates)]


def get_template(name: str, *, registry: Registry | None = None) -> dict[str, Any]:
    """One template's public description; :class:`NotFoundError` when unknown."""
    return _public(_lookup(name, registry))


def _lookup(name: str, registry: Registry | None) -> CompiledTemplate:
    template = (load_registry() if registry is None else registry).get(name)
    if template is None:
        raise NotFoundError(f"No template named {name!r}: GET /templates lists them.")
    return template


def _public(template: CompiledTemplate) -> dict[str, Any]:
    definition = template.definition
    default = definition.default_language
    return {
        "name": definition.name,
        "description": definition.description,
        "languages": [default, *sorted(code for code in definition.bodies if code != default)],
        "variables": {
            name: {"required": s.required, "max_length": s.max_length, "example": s.example}
            for name, s in definition.variables.items()
        },
        "meta": definition.meta.model_dump() if definition.meta else None,
    }


def _resolve_language(template: CompiledTemplate, requested: object, details: list[Detail]) -> str:
    default = template.definition.default_language
    if requested is None:
        return default
    if not isinstance(requested, str) or not LANGUAGE_CODE.fullmatch(requested):
        details.append(_detail(["language"], "Must be a language code like 'es' or 'es_MX'."))
        return default
    code = normalize_language(requested)
    for candidate in (code, code.split("_")[0]):
        if candidate in template.languages:
            return template.languages[candidate]
    return default


def _clean_values(
    specs: Mapping[str, VariableSpec], variables: object, details: list[Detail]
) -> dict[str, str]:
    if variables is None:
        variables = {}
    if not isinstance(variables, Mapping):
        details.append(_detail(["variables"], "Must be an object of variable names to values."))
        return {}
    values: dict[str, str] = {}
    for name, spec in specs.items():
        value, problem = _clean(variables.get(name), spec)
        values[name] = value
        if problem:
            details.append(_detail(["variables", name], problem))
    expected = ", ".join(specs) or "no variables"
    details += [
        _detail(["variables", str(key)], f"Unknown variable; this template takes {expected}.")
        for key in variables
        if key not in specs
    ]
    return values


def _clean(raw: object, spec: VariableSpec) -> tuple[str, str | None]:
    """The value to insert, and what is wrong with it (``None`` when nothing)."""
    if raw is None:
        return "", "Required variable is missing." if spec.required else None
    text, problem = _as_text(raw)
    problem = problem or _check(text, spec)
    return ("", problem) if problem else (text, None)


def _as_text(raw: object) -> tuple[str, str | None]:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return "", f"Must be text or a number, not {_json_type(raw)}."
    if isinstance(raw, float) and not math.isfinite(raw):
        return "", "Must be a finite number."
    try:
        return " ".join(str(raw).split()), None
    except ValueError:  # an int with more digits than Python will print
        return "", "Must be a number of reasonable size."


def _check(text: str, spec: VariableSpec) -> str | None:
    if not text:
        return "Must not be empty." if spec.required else None
    if any(unicodedata.category(char) == "Cc" for char in text):
        return "Must not contain control characters."
    if len(text) > spec.max_length:
        return f"Must be at most {spec.max_length} characters (got {len(text)})."
    return None


def _fill(lines: tuple[Line, ...], values: Mapping[str, str], specs: Mapping[str, VariableSpec]) -> str:
    kept = []
    for line in lines:
        names = [s.name for s in line if isinstance(s, Placeholder)]
        if any(not specs[name].required and not values[name] for name in names):
            continue
        kept.append("".join(values[s.name] if isinstance(s, Placeholder) else s for s in line))
    return _BLANK_RUNS.sub("\n\n", "\n".join(kept)).strip()


def _detail(loc: list[str], msg: str) -> Detail:
    return {"loc": loc, "msg": msg}


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"
