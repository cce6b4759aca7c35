"""Markdown from a model or a person, rendered to HTML that runs nothing.

markdown-it renders CommonMark with tables, with raw HTML off (a ``<script>`` in the text is
text); nh3 then keeps only the tags and attributes the chat displays, and links only to
http(s) and mail addresses, so that nothing a model writes can run in the reader's browser.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)

_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
    "img",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},  # language-xyz, from a fenced block's info string
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
    "img": {"src", "alt", "title"},
}


def render_markdown(text: str) -> Markup:
    html = _md.render(text)
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    return Markup(clean)
