"""The example licence in docs/ is a real one: it verifies with the key the docs publish."""

from __future__ import annotations

from pathlib import Path

from levante.licensing import trusted_keys, verify
from tests.licensing.conftest import utc

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def test_the_documented_example_verifies() -> None:
    keys = trusted_keys({"lk_3b07a0401709b162": (EXAMPLES / "example.pub").read_text()})
    license = verify((EXAMPLES / "example.license").read_text(), keys, utc(2027, 3, 1))
    assert license.licensee_name == "Carl GmbH"
    assert license.entitlements.max_seats == 50
    assert license.entitlements.max_nodes == 4
    assert (Path(__file__).parents[2] / "docs" / "licensing.md").read_text().count(
        license.license_id
    ) >= 1
