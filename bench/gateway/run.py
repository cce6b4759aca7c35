"""Gateway overhead: Levante side by side with LiteLLM's proxy, both in front of the same
instant OpenAI-compatible stub (bench/gateway/stub.py) on loopback, so only the gateway is
measured. Stub, gateways and load generators share the machine's cores.

    apt-get install wrk                                          # saturation load
    python3 -m venv bench/.venv-litellm
    bench/.venv-litellm/bin/pip install 'litellm[proxy]'         # the peer, in its own venv
    .venv/bin/python bench/gateway/run.py [--quick] [--write docs/benchmarks.md]

Levante runs with authentication (API key), a usage tier with requests/s, tokens/minute and
tokens/month limits, a monthly spending cap (reserved before dispatch), a price, and the
ledger (a durable reservation and a priced usage record per request, SQLite). LiteLLM runs
with its master key, rpm/tpm limits on the deployment, and a global max_budget; its virtual
keys, per-key budgets and spend log need PostgreSQL plus Prisma's engines, which Prisma
downloads from its own servers at run time (not a package registry), so they are off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from loadgen import Latencies, fixed_rate  # noqa: E402

from serving import _free_port, _process, _wait_ready, write_block  # noqa: E402

LITELLM = Path(os.environ.get("LITELLM_BIN", ROOT / "bench" / ".venv-litellm" / "bin" / "litellm"))
BODY = {"model": "stub", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}


@dataclass
class Target:
    name: str
    url: str  # the chat completions URL
    headers: dict[str, str]


@contextmanager
def stub(workdir: Path) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, str(HERE / "stub.py"), "--port", str(port)]
    with _process(command, dict(os.environ), workdir / "stub.log") as process:
        url = f"http://127.0.0.1:{port}/v1"
        _wait_ready(f"{url}/models", process, workdir / "stub.log")
        yield url


def _levante_env(workdir: Path, upstream: str) -> dict[str, str]:
    env = os.environ | {
        "LEVANTE_DATA_DIR": str(workdir / "levante"),
        "LEVANTE_CONFIG_FILE": str(workdir / "none.toml"),
        "LEVANTE_MODELS": json.dumps([{"id": "stub", "upstreams": [{"url": upstream}]}]),
        "LEVANTE_TIERS": json.dumps(
            [
                {
                    "name": "bench",
                    "requests_per_second": 100_000,
                    "tokens_per_minute": 10**12,
                    "tokens_per_month": 10**15,
                }
            ]
        ),
        "LEVANTE_PRICE_REFRESH_SECONDS": "1",
        "LEVANTE_LOG_LEVEL": "warning",
    }
    env.pop("LEVANTE_DATABASE_URL", None)
    return env


@contextmanager
def levante(workdir: Path, upstream: str, workers: int = 1) -> Iterator[Target]:
    env = _levante_env(workdir, upstream)
    cli = [sys.executable, "-m", "levante"]

    def run(*args: str) -> str:
        return subprocess.run(
            [*cli, *args], env=env, check=True, capture_output=True, text=True
        ).stdout

    run("org", "create", "Bench")
    key = re.search(
        r"lv-[A-Za-z0-9_-]{40,}", run("key", "create", "--org", "bench", "--name", "load")
    )
    assert key
    run("limits", "spend", "--org", "bench", "1000000")
    run("price", "set", "stub", "--input", "0.1", "--output", "0.3")
    port = _free_port()
    log = workdir / "levante.log"
    if workers > 1:
        env["LEVANTE_REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    command = [*cli, "serve", "--port", str(port), "--workers", str(workers)]
    with _process(command, env, log) as process:
        _wait_ready(f"http://127.0.0.1:{port}/readyz", process, log)
        time.sleep(1.5)  # the price takes effect a refresh period after it is set
        name = "Levante" if workers == 1 else f"Levante, {workers} processes + Redis"
        yield Target(
            name,
            f"http://127.0.0.1:{port}/v1/chat/completions",
            {"Authorization": f"Bearer {key.group()}"},
        )


def ledger_rows(workdir: Path) -> int:
    import sqlite3

    with sqlite3.connect(workdir / "levante" / "levante.db") as db:
        return int(db.execute("select count(*) from usage_records").fetchone()[0])


@contextmanager
def litellm(workdir: Path, upstream: str, workers: int = 1) -> Iterator[Target]:
    config = workdir / "litellm.yaml"
    config.write_text(
        f"""model_list:
  - model_name: stub
    litellm_params:
      model: openai/stub
      api_base: {upstream}
      api_key: none
      rpm: 100000000
      tpm: 1000000000000
general_settings:
  master_key: sk-bench-master
litellm_settings:
  max_budget: 1000000
  budget_duration: 30d
