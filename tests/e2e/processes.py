"""Gateway processes started the way an operator starts them: ``levante serve``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port


@dataclass
class Gateway:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def gateway_process(
    workdir: Path, database_url: str, models: list[dict[str, Any]], **settings: Any
) -> Iterator[Gateway]:
    """``levante serve`` on a free port with the given settings; waits until it is ready,
    and stops it (if the test has not killed it) when done."""
    port = free_port()
    env = os.environ | {
        "LEVANTE_DATA_DIR": str(workdir / "var"),
        "LEVANTE_CONFIG_FILE": str(workdir / "none.toml"),
        "LEVANTE_DATABASE_URL": database_url,
        "LEVANTE_MODELS": json.dumps(models),
        "LEVANTE_LOG_LEVEL": "warning",
    }
    for name, value in settings.items():
        env[f"LEVANTE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"gateway-{port}.log"
    command = [sys.executable, "-m", "levante", "serve", "--port", str(port)]
    with log.open("w") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield Gateway(url, process, log)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
