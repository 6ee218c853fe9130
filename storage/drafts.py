"""Drafts: text a user sends over several messages, kept in the database until done.

One draft per user. Starting a new one while another holds text is refused, so nothing a
user typed is dropped silently; `/cancel` (`drop_draft`) is the explicit way out.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Draft, DraftKind, User, utcnow
from storage.summaries import MAX_LENGTH

PART_SEPARATOR = "\n\n"


class DraftInProgress(Conflict):
    """The user already has a draft with text in it."""

    def __init__(self, draft: Draft) -> None:
        super().__init__(
            "You have an unfinished draft. Send /done to finish it or /cancel to drop it first."
        )
        self.draft = draft


async def get_draft(session: AsyncSession, user_id: int) -> Draft | None:
    """The user's current draft, if any."""
    return await session.get(Draft, user_id)


async def start_draft(
    session: AsyncSession,
    user: User,
    kind: DraftKind,
    *,
    paper_id: int | None = None,
    target_id: int | None = None,
    body: str = "",
) -> Draft:
    """Begin a draft; an empty or identical draft is replaced, one with text is kept."""
    draft = await session.get(Draft, user.id)
    if draft is not None:
        same = (draft.kind, draft.paper_id, draft.target_id) == (kind, paper_id, target_id)
        if draft.body and not same:
            raise DraftInProgress(draft)
        if same:
            return draft
        await session.delete(draft)
        await session.flush()
    now = utcnow()
    draft = Draft(
        user_id=user.id,
        kind=kind,
        paper_id=paper_id,
        target_id=target_id,
        body=body,
        parts=1 if body else 0,
        created_at=now,
        updated_at=now,
    )
    session.add(draft)
    await session.flush()
    return draft


async def append_to_draft(session: AsyncSession, user_id: int, text: str) -> Draft:
    """Add one message's text to the draft (messages are joined as paragraphs)."""
    draft = await session.get(Draft, user_id)
    if draft is None:
        raise NotFound("There is no draft to add to. Start one with /submit <paper>.")
    addition = text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
    if not addition:
        return draft
    combined = f"{draft.body}{PART_SEPARATOR}{addition}" if draft.body else addition
    if draft.kind is not DraftKind.REJECT_REASON and len(combined) > MAX_LENGTH:
        raise InvalidInput(
            f"That would make the draft {len(combined):,} characters, over the "
            f"{MAX_LENGTH:,} limit; the draft still has its first {len(draft.body):,}. "
            "Send /done to review it, or a shorter addition."
        )
    draft.body = combined
    draft.parts += 1
    draft.updated_at = utcnow()
    await session.flush()
    return draft


async def drop_draft(session: AsyncSession, user_id: int) -> Draft | None:
    """Delete the user's draft and return what it was, if there was one."""
    draft = await session.get(Draft, user_id)
    if draft is not None:
        await session.delete(draft)
        await session.flush()
    return draft


async def set_draft_body(session: AsyncSession, user_id: int, body: str, *, parts: int) -> Draft:
    """Replace the draft's text (a form's fields so far) and its step count."""
    draft = await session.get(Draft, user_id)
    if draft is None:
        raise NotFound("There is nothing in progress any more; start again.")
    draft.body, draft.parts, draft.updated_at = body, parts, utcnow()
    await session.flush()
    return draft
