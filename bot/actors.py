"""Who sent an update: the user's row, remembered briefly so the gate need not ask every time.

Every update passes the gate, which needs the sender's role and ban. Reading them from the
database for each update would be one more unit of work per update; instead the row is kept
for `ttl` seconds, and dropped at once when this process changes the user (a ban, an unban)
or when Telegram shows a new name. The bot is the one process that serves Telegram, so only a
ban written by another process (a script on the database) takes up to `ttl` to be seen.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from storage.models import User

DEFAULT_TTL = 30.0
DEFAULT_SIZE = 10_000


class Actors:
    """A small, bounded, expiring cache of `User` rows by Telegram id."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        size: int = DEFAULT_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._rows: OrderedDict[int, tuple[float, tuple[str | None, str], User]] = OrderedDict()

    def get(self, user_id: int, username: str | None, full_name: str) -> User | None:
        """The remembered row, if it is fresh and Telegram still shows the same names."""
        entry = self._rows.get(user_id)
        if entry is None:
            return None
        stored_at, names, user = entry
        if self._clock() - stored_at > self.ttl or names != (username, full_name):
            del self._rows[user_id]
            return None
        return user

    def remember(self, user: User, username: str | None, full_name: str) -> None:
        """Keep `user` (as loaded and committed) under the names Telegram showed."""
        self._rows[user.id] = (self._clock(), (username, full_name), user)
        self._rows.move_to_end(user.id)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def forget(self, user_id: int) -> None:
        """Drop a user whose row this process just changed."""
        self._rows.pop(user_id, None)
