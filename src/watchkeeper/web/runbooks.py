"""The default pack's runbooks as a dashboard page (``/runbooks``).

Every alert of the pack carries ``runbook_url: /runbooks#<alert>``; the
page is the Markdown file shipped beside the rules
(``rules/default_pack/runbooks.md``), rendered once with markdown-it (raw
HTML off), each heading given the anchor GitHub would give it, so the same
links work on the dashboard, in notifications and when reading the file.
"""

from __future__ import annotations

import re
from functools import cache
from html import unescape
from importlib import resources

__all__ = ["anchor", "runbook_anchors", "runbooks_html"]

_HEADING = re.compile(r"<h([23])>(.*?)</h\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces as ``-``."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


def _source() -> str:
    return (resources.files("watchkeeper.rules") / "default_pack" / "runbooks.md").read_text(
        encoding="utf-8"
    )


@cache
def runbooks_html() -> str:
    """The page's body: headings with ids, links that leave the page marked as such."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": False}).render(_source())

    def with_id(m: re.Match[str]) -> str:
        level, inner = m.group(1), m.group(2)
        return f'<h{level} id="{anchor(unescape(_TAG.sub("", inner)))}">{inner}</h{level}>'

    return _HEADING.sub(with_id, html)


def runbook_anchors() -> set[str]:
    """The anchors the page has (for checking every rule's ``runbook_url``)."""
    return set(re.findall(r'<h[23] id="([^"]+)"', runbooks_html()))
