"""Users: recorded on first contact, with roles from configuration and bans by moderators."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import NotFound, PermissionDenied
from storage.ids import MAX_USER_ID, parse_id
from storage.models import Role, User


def is_moderator(user: User) -> bool:
    """Whether `user` may moderate (moderators and admins)."""
    return user.role in (Role.MODERATOR, Role.ADMIN) and not user.banned


async def ensure_user(
    session: AsyncSession,
    user_id: int,
    *,
    username: str | None = None,
    display_name: str = "",
    admins: frozenset[int] = frozenset(),
) -> User:
    """The user with this Telegram id, created or refreshed; admins come from settings."""
    user = await session.get(User, user_id)
    if user is None:
        user = User(id=user_id, role=Role.MEMBER, banned=False)
        session.add(user)
    user.username = username
    user.display_name = display_name[:255]
    if user_id in admins:
        user.role = Role.ADMIN
    elif user.role is Role.ADMIN:
        user.role = Role.MEMBER  # no longer listed in SHORTSCI_ADMINS
    await session.flush()
    return user


async def find_user(session: AsyncSession, handle: str) -> User | None:
    """A user by numeric id or ``@username``."""
    handle = handle.strip()
    user_id = parse_id(handle, MAX_USER_ID)
    if user_id is not None:
        return await session.get(User, user_id)
    name = handle.removeprefix("@")
    user: User | None = await session.scalar(select(User).where(User.username == name))
    return user


async def set_banned(session: AsyncSession, actor: User, target_id: int, banned: bool) -> User:
    """Ban or unban a user; moderators only, and never another moderator."""
    if not is_moderator(actor):
        raise PermissionDenied("Only moderators can ban users.")
    target = await session.get(User, target_id)
    if target is None:
        raise NotFound("I don't know that user.")
    if is_moderator(target):
        raise PermissionDenied("Moderators cannot be banned.")
    target.banned = banned
    await session.flush()
    return target
