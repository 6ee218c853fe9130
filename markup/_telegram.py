"""Layout of Markdown as Telegram Bot API HTML (``parse_mode="HTML"``).

Telegram accepts only a few tags and forbids some nestings: nothing inside ``code``/``pre``
(except ``pre > code``), no link inside a link, no blockquote inside a blockquote, and code
should not sit inside bold/italic/strike. So inline code closes the formatting around it and
reopens it after, code inside a link text is plain text, and a nested quote becomes lines
prefixed with "» " inside the outer one.
"""

from __future__ import annotations

import re

from markdown_it.token import Token

from markup._render import BlockRenderer, math_text, plain_inline

_FORMAT_TAGS = {"strong": "b", "em": "i", "s": "s"}
_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.\-]{1,32}")
_EMPTY_TAG = re.compile(r"<(b|i|s)></\1>")


def escape_text(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` the way Telegram's HTML parser expects."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attr(text: str) -> str:
    """Escape text for a double-quoted attribute value."""
    return escape_text(text).replace('"', "&quot;")


class TelegramRenderer(BlockRenderer):
    """Renders a markdown-it token stream to Telegram HTML."""

    def escape(self, text: str) -> str:
        return escape_text(text)

    def heading(self, text: str) -> str:
        return drop_empty_tags(f"<b>{text}</b>") if text.strip() else ""

    def header_cell(self, text: str) -> str:
        return drop_empty_tags(f"<b>{text}</b>") if text.strip() else text

    def code(self, content: str, language: str) -> str:
        body = escape_text(content)
        if _LANGUAGE.fullmatch(language):
            return f'<pre><code class="language-{language}">{body}</code></pre>'
        return f"<pre>{body}</pre>"

    def quote(self, text: str) -> str:
        if self.quote_depth:  # inside another quote: Telegram cannot nest blockquotes
            return self.indent(text, "» ")
        return f"<blockquote>{text}</blockquote>"

    def indent(self, text: str, prefix: str) -> str:
        """Prefix lines, leaving the content of ``<pre>`` blocks untouched."""
        lines: list[str] = []
        in_pre = False
        for line in text.split("\n"):
            lines.append(prefix + line if line and not in_pre else line)
            if "</pre>" in line:
                in_pre = False
            elif "<pre" in line:
                in_pre = True
        return "\n".join(lines)

    def inline(self, tokens: list[Token], outer: tuple[str, ...] = ()) -> str:
        out: list[str] = []
        stack: list[str] = list(outer)
        link_start, link_href = -1, ""
        for token in tokens:
            kind = token.type
            if kind == "text":
                out.append(escape_text(token.content))
            elif kind in {"softbreak", "hardbreak"}:
                out.append("\n")
            elif kind == "math_inline":
                out.append(escape_text(math_text(token.content)))
            elif kind == "code_inline":
                body = escape_text(token.content)
                if "a" in stack:
                    out.append(body)
                else:
                    out.extend(f"</{tag}>" for tag in reversed(stack))
                    out.append(f"<code>{body}</code>")
                    out.extend(f"<{tag}>" for tag in stack)
            elif kind == "link_open":
                link_href = str(token.attrGet("href") or "")
                link_start = len(out)
                stack.append("a")
                out.append(f'<a href="{escape_attr(link_href)}">')
            elif kind == "link_close":
                if not "".join(out[link_start + 1 :]).strip():  # no link text: show the address
                    out.append(escape_text(link_href))
                if stack and stack[-1] == "a":
                    stack.pop()
                out.append("</a>")
            elif kind == "image":
                alt = plain_inline(token.children or []).strip() or "image"
                src = escape_attr(str(token.attrGet("src") or ""))
                out.append(f'<a href="{src}">{escape_text(alt)}</a>')
            elif kind.endswith("_open") and kind[:-5] in _FORMAT_TAGS:
                tag = _FORMAT_TAGS[kind[:-5]]
                stack.append(tag)
                out.append(f"<{tag}>")
            elif kind.endswith("_close") and kind[:-6] in _FORMAT_TAGS:
                tag = _FORMAT_TAGS[kind[:-6]]
                if stack and stack[-1] == tag:
                    stack.pop()
                out.append(f"</{tag}>")
            else:
                out.append(escape_text(token.content))
        return drop_empty_tags("".join(out))


def drop_empty_tags(html: str) -> str:
    """Remove formatting tags left empty (``<b></b>``), e.g. by code closing them."""
    while True:
        cleaned = _EMPTY_TAG.sub("", html)
        if cleaned == html:
            return html
        html = cleaned
