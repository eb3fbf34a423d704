"""The one table: rows of figures beside their baselines, printed as text and written as Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HEADERS = ("Figure", "Value", "Baseline", "Ratio", "Goal")


@dataclass(frozen=True)
class Row:
    """One line of the table; every cell is already formatted with its unit."""

    name: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    goal: str = "-"

    def cells(self) -> tuple[str, str, str, str, str]:
        return (self.name, self.value, self.baseline, self.ratio, self.goal)


@dataclass
class Section:
    """What one benchmark adds to the table: its rows and the notes that say how they were measured."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def duration(seconds: float) -> str:
    """Milliseconds, or microseconds below one millisecond."""
    return ms(seconds) if abs(seconds) >= 0.001 else us(seconds)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def per_s(rate: float) -> str:
    return f"{rate:,.0f} req/s"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "-"


def text_table(rows: list[Row]) -> str:
    table = [HEADERS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    right = {1, 2, 3}  # numbers line up on the right

    def line(cells: tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), rule, *(line(r.cells()) for r in rows)])


def markdown_table(rows: list[Row]) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = "| :--- | ---: | ---: | ---: | :--- |"
    return "\n".join([line(HEADERS), align, *(line(r.cells()) for r in rows)]) + "\n"


def publish(sections: list[Section], markdown_path: Path) -> None:
    """Print the table (and its notes) and write the same as Markdown."""
    rows = [row for section in sections for row in section.rows]
    notes = [note for section in sections for note in section.notes]
    print(text_table(rows))
    for note in notes:
        print(f"  * {note}")
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"\n- {note}" for note in notes)
    markdown_path.write_text(markdown_table(rows) + (extra + "\n" if extra else ""), encoding="utf-8")
