"""Callback data: what each inline button asks for, in at most 64 bytes.

Every button's data is ``<action>:<args>``. `parse` accepts only the shapes below; anything
else (forged, from an old version, truncated) is None, and the handler answers politely.
Buttons carry ids only: who may act is always checked again on press.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from storage.ids import MAX_ROW_ID


class Action(StrEnum):
    """The things a button can do."""

    VOTE = "v"  # v:<summary>:<+1|-1>
    PAGE = "pg"  # pg:<paper>:<offset>   more summaries of a paper
    LATEST = "lt"  # lt:<offset>         older summaries in /latest
    OPEN_PAPER = "op"  # op:<paper>
    OPEN_SUMMARY = "os"  # os:<summary>
    SUBMIT = "sb"  # sb:<paper>           write a summary of this paper
    DRAFT_SUBMIT = "ds"  # ds:0             submit the presser's draft
    DRAFT_EDIT = "de"  # de:0               get the draft back to change it
    DRAFT_CANCEL = "dx"  # dx:0             drop the presser's draft
    EDIT = "ed"  # ed:<summary>
    DELETE = "dl"  # dl:<summary>           confirmed delete
    KEEP = "dk"  # dk:<summary>             delete cancelled
    APPROVE = "ap"  # ap:<summary>
    REJECT = "rj"  # rj:<summary>
    MARK_POSTED = "mp"  # mp:<publication>    a moderator saw it on the platform
    POST_AGAIN = "pa"  # pa:<publication>     a moderator checked it is absent: post it
    PICK = "pk"  # pk:<candidate>:<0|1>       store an offered Crossref paper (1: then write)
    ADD_PAPER = "ad"  # ad:0                  confirm the paper being entered by hand
    BROWSE = "bv"  # bv:<venue-year key>:<offset>  (the key is 12 hex digits)
    VENUES = "vs"  # vs:<offset>              the list of venues and years


_SHAPE = re.compile(r"^([a-z]{2}|v):(-?\d{1,12})(?::(-?\d{1,12}))?$")
_BROWSE = re.compile(r"^bv:([0-9a-f]{12}):(\d{1,6})$")
_TWO_ARGS = {Action.VOTE, Action.PAGE, Action.PICK}


@dataclass(frozen=True, slots=True)
class Callback:
    """A parsed button press: the action, its numeric arguments, and a key for browsing."""

    action: Action
    arg: int
    extra: int = 0
    key: str = ""

    def encode(self) -> str:
        """The callback_data string for this button."""
        if self.action is Action.BROWSE:
            return f"{self.action}:{self.key}:{self.arg}"
        if self.action in _TWO_ARGS:
            return f"{self.action}:{self.arg}:{self.extra}"
        return f"{self.action}:{self.arg}"


def button_data(action: Action, arg: int = 0, extra: int = 0) -> str:
    """Callback data for a button."""
    return Callback(action, arg, extra).encode()


def browse_data(key: str, offset: int = 0) -> str:
    """Callback data for a venue-year button."""
    return Callback(Action.BROWSE, offset, key=key).encode()


def parse(data: str | None) -> Callback | None:
    """The button's request, or None if the data is not one we make."""
    if not data or len(data.encode()) > 64:
        return None
    if browse := _BROWSE.match(data):
        return Callback(Action.BROWSE, int(browse.group(2)), key=browse.group(1))
    match = _SHAPE.match(data)
    if not match:
        return None
    try:
        action = Action(match.group(1))
    except ValueError:
        return None
    has_extra = match.group(3) is not None
    if has_extra != (action in _TWO_ARGS):
        return None
    extra = int(match.group(3)) if has_extra else 0
    if action is Action.VOTE and extra not in (1, -1):
        return None
    if action is Action.PICK and extra not in (0, 1):
        return None
    if action is Action.BROWSE:
        return None  # only the hex-key form above
    arg = int(match.group(2))
    if not 0 <= arg <= MAX_ROW_ID or (action is Action.PAGE and not 0 <= extra <= MAX_ROW_ID):
        return None
    return Callback(action, arg, extra)
