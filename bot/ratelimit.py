"""Per-user limits against spam: a sliding window per (user, kind of action)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` actions in `seconds`."""

    count: int
    seconds: float


DEFAULT_LIMITS = {
    "update": Limit(40, 60.0),  # anything at all
    "lookup": Limit(20, 60.0),  # /paper, /search, links, inline queries
    "submit": Limit(10, 3600.0),  # summaries submitted
}


class RateLimiter:
    """Counts each user's recent actions of each kind, in memory."""

    def __init__(
        self,
        limits: dict[str, Limit] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits or DEFAULT_LIMITS
        self._clock = clock
        self._events: defaultdict[tuple[int, str], deque[float]] = defaultdict(deque)

    def hit(self, user_id: int, kind: str) -> float | None:
        """Record an action; returns None if allowed, else seconds until it would be."""
        limit = self._limits.get(kind)
        if limit is None:
            return None
        now = self._clock()
        events = self._events[(user_id, kind)]
        while events and now - events[0] >= limit.seconds:
            events.popleft()
        if len(events) >= limit.count:
            return limit.seconds - (now - events[0])
        events.append(now)
        return None
