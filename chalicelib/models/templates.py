"""What a message-template file holds, how its bodies tokenize, and what makes one consistent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
VARIABLE = re.compile(r"[a-z][a-z0-9_]{0,39}")
LANGUAGE_CODE = re.compile(r"[a-zA-Z]{2,3}(?:[_-][a-zA-Z0-9]{2,8})?")
META_NAME = re.compile(r"[a-z0-9_]{1,512}")
META_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?")
WHATSAPP_TEXT_LIMIT = 4096

# One token of a body line: an escaped brace, a {placeholder}, or a lone brace (an error).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def normalize_language(code: str) -> str:
    """``es-MX``, ``ES_mx`` and ``es_MX`` all become ``es_mx``."""
    return code.replace("-", "_").lower()


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A ``{name}`` in a body: replaced by the value of variable ``name``, as plain text."""

    name: str


Segment = str | Placeholder
Line = tuple[Segment, ...]


def tokenize(line: str) -> tuple[Line, list[str]]:
    """Split one body line into literal text and placeholders, with every syntax problem found."""
    segments: list[Segment] = []
    problems: list[str] = []
    position = 0
    for match in _TOKEN.finditer(line):
        if match.start() > position:
            segments.append(line[position : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            segments.append(token[0])
        elif token in ("{", "}"):
            problems.append(f"unmatched {token!r} at column {match.start() + 1} (write {token * 2})")
        elif VARIABLE.fullmatch(name := match.group(1)):
            segments.append(Placeholder(name))
        else:
            problems.append(f"invalid placeholder {token!r}: only {{variable_name}} is allowed")
        position = match.end()
    if position < len(line):
        segments.append(line[position:])
    return tuple(segments), problems


def placeholders(lines: tuple[Line, ...]) -> list[str]:
    """The variable names used in ``lines``, in order of first use."""
    names = (s.name for line in lines for s in line if isinstance(s, Placeholder))
    return list(dict.fromkeys(names))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class VariableSpec(_Strict):
    """One variable a template takes."""

    required: bool
    max_length: int = Field(gt=0, le=1024)
    example: str
    description: str | None = None


class MetaMapping(_Strict):
    """How the template maps to an approved Meta (Cloud API) template."""

    name: str
    languages: dict[str, str] = Field(min_length=1)
    body_parameters: list[str]


class TemplateDefinition(_Strict):
    """The content of one ``chalicelib/templates/<name>.json`` file."""

    name: str
    description: str = Field(min_length=1)
    default_language: str
    bodies: dict[str, str] = Field(min_length=1)
    variables: dict[str, VariableSpec]
    meta: MetaMapping | None = None

    def problems(self, file_stem: str) -> list[str]:
        """Every inconsistency in this definition, as sentences; empty when it is usable."""
        return [
            *self._name_problems(file_stem),
            *self._language_problems(),
            *self._variable_problems(),
            *self._body_problems(),
            *self._meta_problems(),
        ]

    def _name_problems(self, file_stem: str) -> list[str]:
        problems = []
        if not NAME.fullmatch(self.name):
            problems.append(f"name {self.name!r} must be lowercase letters, digits and _")
        if self.name != file_stem:
            problems.append(f"name {self.name!r} does not match the file name {file_stem!r}")
        return problems

    def _language_problems(self) -> list[str]:
        problems = [
            f"body language {code!r} is not a language code like 'es' or 'pt_BR'"
            for code in self.bodies
            if not LANGUAGE_CODE.fullmatch(code)
        ]
        seen: dict[str, str] = {}
        for code in self.bodies:
            if (other := seen.setdefault(normalize_language(code), code)) != code:
                problems.append(f"bodies {other!r} and {code!r} are the same language")
        if self.default_language not in self.bodies:
            problems.append(f"default_language {self.default_language!r} has no body")
        return problems

    def _variable_problems(self) -> list[str]:
        problems = []
        for name, spec in self.variables.items():
            if not VARIABLE.fullmatch(name):
                problems.append(f"variable {name!r} must be lowercase letters, digits and _")
            if not spec.example.strip() or len(spec.example) > spec.max_length:
                problems.append(f"variable {name!r}: example must be 1 to max_length characters")
        return problems

    def _body_problems(self) -> list[str]:
        problems: list[str] = []
        tokenized = {
            lang: [tokenize(line) for line in body.split("\n")] for lang, body in self.bodies.items()
        }
        used = {lang: placeholders(tuple(line for line, _ in lines)) for lang, lines in tokenized.items()}
        anywhere = {name for names in used.values() for name in names}
        for language, lines in tokenized.items():
            problems += [
                f"body {language!r} line {number}: {problem}"
                for number, (_, found) in enumerate(lines, start=1)
                for problem in found
            ]
            problems += [
                f"body {language!r} uses undeclared variable {name!r}"
                for name in used[language]
                if name not in self.variables
            ]
            problems += [
                f"body {language!r} does not use variable {name!r} (translations must match)"
                for name in self.variables
                if name in anywhere and name not in used[language]
            ]
            problems += self._line_problems(language, [line for line, _ in lines])
            longest = len(self.bodies[language]) + sum(s.max_length for s in self.variables.values())
            if longest > WHATSAPP_TEXT_LIMIT:
                problems.append(f"body {language!r} can exceed {WHATSAPP_TEXT_LIMIT} characters")
        problems += [
            f"variable {name!r} is declared but not used in any body"
            for name in self.variables
            if name not in anywhere
        ]
        return problems

    def _line_problems(self, language: str, lines: list[Line]) -> list[str]:
        problems = []
        for number, line in enumerate(lines, start=1):
            specs = [self.variables.get(name) for name in placeholders((line,))]
            kinds = {spec.required for spec in specs if spec is not None}
            if kinds == {True, False}:
                problems.append(
                    f"body {language!r} line {number} mixes required and optional variables "
                    "(a line with an empty optional variable is dropped)"
                )
        return problems

    def _meta_problems(self) -> list[str]:
        if self.meta is None:
            return []
        meta, problems = self.meta, []
        if not META_NAME.fullmatch(meta.name):
            problems.append(f"meta.name {meta.name!r} must be lowercase letters, digits and _")
        for language, code in meta.languages.items():
            if language not in self.bodies:
                problems.append(f"meta.languages maps {language!r}, which has no body")
            if not META_LANGUAGE.fullmatch(code):
                problems.append(f"meta.languages: {code!r} is not a Meta code like 'es' or 'en_US'")
        for name in meta.body_parameters:
            spec = self.variables.get(name)
            if spec is None:
                problems.append(f"meta.body_parameters references undeclared variable {name!r}")
            elif not spec.required:
                problems.append(
                    f"meta.body_parameters uses optional variable {name!r} (Meta rejects empty parameters)"
                )
        return problems


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A checked definition with its bodies tokenized once, ready to render."""

    definition: TemplateDefinition
    lines: Mapping[str, tuple[Line, ...]]
    languages: Mapping[str, str]  # normalized code -> body key, e.g. "pt_br" -> "pt_BR"

    @classmethod
    def compile(cls, definition: TemplateDefinition) -> CompiledTemplate:
        """Tokenize ``definition``; call only once :meth:`TemplateDefinition.problems` is empty."""
        lines = {
            language: tuple(tokenize(line)[0] for line in body.split("\n"))
            for language, body in definition.bodies.items()
        }
        languages = {normalize_language(code): code for code in definition.bodies}
        return cls(definition, MappingProxyType(lines), MappingProxyType(languages))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered template: the text to send and what a Cloud-API send needs."""

    text: str
    language: str
    template: str
    meta_name: str | None
    meta_language: str | None
    meta_parameters: tuple[str, ...] | None
