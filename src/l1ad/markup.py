"""Escaping text that came from users or files before it is rendered into Markdown (HTML in it included)."""

from __future__ import annotations

import html
import re

# What could add a column (|), start code, emphasis, a link or an image; "<", ">" and "&" are HTML-escaped first.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]()!|])")


def markdown_cell(text: object) -> str:
    """``text`` safe inside a Markdown table cell: one line, HTML escaped, Markdown punctuation backslashed, so a
    name can neither add a row or column nor inject markup or links."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=True))
