"""The emulator's in-memory world: users, chats, messages, files, updates and answers.

Everything here is plain data plus the bookkeeping that real Telegram does (id counters, the
update queue with offsets, pending callback and inline queries). No I/O, no asyncio.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import bad_request


@dataclass
class User:
    """A Telegram user (or the bot itself, with ``is_bot=True``)."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False
    blocked_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class Chat:
    """A private chat, supergroup or channel."""

    id: int
    type: str  # "private" | "group" | "supergroup" | "channel"
    title: str | None = None
    username: str | None = None
    user: User | None = None  # the other side of a private chat
    members: set[int] = field(default_factory=set)
    bot_is_member: bool = True
    bot_is_admin: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``Chat`` object."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title
            if self.username:
                data["username"] = self.username
        return data


@dataclass
class StoredFile:
    """A file known to the emulator (uploaded by the bot or sent by a user)."""

    file_id: str
    file_unique_id: str
    file_name: str | None
    mime_type: str | None
    content: bytes
    file_path: str

    def to_document(self) -> dict[str, Any]:
        """The Bot API ``Document`` object."""
        data: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
        }
        if self.file_name:
            data["file_name"] = self.file_name
        if self.mime_type:
            data["mime_type"] = self.mime_type
        return data


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class Version:
    """One earlier state of an edited message."""

    text: str | None
    html: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    edit_date: int | None


@dataclass(repr=False)
class Message:
    """A message in a chat, sent by the bot (``from_bot``) or by a user.

    ``text`` is what the user sees (entities parsed out); ``html`` is the raw text the bot sent
    (with its ``parse_mode``). For documents, ``text``/``html``/``entities`` hold the caption.
    """

    chat: Chat
    message_id: int
    date: int
    from_bot: bool
    sender: User | None
    text: str | None = None
    html: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    document: StoredFile | None = None
    reply_to: Message | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[Version] = field(default_factory=list)

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else (self.sender.first_name if self.sender else "?")
        flags = " deleted" if self.deleted else ""
        flags += f" edits={len(self.history)}" if self.history else ""
        flags += f" document={self.document.file_name!r}" if self.document else ""
        flags += f" buttons={self.callback_data}" if self.callback_data else ""
        return f"<Message {self.chat.id}/{self.message_id} from {who}: {self.text!r}{flags}>"

    @property
    def chat_id(self) -> int:
        """The id of the chat this message is in."""
        return self.chat.id

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard, row by row (empty when there is none)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [
            [Button(b["text"], b.get("callback_data"), b.get("url"), b) for b in row]
            for row in rows
        ]

    @property
    def callback_data(self) -> list[str]:
        """Every ``callback_data`` on the inline keyboard, in reading order."""
        return [b.callback_data for row in self.buttons for b in row if b.callback_data]

    def entity_text(self, entity: dict[str, Any]) -> str:
        """The text an entity covers (its offset and length count UTF-16 code units)."""
        units = (self.text or "").encode("utf-16-le")
        start, end = 2 * entity["offset"], 2 * (entity["offset"] + entity["length"])
        return units[start:end].decode("utf-16-le")

    def snapshot(self) -> Version:
        """The current content, for the edit history."""
        return Version(
            self.text, self.html, copy.deepcopy(self.entities), self.reply_markup, self.edit_date
        )

    def to_dict(self, bot: User, *, with_reply: bool = True) -> dict[str, Any]:
        """The Bot API ``Message`` object."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.to_dict(),
        }
        if self.chat.type == "channel":
            data["sender_chat"] = self.chat.to_dict()
        else:
            data["from"] = (bot if self.from_bot else self.sender or bot).to_dict()
        text_key, entities_key = "text", "entities"
        if self.document is not None:
            data["document"] = self.document.to_document()
            text_key, entities_key = "caption", "caption_entities"
        if self.text:
            data[text_key] = self.text
            if self.entities:
                data[entities_key] = self.entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_dict(bot, with_reply=False)
        return data


@dataclass
class CallbackAnswer:
    """What the bot answered to a button press."""

    query_id: str
    data: str | None
    message: Message | None
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class InlineAnswer:
    """What the bot answered to an inline query."""

    query_id: str
    query: str
    offset: str
    results: list[dict[str, Any]]
    next_offset: str
    cache_time: int | None
    is_personal: bool
    button: dict[str, Any] | None


@dataclass
class PendingQuery:
    """A callback or inline query waiting for its answer."""

    kind: str  # "callback_query" | "inline_query"
    payload: dict[str, Any]
    created: float
    message: Message | None = None


@dataclass
class Update:
    """An update waiting in the getUpdates queue."""

    update_id: int
    kind: str
    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The Bot API ``Update`` object."""
        return {"update_id": self.update_id, self.kind: self.payload}


