"""Markdown from a model or a person, rendered to HTML that runs and loads nothing.

markdown-it renders CommonMark with tables, with raw HTML off (a ``<script>`` in the text is
text); nh3 then keeps only the tags and attributes the chat displays, and links only to
http(s) and mail addresses, so that nothing a model writes can run in the reader's browser.

An image becomes a link to it (its alt text, or its address): an ``<img>`` would be fetched
from its host as soon as the page opens, telling that host who read the text, and whatever a
prompt injection put in the address. A table column's alignment is a class rather than a
``style`` attribute, which the pages' Content-Security-Policy refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markupsafe import Markup

_ALIGNMENTS = ("left", "center", "right")

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},  # language-xyz, from a fenced block's info string
    "ol": {"start"},
}
_CELL_CLASSES = {"class": {f"align-{side}" for side in _ALIGNMENTS}}


def _image_as_link(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An image as a link to it; inside a link, just its text (the link stays)."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    text = escapeHtml(alt or src)
    if _inside_link(tokens, idx):
        return text
    title = token.attrGet("title")
    titled = f' title="{escapeHtml(str(title))}"' if title else ""
    return f'<a href="{escapeHtml(src)}"{titled}>{text}</a>'


def _inside_link(tokens: Sequence[Token], idx: int) -> bool:
    depth = 0
    for token in tokens[:idx]:
        depth += {"link_open": 1, "link_close": -1}.get(token.type, 0)
    return depth > 0


def _aligned_cell(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """A table cell with its column's alignment as a class (``align-right``)."""
    token = tokens[idx]
    side = str(token.attrs.pop("style", "")).removeprefix("text-align:")
    if side in _ALIGNMENTS:
        token.attrSet("class", f"align-{side}")
    rendered: str = renderer.renderToken(tokens, idx, options, env)
    return rendered


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_md.add_render_rule("image", _image_as_link)
_md.add_render_rule("th_open", _aligned_cell)
_md.add_render_rule("td_open", _aligned_cell)


def render_markdown(text: str) -> Markup:
    html = _md.render(text)
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        tag_attribute_values={"th": _CELL_CLASSES, "td": _CELL_CLASSES},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)
