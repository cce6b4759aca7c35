"""The security headers of every response, set in one place.

A page (any HTML response) runs only scripts and styles served by Levante itself, cannot be
framed by another site, sends no address of its own to other sites, and is never stored by a
browser or a proxy (it may show an API key's secret, an invoice, a conversation). Every other
response is not sniffed into another type, and is not stored either unless it is a static
asset, whose address changes with its content. Behind https, browsers are told to stay on it.

Pure ASGI (like :mod:`levante.api.middleware`): streams pass through untouched.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.responses import FileResponse, HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script, no style attribute, no plugin, no other origin: Chart.js and the pages'
# scripts set styles through the CSSOM, which a policy does not restrict.
_PAGE_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_HSTS = "max-age=31536000"


def content_security_policy(**directives: str) -> str:
    """The pages' policy, with ``directives`` (``script_src="'self' 'sha256-…'"``) replacing
    or adding to its own."""
    policy = dict(_PAGE_POLICY)
    policy.update({name.replace("_", "-"): value for name, value in directives.items()})
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def inline_hashes(html: str, tag: str) -> list[str]:
    """The hash sources (``'sha256-…'``) of the document's inline ``<script>`` or ``<style>``
    blocks, for a policy that admits exactly those."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, re.DOTALL)
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in blocks
    ]


# What a customer's upload is served as when its declared type is one of these: types a
# browser shows without running anything. Any other (HTML, SVG, XML, scripts) is served as
# bytes to save.
_INERT_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    "text/csv", "application/json", "application/zip",
})  # fmt: skip
_DOWNLOAD_POLICY = "default-src 'none'; sandbox"


def download(path: str, *, content_type: str, filename: str) -> FileResponse:
    """A file someone uploaded, as a download: its type kept only when inert, never sniffed,
    and under a policy that runs nothing should a browser open it anyway."""
    declared = content_type.split(";", 1)[0].strip().lower()
    return FileResponse(
        path,
        media_type=declared if declared in _INERT_TYPES else "application/octet-stream",
        filename=filename,
        content_disposition_type="attachment",
        headers={"x-content-type-options": "nosniff", "content-security-policy": _DOWNLOAD_POLICY},
    )


def standalone_document(html: str, *, status_code: int = 200) -> HTMLResponse:
    """A document that carries its own style sheet, so that it keeps its look when saved (an
    invoice, the page back from a payment): its policy admits that sheet, by its hash."""
    policy = content_security_policy(style_src=" ".join(["'self'", *inline_hashes(html, "style")]))
    return HTMLResponse(html, status_code, headers={"content-security-policy": policy})


class SecurityHeadersMiddleware:
    """Adds the headers above to every response; a header a route set itself (a page with a
    policy of its own, a stream's ``Cache-Control``) is kept."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: bool,
        form_targets: Sequence[str] = (),
        cacheable: Sequence[str] = (),  # path prefixes of the static assets
    ) -> None:
        self.app = app
        # Chromium holds the redirect that follows a form to form-action too: a payment
        # provider's page, where buying a plan or credits continues, is allowed by origin.
        self.policy = content_security_policy(form_action=" ".join(("'self'", *form_targets)))
        self.https = https
        self.cacheable = tuple(cacheable)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith(self.cacheable)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), cacheable)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, cacheable: bool) -> None:
        headers.setdefault("x-content-type-options", "nosniff")
        if self.https:
            headers.setdefault("strict-transport-security", _HSTS)
        if "set-cookie" in headers:
            # A stored Set-Cookie would hand one person's session to the next.
            headers["cache-control"] = "no-store"
        elif not cacheable:
            headers.setdefault("cache-control", "no-store")
        if headers.get("content-type", "").startswith("text/html"):
            headers.setdefault("content-security-policy", self.policy)
            headers.setdefault("x-frame-options", "DENY")
            headers.setdefault("referrer-policy", "same-origin")
