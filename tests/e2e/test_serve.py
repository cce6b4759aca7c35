"""``levante serve`` as a user runs it: first start prints an admin key that works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

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
        key = None
        deadline = time.monotonic() + 60
        while key is None and time.monotonic() < deadline and process.poll() is None:
            match = re.search(r"lv-[A-Za-z0-9_-]{40,}", log.read_text())
            key = match.group() if match else None
            time.sleep(0.05)
        assert key, log.read_text()
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
