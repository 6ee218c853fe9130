"""Layout of Markdown as plain text (social post teasers)."""

from __future__ import annotations

from markdown_it.token import Token

from markup._render import BlockRenderer, math_text, plain_inline


class PlainRenderer(BlockRenderer):
    """Renders a markdown-it token stream to plain text with Unicode math and "•" bullets."""

    def __init__(self, *, keep_urls: bool = False) -> None:
        super().__init__()
        self.keep_urls = keep_urls

    def heading(self, text: str) -> str:
        return text

    def inline(self, tokens: list[Token], outer: tuple[str, ...] = ()) -> str:
        out: list[str] = []
        link_start, link_href = 0, ""
        for token in tokens:
            kind = token.type
            if kind in {"softbreak", "hardbreak"}:
                out.append("\n")
            elif kind == "math_inline":
                out.append(math_text(token.content))
            elif kind == "link_open":
                link_start, link_href = len(out), str(token.attrGet("href") or "")
            elif kind == "link_close":
                text = "".join(out[link_start:]).strip()
                if not text:
                    out.append(link_href)
                elif self.keep_urls and text != link_href:
                    out.append(f" ({link_href})")
            elif kind == "image":
                alt = plain_inline(token.children or []).strip()
                src = str(token.attrGet("src") or "")
                out.append(f"{alt} ({src})".strip() if self.keep_urls else alt)
            elif kind in {"text", "code_inline", "html_inline"}:
                out.append(token.content)
        return "".join(out)
