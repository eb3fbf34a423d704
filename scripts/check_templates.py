"""Check every message template file; exit 1 listing each problem, 0 with a one-line summary.

Usage: python scripts/check_templates.py [DIRECTORY]   (default: chalicelib/templates)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.services.templates import (  # noqa: E402
    TEMPLATES_DIR,
    TemplateDefinitionError,
    read_registry,
)


def main(argv: list[str]) -> int:
    """Check the templates in ``argv[0]`` (or the bundled ones); return the exit status."""
    directory = Path(argv[0]) if argv else TEMPLATES_DIR
    try:
        registry = read_registry(directory)
    except TemplateDefinitionError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"templates-check: {len(error.problems)} problem(s) in {directory}", file=sys.stderr)
        return 1
    languages = sorted({code for t in registry.values() for code in t.definition.bodies})
    print(
        f"templates-check: {len(registry)} templates OK ({', '.join(sorted(registry))}; "
        f"languages {', '.join(languages)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
