"""Every HTTP route is in the reference (docs/api.md) and is called by at least one test.

A route is documented when ``METHOD /path`` appears in docs/api.md (parameters may be named
differently there); it is exercised when some test names its path, literally or as an
f-string with its parameters filled in.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import api_routes

ROOT = Path(__file__).parent.parent.parent
REFERENCE = ROOT / "docs" / "api.md"
PARAMETER = re.compile(r"\{[^}]*\}")


def routes() -> list[tuple[str, str]]:
    return sorted(
        (method, route.path) for route in api_routes() for method in sorted(route.methods or ())
    )


def _shape(path: str) -> str:
    return PARAMETER.sub("{}", path)


def test_there_are_routes_to_check() -> None:
    assert len(routes()) >= 60


def test_every_route_is_in_the_reference() -> None:
    documented = {
        (method, _shape(path))
        for method, path in re.findall(
            r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`", REFERENCE.read_text()
        )
    }
    missing = [f"{m} {p}" for m, p in routes() if (m, _shape(p)) not in documented]
    assert not missing, "routes missing from docs/api.md:\n" + "\n".join(missing)
    stale = documented - {(m, _shape(p)) for m, p in routes()}
    assert not stale, f"docs/api.md names routes that do not exist: {sorted(stale)}"


def test_every_route_is_exercised_by_a_test() -> None:
    here = Path(__file__).resolve()
    text = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.resolve() != here)
    untested = []
    for method, path in routes():
        pieces = PARAMETER.split(path)
        pattern = r"(?:\{[^}]*\}|[^/\"'\s?{}]+)".join(re.escape(piece) for piece in pieces)
        if not re.search(pattern + r"(?![\w/-])", text):
            untested.append(f"{method} {path}")
    assert not untested, "routes no test calls:\n" + "\n".join(untested)
