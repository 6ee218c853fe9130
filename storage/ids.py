"""Parsing the numbers people type as ids: ASCII digits only, within the database's range."""

from __future__ import annotations

import re

MAX_ROW_ID = 2**31 - 1  # integer primary keys (PostgreSQL INTEGER)
MAX_USER_ID = 2**63 - 1  # Telegram user ids (BIGINT)
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(text: str, maximum: int = MAX_ROW_ID) -> int | None:
    """The id `text` names, or None: "²", "٣", "-5" and 10**30 are not ids."""
    candidate = text.strip().lstrip("#")
    if not _DIGITS.fullmatch(candidate):
        return None
    value = int(candidate)
    return value if value <= maximum else None
