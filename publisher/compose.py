"""Composition: one post per channel from a paper and its summary, within the channel's rules.

A short post is ``📄 title (First Author et al., year)``, a teaser of the summary (Markdown
stripped, LaTeX as Unicode), the link, and hashtags from the arXiv categories where room
allows. Length is measured the way the channel's platform counts it (`Limits.measure`);
titles and teasers are shortened at word boundaries, never inside a word, URL or formula.
A summary is rendered once and its text reused by every channel that posts it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markup import (
    split_html,
    telegram_length,
    to_feed_html,
    to_plain_text,
    to_telegram_html,
    truncate_words,
)
from publisher.channels.base import Limits, Post

TITLE_SHARE = 3  # a title takes at most a third of a short post
TEASER_CAP = 600  # even where posts may be long, a teaser stays a teaser
THREAD_MAX = 5
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_PARAGRAPHS = re.compile(r"\n{3,}")
MIN_TEASER = 120  # hashtags give way when they would leave the teaser less than this
RENDERED = 256  # summaries whose plain text is kept: each goes to every channel in turn
TAGS = {
    "cs.LG": "#MachineLearning",
    "stat.ML": "#MachineLearning",
    "cs.CV": "#ComputerVision",
    "cs.CL": "#NLP",
    "cs.AI": "#AI",
    "cs.NE": "#NeuralNetworks",
    "cs.RO": "#Robotics",
    "cs.IR": "#InformationRetrieval",
    "cs.CR": "#Security",
}


@dataclass(frozen=True, slots=True)
class Source:
    """What a post is made from: the summary and its paper."""

    publication_id: int
    summary_id: int
    title: str
    authors: Sequence[str]
    year: int | None
    categories: Sequence[str]
    body: str
    updated: datetime | None = None


@functools.lru_cache(maxsize=RENDERED)
def plain_text(body: str) -> str:
    """The summary as plain text: parsed and rendered once, reused by every channel's post."""
    return to_plain_text(body)


def one_line(text: str) -> str:
    """Collapse ordinary white space (not the no-break spaces that hold a formula together)."""
    return _SPACES.sub(" ", text).strip()


def family_name(author: str) -> str:
    """``He`` from ``He, Kaiming`` or ``Kaiming He``."""
    if "," in author:
        return author.split(",", 1)[0].strip()
    return author.split()[-1] if author.split() else author


def byline(source: Source) -> str:
    """``Zhang et al., 2016`` (as much as is known)."""
    parts = []
    if source.authors:
        first = family_name(source.authors[0])
        parts.append(first + (" et al." if len(source.authors) > 1 else ""))
    if source.year:
        parts.append(str(source.year))
    return ", ".join(parts)


def hashtags(categories: Sequence[str]) -> list[str]:
    """Hashtags for arXiv categories, without repeats."""
    tags = [TAGS.get(c, "#" + "".join(ch for ch in c if ch.isalnum())) for c in categories]
    return [t for t in dict.fromkeys(tags) if len(t) > 1]


def _short_text(
    source: Source, link: str, limits: Limits, *, teaser_cap: int | None, with_link: bool
) -> str:
    measure, limit = limits.measure, limits.max_length
    title = truncate_words(one_line(source.title), max(limit // TITLE_SHARE, 10), measure)
    credit = byline(source)
    head = f"📄 {title}" + (f" ({credit})" if credit else "")
    tail = [link] if with_link else []

    def assemble(teaser: str, tags: Sequence[str]) -> str:
        blocks = [head, teaser, "\n".join([*tail, " ".join(tags)]).strip()]
        return "\n\n".join(b for b in blocks if b)

    tags = hashtags(source.categories)
    while tags and limit - measure(assemble("", tags)) < MIN_TEASER:
        tags.pop()  # hashtags only where room allows: the teaser comes first
    budget = limit - measure(assemble("", tags)) - 2
    if teaser_cap is not None:
        budget = min(budget, teaser_cap)
    plain = plain_text(source.body)
    flat = one_line(plain) if teaser_cap is None else _PARAGRAPHS.sub("\n\n", plain).strip()
    teaser = truncate_words(flat, max(budget, 0), measure)
    text = assemble(teaser, tags)
    while measure(text) > limit and teaser:  # weights are not additive everywhere: make sure
        budget -= max(1, budget // 10)
        teaser = truncate_words(teaser, max(budget, 0), measure)
        text = assemble(teaser, tags)
    return text


def key_points(body: str, limits: Limits) -> tuple[str, ...]:
    """A short numbered thread of the summary's first list items, each within the limit."""
    items = [line[2:].strip() for line in plain_text(body).splitlines() if line.startswith("• ")]
    items = [item for item in items if item][:THREAD_MAX]
    total = len(items)
    thread = []
    for number, item in enumerate(items, start=1):
        prefix = f"{number}/{total} "
        room = limits.max_length - limits.measure(prefix)
        thread.append(prefix + truncate_words(one_line(item), room, limits.measure))
    return tuple(thread)


def compose_short(
    source: Source,
    link: str,
    limits: Limits,
    *,
    teaser_cap: int | None = None,
    thread: bool = False,
) -> Post:
    """A post for a short-form network (X, Mastodon, Bluesky, Facebook)."""
    text = _short_text(source, link, limits, teaser_cap=teaser_cap, with_link=limits.link_required)
    return Post(
        publication_id=source.publication_id,
        summary_id=source.summary_id,
        text=text,
        link=link,
        title=source.title,
        thread=key_points(source.body, limits) if thread else (),
        updated=source.updated,
    )


def compose_telegram(source: Source, link: str, limit: int = 4096) -> Post:
    """The Telegram channel's post: the rendered summary under a title, cut to one message."""
    credit = byline(source)
    head = f"📄 <b>{escape(source.title)}</b>" + (f"\n<i>{escape(credit)}</i>" if credit else "")
    more = f'\n\n<a href="{escape(link)}">Read and vote on ShortSci</a>'
    room = limit - telegram_length(head + "\n\n" + more)
    body = split_html(to_telegram_html(source.body), room)[0]
    html = f"{head}\n\n{body}{more}"
    plain = _short_text(source, link, Limits(limit), teaser_cap=None, with_link=True)
    return Post(
        publication_id=source.publication_id,
        summary_id=source.summary_id,
        text=plain,
        link=link,
        title=source.title,
        html=html,
        updated=source.updated,
    )


def compose_feed(source: Source, link: str) -> Post:
    """The Atom entry: the full rendered summary."""
    credit = byline(source)
    summary = plain_text(source.body)
    return Post(
        publication_id=source.publication_id,
        summary_id=source.summary_id,
        text=truncate_words(one_line(summary), TEASER_CAP),
        link=link,
        title=source.title + (f" ({credit})" if credit else ""),
        html=to_feed_html(source.body),
        updated=source.updated,
    )


Composer = Callable[[Source, str, Limits], Post]


def composer_for(channel: str, *, x_thread: bool = False) -> Composer:
    """How posts for `channel` are made."""
    if channel == "telegram":
        return lambda source, link, limits: compose_telegram(source, link, limits.max_length)
    if channel == "atom":
        return lambda source, link, limits: compose_feed(source, link)
    if channel == "facebook":
        return lambda source, link, limits: compose_short(
            source, link, limits, teaser_cap=TEASER_CAP
        )
    if channel == "x":
        return lambda source, link, limits: compose_short(source, link, limits, thread=x_thread)
    return lambda source, link, limits: compose_short(source, link, limits)