class World:
    """Every object the emulated Telegram knows, and the counters that name them."""

    def __init__(self, bot: User, *, query_ttl: float = 15.0) -> None:
        self.bot = bot
        self.query_ttl = query_ttl
        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.messages: dict[int, list[Message]] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.updates: list[Update] = []
        self.pending: dict[str, PendingQuery] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_url = ""
        self.allowed_updates: list[str] = []
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(4_000_000_000_001)
        self._group_ids = itertools.count(1_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._next_message_id: dict[int, int] = {}

    # -- ids and clock ------------------------------------------------------------------------

    @staticmethod
    def now() -> int:
        """Unix time, as Telegram dates are."""
        return int(time.time())

    def next_message_id(self, chat: Chat) -> int:
        """The next message id in ``chat`` (Telegram numbers messages per chat)."""
        value = self._next_message_id.get(chat.id, 1)
        self._next_message_id[chat.id] = value + 1
        return value

    def next_query_id(self) -> str:
        """A fresh callback/inline query id."""
        return str(next(self._query_ids))

    # -- users and chats ----------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        """Register ``user`` (ids must be unique)."""
        if user.id in self.users or user.id == self.bot.id:
            raise ValueError(f"user id {user.id} already exists")
        self.users[user.id] = user
        return user

    def private_chat(self, user: User) -> Chat:
        """The private chat between ``user`` and the bot, created on first use."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(id=user.id, type="private", user=user, members={user.id})
            self.chats[chat.id] = chat
            self.messages[chat.id] = []
        return chat

    def add_chat(
        self,
        type_: str,
        title: str,
        username: str | None,
        *,
        bot_is_member: bool = True,
        bot_is_admin: bool = False,
    ) -> Chat:
        """Create a supergroup or channel (ids in Telegram's ``-100...`` range)."""
        chat = Chat(
            id=-next(self._group_ids),
            type=type_,
            title=title,
            username=username,
            bot_is_member=bot_is_member,
            bot_is_admin=bot_is_admin,
        )
        self.chats[chat.id] = chat
        self.messages[chat.id] = []
        return chat

    def resolve_chat(self, chat_id: Any) -> Chat:
        """The chat named by a ``chat_id`` parameter (an integer or ``@username``)."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        text = str(chat_id)
        if text.startswith("@"):
            for chat in self.chats.values():
                if chat.type != "private" and chat.username and "@" + chat.username == text:
                    return chat
            raise bad_request("chat not found")
        try:
            found = self.chats.get(int(text))
        except ValueError:
            raise bad_request("chat not found") from None
        if found is None:
            raise bad_request("chat not found")
        return found

    def find_message(self, chat: Chat, message_id: int) -> Message | None:
        """A message of ``chat`` that has not been deleted."""
        for message in self.messages.get(chat.id, []):
            if message.message_id == message_id and not message.deleted:
                return message
        return None

    def add_message(self, message: Message) -> Message:
        """Append ``message`` to its chat's history."""
        self.messages.setdefault(message.chat.id, []).append(message)
        return message

    # -- files --------------------------------------------------------------------------------

    def store_file(
        self, content: bytes, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        """Keep uploaded bytes; give them a file_id, unique id and download path."""
        number = next(self._file_ids)
        digest = hashlib.sha256(content).hexdigest()
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1][:10]
        stored = StoredFile(
            file_id=f"BQACAgIAAxkBAAI{number:06d}{digest[:24]}",
            file_unique_id=f"AgAD{digest[:12]}",
            file_name=file_name,
            mime_type=mime_type,
            content=content,
            file_path=f"documents/file_{number}{suffix}",
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    # -- updates ------------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: dict[str, Any]) -> Update | None:
        """Queue an update for getUpdates (dropped if ``allowed_updates`` excludes it)."""
        if self.allowed_updates and kind not in self.allowed_updates:
            return None
        update = Update(next(self._update_ids), kind, payload)
        self.updates.append(update)
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last -offset."""
        if offset < 0:
            del self.updates[: max(len(self.updates) + offset, 0)]
        else:
            self.updates = [u for u in self.updates if u.update_id >= offset]

    # -- queries ------------------------------------------------------------------------------

    def take_query(self, kind: str, query_id: Any, *, consume: bool = True) -> PendingQuery:
        """Consume (or just check) a pending query; unknown, answered or expired are refused."""
        pending = self.pending.get(str(query_id))
        if (
            pending is None
            or pending.kind != kind
            or time.monotonic() - pending.created > self.query_ttl
        ):
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if consume:
            del self.pending[str(query_id)]
        return pending
