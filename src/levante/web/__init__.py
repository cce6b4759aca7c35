"""The web front end: the HTML pages beside the API, served by the same ``levante serve``.

One module per product (``chat`` now; the support portal and the consoles go beside it),
with the identity pages, sessions and CSRF, the templates and the static assets they share.
A page handler parses the form or query, calls the owning package's service, and renders:
no SQL and no business rule here.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from levante.errors import LevanteError
from levante.web import account, chat, support, team
from levante.web.console import customer_router, operator_router
from levante.web.identity import Visitor
from levante.web.templating import STATIC, STATIC_PATH, page

__all__ = ["STATIC_PATH", "install_web"]


def install_web(app: FastAPI) -> None:
    """Mount the pages, the static assets and the HTML error page on ``app``."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="static")
    app.include_router(account.router)
    app.include_router(chat.router)
    app.include_router(team.router)
    app.include_router(support.router)
    app.include_router(operator_router)
    app.include_router(customer_router)
    app.state.render_error_page = render_error_page


def render_error_page(request: Request, error: LevanteError) -> Response:
    """A refusal as a page a person can read (the API's paths keep their JSON body)."""
    who = Visitor(None, "")
    titles = {404: "Not found", 403: "Not allowed", 429: "Slow down", 400: "Not quite"}
    response = page(
        request,
        "error.html",
        who,
        title=titles.get(error.status_code, "Something went wrong"),
        message=error.message,
        status_code=error.status_code,
    )
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
