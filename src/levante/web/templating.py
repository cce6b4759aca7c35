"""Pages rendered with Jinja2 (autoescaped), and the static assets they load, all served by
Levante itself: nothing comes from a CDN."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.datastructures import ImmutableMultiDict
from starlette.responses import HTMLResponse

from levante import __version__
from levante.pricing import format_cents, to_cents
from levante.support import describe_minutes, duration
from levante.web.forms import Refused
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
templates.env.filters["cents"] = format_cents  # an amount in cents: 1,234.50


def _refused_form(context: Context, action: str) -> Refused | None:
    refused = context.get("refused")
    return refused if isinstance(refused, Refused) and refused.action == action else None


@pass_context
def _refusal(context: Context, action: str) -> Markup:
    """Why the form posting to ``action`` was refused, to show beside it (nothing for the
    other forms of the page)."""
    refused = _refused_form(context, action)
    if refused is None:
        return Markup("")
    context["refusal_shown"].append(action)
    return Markup('<p class="notice error" role="alert" data-testid="refusal">{}</p>').format(
        refused.message
    )


@pass_context
def _typed(context: Context, action: str) -> ImmutableMultiDict[str, str]:
    """What was typed into the form posting to ``action``, when it was refused."""
    refused = _refused_form(context, action)
    return refused.typed if refused is not None else ImmutableMultiDict()


templates.env.globals["refusal"] = _refusal
templates.env.globals["typed"] = _typed


def page(
    request: Request,
    template: str,
    who: Visitor,
    *,
    status_code: int = 200,
    refused: Refused | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` for the visitor (their CSRF token and signed-in user included, and
    the notice the server left for this page, as ``flash``); with ``refused``, as the form's
    page again, in the refusal's status and headers (``Retry-After``). The reason shows beside
    the form; should the page not show this person that form (it is for the organisation's
    admins, or for agents), it is rendered again with the reason on top, so that a refusal is
    never silent."""
    flash = who.user.notice if who.user is not None else None
    shown: list[str] = []
    values = {
        "who": who, "user": who.user, "csrf_token": who.csrf_token, "flash": flash,
        "refused": refused, "refusal_shown": shown, **context,
    }  # fmt: skip
    if refused is None:
        return templates.TemplateResponse(request, template, values, status_code=status_code)
    response = templates.TemplateResponse(
        request, template, values, status_code=refused.status_code
    )
    if not shown:  # the page does not show this person that form: the reason goes on top
        values["refused_elsewhere"] = True
        response = templates.TemplateResponse(
            request, template, values, status_code=refused.status_code
        )
    response.headers.update(refused.headers)
    return response
