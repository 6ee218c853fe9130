"""Papers no service knows, entered by moderators, and aliases attached to papers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from storage.catalog.arxiv_source import PaperData
from storage.catalog.refs import PaperRef, RefKind, parse_reference
from storage.catalog.store import add_aliases, find_paper, store_paper
from storage.errors import Conflict, InvalidInput, PermissionDenied
from storage.models import Paper, User
from storage.users import is_moderator


def alias_ref(text: str) -> PaperRef:
    """A DBLP key or DOI a moderator wants to attach, parsed; anything else is refused."""
    ref = parse_reference(text)
    if ref.kind is RefKind.TITLE:
        raise InvalidInput(
            f"{text!r} is not a DBLP key or DOI (for example conf/nips/KrizhevskySH12)."
        )
    return ref


async def add_manual_paper(
    session: AsyncSession, moderator: User, data: PaperData, *, aliases: Sequence[str] = ()
) -> Paper:
    """Store a paper entered by hand, with DBLP keys or DOIs as aliases (moderators only)."""
    if not is_moderator(moderator):
        raise PermissionDenied("Only moderators can add papers by hand.")
    if not data.title.strip():
        raise InvalidInput("A paper needs a title.")
    refs = [alias_ref(a) for a in aliases]
    if data.doi:
        refs.append(PaperRef(RefKind.DOI, data.doi.lower()))
    for ref in refs:
        existing = await find_paper(session, ref)
        if existing is not None:
            raise Conflict(f"{ref.value} already names paper #{existing.id}: {existing.title}")
    data.source = "manual"
    paper = await store_paper(session, data)
    await add_aliases(session, paper.id, [r.alias for r in refs if r.kind is RefKind.DBLP])
    return paper
