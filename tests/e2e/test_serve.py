"""``levante serve`` as a user runs it: first start hands over an admin key that works, and
keeps it out of the log; a licence that cannot be trusted stops the start before anything is
written."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

from levante.licensing import Keyring, License, encode_public
from levante.licensing.envelope import Entitlements, sign
from levante.storage import utcnow
from tests.helpers import chat_body, free_port


def test_first_start_prints_a_working_admin_key(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {
        "LEVANTE_DATA_DIR": str(tmp_path / "var"),
        "LEVANTE_CONFIG_FILE": str(tmp_path / "none.toml"),
        "LEVANTE_MODELS": '[{"id": "smollm2-135m-instruct", "context_length": 1024, "n_threads": 2}]',
        "COLUMNS": "200",
    }
    env.pop("LEVANTE_DATABASE_URL", None)
    command = [sys.executable, "-m", "levante", "serve", "--port", str(port)]
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        key_file = tmp_path / "var" / "bootstrap-admin-key"
        deadline = time.monotonic() + 60
        while "serving on" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
        # Not a terminal: the key is in a file only its owner reads, and not in the log.
        assert str(key_file) in log.read_text()
        assert (key_file.stat().st_mode & 0o777) == 0o600
        key = key_file.read_text().strip()
        assert re.fullmatch(r"lv-[A-Za-z0-9_-]{40,}", key)
        assert key not in log.read_text()
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {key}"}
        response = httpx.post(
            f"{base}/v1/chat/completions", json=chat_body(), headers=headers, timeout=60
        )
        assert response.status_code == 200, response.text
        assert httpx.get(f"{base}/v1/admin/usage", headers=headers).json()["total"]["requests"] == 1
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert (tmp_path / "var" / "levante.db").is_file()


def test_an_untrusted_licence_stops_the_start_before_anything_is_written(tmp_path: Path) -> None:
    vendor, stranger = Keyring(tmp_path / "vendor"), Keyring(tmp_path / "stranger")
    signed_by = stranger.generate()
    now = utcnow().replace(microsecond=0)
    license = License(
        license_id="lic_x", licensee_id="org_x", licensee_name="X", issued_at=now,
        starts_at=now, expires_at=now + timedelta(days=30), grace_days=7,
        entitlements=Entitlements(), key_id=signed_by.key_id,
    )  # fmt: skip
    path = tmp_path / "site.license"
    path.write_text(sign(license, signed_by))
    trusted = vendor.generate()
    env = os.environ | {
        "LEVANTE_DATA_DIR": str(tmp_path / "var"),
        "LEVANTE_CONFIG_FILE": str(tmp_path / "none.toml"),
        "LEVANTE_LICENSE_FILE": str(path),
        "LEVANTE_LICENSING__TRUSTED_KEYS": json.dumps(
            {trusted.key_id: encode_public(trusted.public)}
        ),
    }
    env.pop("LEVANTE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "levante", "serve", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    output = (done.stdout + done.stderr).strip()
    assert len(output.splitlines()) == 1, output  # one clear line, no traceback
    assert "error:" in output
    assert "key" in output
    assert not (tmp_path / "var" / "levante.db").exists()
    assert not (tmp_path / "var" / "bootstrap-admin-key").exists()
