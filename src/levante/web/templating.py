"""Pages rendered with Jinja2 (autoescaped), and the static assets they load, all served by
Levante itself: nothing comes from a CDN."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from levante import __version__
from levante.pricing import format_cents, to_cents
from levante.support import describe_minutes, duration
from levante.web.identity import Visitor
from levante.web.markdown import render_markdown

ROOT = Path(__file__).parent
STATIC = ROOT / "static"
STATIC_PATH = "/static"


def _asset_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


ASSET_VERSION = _asset_version()

templates = Jinja2Templates(directory=ROOT / "templates")
templates.env.globals["asset"] = lambda name: f"{STATIC_PATH}/{name}?v={ASSET_VERSION}"
templates.env.filters["markdown"] = render_markdown


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


templates.env.filters["when"] = _when


def _left(value: timedelta | None) -> str:
    """A time left as ``2 h 05 min``; past it, ``15 min over``."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(abs(minutes), 60)
    days, hours = divmod(hours, 24)
    text = (
        (f"{days} d " if days else "")
        + (f"{hours} h " if hours or days else "")
        + f"{rest:02d} min"
    )
    return f"{text} over" if minutes < 0 else text


templates.env.filters["left"] = _left
templates.env.filters["minutes"] = describe_minutes
templates.env.filters["duration"] = duration


def money(nanos: int) -> str:
    """An amount on a page: to the cent, with thousands separators (1,234.50)."""
    return format_cents(to_cents(nanos))


templates.env.filters["money"] = money


def page(
    request: Request,
    template: str,
    who: Visitor,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for the visitor (their CSRF token and signed-in user included, and
    the notice the server left for this page, as ``flash``)."""
    flash = who.user.notice if who.user is not None else None
    return templates.TemplateResponse(
        request,
        template,
        {"who": who, "user": who.user, "csrf_token": who.csrf_token, "flash": flash, **context},
        status_code=status_code,
    )
