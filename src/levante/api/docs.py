"""The API reference at ``/docs`` (Swagger UI) and ``/redoc``, served entirely by Levante.

FastAPI's own pages load their scripts and styles from a CDN and a favicon from another site,
so on an air-gapped deployment they stay blank. The same assets come here from the
``fastapi-offline`` package (installed from the registry like every other dependency) and
are served under ``/docs/assets``. The OpenAPI document declares the bearer key, so that
"Authorize" in Swagger UI sends ``Authorization: Bearer <key>``.

Both pages are third-party applications that inject styles and start from an inline script
(Swagger UI) or a web worker (ReDoc); they have a Content-Security-Policy of their own, the
pages' policy with that script admitted by its hash, inline styles and blob workers.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from levante.api.headers import content_security_policy, inline_hashes

ASSETS = "/docs/assets"
BEARER = "bearer"
# Routes a caller reaches without an API key.
_OPEN = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/licensing/",
    "/v1/billing/webhooks/",
    "/v1/invitations/",
)


def install_docs(app: FastAPI) -> None:
    """Serve the reference pages and their assets, and declare bearer auth in the schema."""
    static = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    title = f"{app.title} API"

    swagger_body, swagger_headers = _with_policy(
        get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            # No badge from validator.swagger.io; keep the key across reloads.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )
    )
    redoc_body, redoc_headers = _with_policy(
        get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return HTMLResponse(swagger_body, headers=swagger_headers)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_body, headers=redoc_headers)

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            document.setdefault("components", {})["securitySchemes"] = {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (lv-…): 'Authorization: Bearer <key>'.",
                }
            }
            for path, operations in document.get("paths", {}).items():
                if path.startswith(_OPEN):
                    continue
                for operation in operations.values():
                    operation["security"] = [{BEARER: []}]
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]


def _with_policy(page: HTMLResponse) -> tuple[bytes, dict[str, str]]:
    """The page's body, and its own Content-Security-Policy: its inline scripts admitted by
    their hashes."""
    body = bytes(page.body)
    policy = content_security_policy(
        script_src=" ".join(["'self'", *inline_hashes(body.decode(), "script")]),
        style_src="'self' 'unsafe-inline'",
        worker_src="'self' blob:",
    )
    return body, {"content-security-policy": policy}