"""
    )
    port = _free_port()
    log = workdir / "litellm.log"
    command = [str(LITELLM), "--config", str(config), "--port", str(port),
               "--num_workers", str(workers)]  # fmt: skip
    env = os.environ | {"LITELLM_LOG": "ERROR"}
    with _process(command, env, log) as process:
        _wait_ready(f"http://127.0.0.1:{port}/health/liveliness", process, log)
        name = "LiteLLM proxy" if workers == 1 else f"LiteLLM proxy, {workers} workers"
        yield Target(
            name,
            f"http://127.0.0.1:{port}/v1/chat/completions",
            {"Authorization": "Bearer sk-bench-master"},
        )


def _check(target: Target, stream: bool) -> None:
    response = httpx.post(target.url, json=BODY | {"stream": stream}, headers=target.headers)
    assert response.status_code == 200, (target.name, response.text)


def saturation(target: Target, workdir: Path, stream: bool, seconds: int, rounds: int) -> float:
    """Median requests/s of ``rounds`` wrk runs, 16 connections."""
    _check(target, stream)
    script = workdir / "wrk.lua"
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in target.headers.items())
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{json.dumps(BODY | {'stream': stream})}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n' + headers
    )
    results = []
    for _ in range(rounds):
        out = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", str(script), target.url],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        match = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert match, out
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        assert non2xx is None, (target.name, out)
        results.append(float(match.group(1)))
    return statistics.median(results)


def at_rate(target: Target, stream: bool, rate: float, seconds: float) -> Latencies:
    body = json.dumps(BODY | {"stream": stream}).encode()
    return asyncio.run(fixed_rate(target.url, body, target.headers, rate, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--write", type=Path, help="write the results into this markdown file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if not LITELLM.is_file():
        sys.exit(f"LiteLLM is needed at {LITELLM} (see the instructions at the top)")
    seconds, rounds, rate_seconds = (5, 1, 5.0) if args.quick else (10, 3, 15.0)
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    rows: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with stub(workdir) as upstream:
            direct = Target("stub alone", f"{upstream}/chat/completions", {})
            baseline = {s: at_rate(direct, s, 200, rate_seconds) for s in (False, True)}
            rows[direct.name] = {
                f"sat-{s}": f"{saturation(direct, workdir, s, seconds, rounds):,.0f}"
                for s in (False, True)
            }
            for s in (False, True):
                rows[direct.name][f"lat-{s}"] = _latency(baseline[s])
            for start in (
                lambda: levante(workdir, upstream),
                lambda: litellm(workdir, upstream),
            ):
                with start() as target:
                    row: dict[str, str] = {}
                    for s in (False, True):
                        row[f"sat-{s}"] = f"{saturation(target, workdir, s, seconds, rounds):,.0f}"
                        measured = at_rate(target, s, 200, rate_seconds)
                        row[f"lat-{s}"] = _added(measured, baseline[s])
                    if target.name == "Levante":
                        row["note"] = f"{ledger_rows(workdir):,} usage records written"
                    rows[target.name] = row
                    print(f"  {target.name}: {row}", flush=True)

    say("Requests/s at saturation (wrk, 16 connections, median of "
        f"{rounds} runs of {seconds} s); latency added over the stub alone at a fixed 200 "
        f"requests/s for {rate_seconds:g} s, p50 / p99 (a Python client, timed from each "
        "request's scheduled start to its last byte).")  # fmt: skip
    say()
    say("| | requests/s | streamed requests/s | added latency at 200/s | streamed, at 200/s |")
    say("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        say(f"| {name} | {row['sat-False']} | {row['sat-True']} | {row['lat-False']} | "
            f"{row['lat-True']} |")  # fmt: skip
    levante_row, litellm_row = rows["Levante"], rows["LiteLLM proxy"]
    for s, label in ((False, "non-streaming"), (True, "streaming")):
        ratio = float(levante_row[f"sat-{s}"].replace(",", "")) / float(
            litellm_row[f"sat-{s}"].replace(",", "")
        )
        say()
        say(f"Levante / LiteLLM at saturation, {label}: {ratio:.1f}x.")
    if "note" in levante_row:
        say()
        say(f"Levante's ledger after the run: {levante_row['note']}.")
    if args.write:
        write_block(args.write, "gateway", "\n".join(lines))


def _latency(measured: Latencies) -> str:
    return (f"{measured.median * 1000:.2f} / {measured.percentile(99) * 1000:.2f} ms "
            "(total)")  # fmt: skip


def _added(measured: Latencies, baseline: Latencies) -> str:
    if measured.errors or len(measured.seconds) < len(baseline.seconds) * 0.99:
        failed = f", {measured.errors} failed" if measured.errors else ""
    else:
        failed = ""
    p50 = (measured.median - baseline.median) * 1000
    p99 = (measured.percentile(99) - baseline.percentile(99)) * 1000
    if p99 > 1000:
        return f"{p50 / 1000:.1f} s / {p99 / 1000:.1f} s (cannot keep up{failed})"
    return f"{p50:.2f} / {p99:.2f} ms{failed}"


if __name__ == "__main__":
    main()
