"""The web front end: the HTML pages beside the API, served by the same ``levante serve``.

One module per product (the chat and its team, the support desk, the consoles), with the
identity pages, sessions and CSRF, the dependencies every page takes (``depends``), the one
refusal policy (``forms`` for a form's refusal, ``refusals`` for the rest), the templates and
the static assets they share. A page handler parses the form or query, calls the owning
package's service, and renders: no SQL and no business rule here.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from levante.web import account, chat, support, team
from levante.web.console import customer_router, operator_router
from levante.web.depends import SignInRequired
from levante.web.refusals import render_error_page, sign_in_first
from levante.web.templating import STATIC, STATIC_PATH

__all__ = ["STATIC_PATH", "install_web"]


def install_web(app: FastAPI) -> None:
    """Mount the pages, the static assets and the refusal policy on ``app``."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="static")
    app.include_router(account.router)
    app.include_router(chat.router)
    app.include_router(team.router)
    app.include_router(support.router)
    app.include_router(operator_router)
    app.include_router(customer_router)
    app.add_exception_handler(SignInRequired, sign_in_first)
    app.state.render_error_page = render_error_page
