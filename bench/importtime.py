"""Reading ``python -X importtime`` output: the import tree, and the modules a package imports eagerly."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

MARKER = "@@bench-start@@"
FIRST_PARTY = ("app", "chalicelib")


@dataclass
class Node:
    name: str
    depth: int
    cumulative_us: int
    children: list[Node] = field(default_factory=list)


def parse(stderr: str) -> list[Node]:
    """The import tree of everything imported after ``MARKER`` (importtime prints children first)."""
    _, found, after = stderr.partition(MARKER)
    lines = after.splitlines() if found else stderr.splitlines()
    pending: dict[int, list[Node]] = {}
    roots: list[Node] = []
    for line in lines:
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, raw_name = line.split("|", 2)
        if not cumulative.strip().isdigit():
            continue  # the header line
        name = raw_name[1:]
        depth = (len(name) - len(name.lstrip(" "))) // 2
        node = Node(name.strip(), depth, int(cumulative), pending.pop(depth + 1, []))
        pending.setdefault(depth, []).append(node)
        if depth == 0:
            roots.append(node)
    return roots


def top_level_us(stderr: str) -> int:
    """Cumulative µs of the imports the ``-c`` code made (the sum of the tree's roots)."""
    return sum(node.cumulative_us for node in parse(stderr))


def _is_first_party(name: str) -> bool:
    return name.split(".", 1)[0] in FIRST_PARTY


def _is_third_party(name: str) -> bool:
    top = name.split(".", 1)[0]
    return not _is_first_party(name) and top not in sys.stdlib_module_names and not top.startswith("_")


def stdlib_modules(stderr: str) -> list[str]:
    """Every standard-library module in the import tree."""
    names: list[str] = []

    def walk(node: Node) -> None:
        for child in node.children:
            walk(child)
        top = node.name.split(".", 1)[0]
        if top in sys.stdlib_module_names and node.name not in names:
            names.append(node.name)

    for root in parse(stderr):
        walk(root)
    return names


def eager_third_party(stderr: str) -> list[str]:
    """Third-party modules imported directly by first-party modules, in import order."""
    found: list[str] = []

    def walk(node: Node) -> None:
        for child in node.children:
            walk(child)
            if _is_first_party(node.name) and _is_third_party(child.name) and child.name not in found:
                found.append(child.name)

    for root in parse(stderr):
        walk(root)
    return found
