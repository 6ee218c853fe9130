"""Errors the storage operations raise; each message is safe and friendly to show a user.

StorageError
 ├── NotFound             the paper, summary or user does not exist (or is not visible)
 ├── PermissionDenied     the actor may not do this
 ├── Conflict             it would break a rule (one summary per paper, own vote...)
 └── InvalidInput         the content is out of bounds (summary too short or too long)
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every refusal from storage operations."""


class NotFound(StorageError):
    """The thing asked for does not exist."""


class PermissionDenied(StorageError):
    """The acting user may not do this."""


class Conflict(StorageError):
    """The action breaks a rule of the data."""


class InvalidInput(StorageError):
    """The content sent is not acceptable."""
