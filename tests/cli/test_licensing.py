"""``levante license …`` on both sides: the vendor's keys, licences and imports, and a
deployment's own licence, status, renewal and report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from levante.storage import Database
from tests.cli.runner import fails, ok


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")
    monkeypatch.setenv("COLUMNS", "240")


def test_issue_verify_report_and_import(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = ok("license", "keygen")
    key_id = re.search(r"lk_[0-9a-f]{16}", out)
    assert key_id
    assert "[licensing.trusted_keys]" in out
    ok("org", "create", "Carl GmbH")
    ok("subscriptions", "create", "--org", "carl-gmbh", "enterprise-seat", "--seats", "3")
    lic = tmp_path / "carl.license"
    out = ok("license", "issue", "--org", "carl-gmbh", "--out", str(lic),
              "--model", "smollm2-135m-instruct", "--grace-days", "15")  # fmt: skip
    assert "seats 3" in out
    assert "smollm2-135m-instruct" in out
    assert "active" in ok("license", "verify", str(lic))
    fails("license", "verify", str(lic), "--at", "2099-01-01", message="grace period ended")
    envelope = json.loads(lic.read_text())
    envelope["signature"] = envelope["signature"][::-1]
    forged = tmp_path / "forged.license"
    forged.write_text(json.dumps(envelope))
    fails("license", "verify", str(forged), message="not a valid signature")
    fails("license", "verify", str(tmp_path / "none"), message="cannot read")
    license_id = re.search(r"lic_\w+", ok("license", "list")).group()  # type: ignore[union-attr]

    # The same machine as a self-hosted deployment under that licence.
    fails("license", "status", message="no licence file")
    monkeypatch.setenv("LEVANTE_LICENSE_FILE", str(lic))
    assert "seats in use: 0" in ok("license", "status")
    for name in ("ana", "ben", "cleo"):
        ok("org", "member", "add", "--org", "carl-gmbh", f"{name}@carl.test")
    fails("org", "member", "add", "--org", "carl-gmbh", "dan@carl.test", message="max_seats")
    listed = ok("org", "member", "list", "--org", "carl-gmbh")
    ana = re.search(r"ana@carl\.test\s.*?(user_\w+)", listed)
    assert ana
    ok("org", "member", "remove", "--org", "carl-gmbh", ana.group(1))
    ok("org", "member", "add", "--org", "carl-gmbh", "dan@carl.test", "--role", "admin")
    assert "seats in use: 3" in ok("license", "status")
    report = tmp_path / "report.json"
    assert "wrote" in ok("license", "report", "--out", str(report), "--start", "2026-10-01")
    # The window's rule is the API's: a report covers at most 400 days.
    fails("license", "report", "--out", str(report), "--start", "2020-01-01",
          message="at most 400 days")  # fmt: skip
    # An air-gapped site: its activation request binds its key before its report is trusted.
    request = tmp_path / "activation-request.json"
    assert "levante license bind" in ok("license", "activation-request", "--out", str(request))
    assert "bound" in ok("license", "bind", str(request))
    assert "bound" in ok("license", "site-keys", license_id)
    assert "usage record(s) added" in ok("license", "import-usage", str(report))
    assert "imported before" in ok("license", "import-usage", str(report))
    fails("license", "accept", "0123456789abcdef", message="no held report")
    assert "act_" not in ok("license", "activations", license_id)
    renewal = tmp_path / "renewal.license"
    fails("license", "renew", license_id, "--out", str(renewal), "--expires", "2020-01-01",
          message="must expire after")  # fmt: skip
    ok("license", "renew", license_id, "--out", str(renewal), "--expires", "2030-01-01")
    assert "installed" in ok("license", "install", str(renewal))
    assert json.loads(lic.read_text()) == json.loads(renewal.read_text())
    assert license_id in ok("license", "status")  # the same licence, renewed
    listed = ok("license", "list", "--org", "carl-gmbh")
    assert listed.count("lic_") == 1
    assert "2030-01-01" in listed
    assert "revoked" in ok("license", "revoke", license_id)
    assert "revoked" in ok("license", "list", "--org", "carl-gmbh")


def test_verify_takes_a_public_key_and_prints_the_error_code(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.setenv("LEVANTE_DATA_DIR", str(tmp_path))
    examples = Path(__file__).parents[2] / "docs" / "examples"
    example, public = str(examples / "example.license"), examples / "example.pub"
    at = ("--at", "2027-03-01")
    assert "Carl GmbH" in ok("license", "verify", example, "--key", str(public), *at)
    assert "active" in ok("license", "verify", example, "--key", public.read_text().strip(), *at)
    fails("license", "verify", example, *at, message="[license_unknown_key]")
    fails("license", "verify", example, "--key", str(public), "--at", "2029-01-01",
          message="[license_expired]")  # fmt: skip
    fails("license", "verify", example, "--key", "nope", message="not an Ed25519 public key")
