"""The user side of the emulator: people who chat with the bot, and what they see.

Tests (and the console chat) create users and chats, make users send text, documents, button
presses and inline queries (each becomes an Update for getUpdates, shaped as Telegram shapes it),
and read back what the bot sent: plain text as displayed, the raw HTML, entities, buttons, edits
with their history, deletions, callback and inline answers.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from typing import Any

from bot.emulator.entities import find_entities
from bot.emulator.server import BotApiServer
from bot.emulator.state import (
    CallbackAnswer,
    Chat,
    InlineAnswer,
    Message,
    PendingQuery,
    Update,
    User,
)
from bot.emulator.validate import MAX_UPLOAD

ChatRef = Chat | User | int


class BotApiEmulator(BotApiServer):
    """Telegram for tests: the Bot API server plus the users talking to the bot.

    Takes :class:`~bot.emulator.server.BotApiServer`'s arguments, plus ``privacy_mode``
    (default on, as for real bots): group messages reach the bot only when they are commands,
    mention the bot or reply to it; they are stored in the chat history either way.
    """

    def __init__(
        self,
        token: str | None = None,
        bot_username: str = "shortsci_test_bot",
        *,
        bot_name: str = "ShortSci",
        host: str = "127.0.0.1",
        port: int = 0,
        strict_html: bool = True,
        max_upload: int = MAX_UPLOAD,
        query_ttl: float = 15.0,
        privacy_mode: bool = True,
    ) -> None:
        super().__init__(
            token,
            bot_username,
            bot_name=bot_name,
            host=host,
            port=port,
            strict_html=strict_html,
            max_upload=max_upload,
            query_ttl=query_ttl,
        )
        self.privacy_mode = privacy_mode
        self._user_ids = itertools.count(100_000_001)

    # -- people and chats ---------------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Ada",
        username: str | None = None,
        *,
        user_id: int | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
    ) -> User:
        """Create a Telegram user (ids are allocated when not given)."""
        if user_id is None:
            user_id = next(self._user_ids)
            while user_id in self.world.users:
                user_id = next(self._user_ids)
        user = User(user_id, first_name, username, last_name, language_code)
        return self.world.add_user(user)

    def private_chat(self, user: User) -> Chat:
        """The private chat of ``user`` with the bot (created on first use)."""
        return self.world.private_chat(user)

    def add_group(
        self,
        title: str,
        members: list[User] | tuple[User, ...] = (),
        *,
        username: str | None = None,
        bot_is_admin: bool = False,
        bot_is_member: bool = True,
    ) -> Chat:
        """Create a supergroup with the bot and ``members`` in it."""
        chat = self.world.add_chat(
            "supergroup", title, username, bot_is_admin=bot_is_admin, bot_is_member=bot_is_member
        )
        chat.members.update(u.id for u in members)
        return chat

    def add_channel(
        self, title: str, username: str | None = None, *, bot_is_admin: bool = True
    ) -> Chat:
        """Create a channel (the bot is an administrator unless told otherwise)."""
        return self.world.add_chat("channel", title, username, bot_is_admin=bot_is_admin)

    def block_bot(self, user: User, blocked: bool = True) -> None:
        """Make sending to ``user`` fail with 403 "bot was blocked by the user"."""
        user.blocked_bot = blocked

    def chat(self, ref: ChatRef) -> Chat:
        """Resolve a chat, a user (their private chat) or a chat id."""
        if isinstance(ref, Chat):
            return ref
        if isinstance(ref, User):
            return self.world.private_chat(ref)
        chat = self.world.chats.get(ref)
        if chat is None:
            raise KeyError(f"no chat {ref}")
        return chat

    # -- what users do ------------------------------------------------------------------------

    def send_text(
        self, user: User, text: str, chat: ChatRef | None = None, reply_to: Message | None = None
    ) -> Message:
        """``user`` sends ``text``; the bot gets a ``message`` update (with entities)."""
        if not text:
            raise ValueError("Telegram clients cannot send an empty message")
        message = self._user_message(user, chat, reply_to, text=text, entities=find_entities(text))
        self._deliver(message)
        return message

    def send_document(
        self,
        user: User,
        filename: str,
        content: bytes,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        chat: ChatRef | None = None,
    ) -> Message:
        """``user`` sends a file; the bot gets a ``message`` update with a ``document``."""
        stored = self.world.store_file(content, filename, mime_type)
        message = self._user_message(
            user, chat, None, text=caption, entities=find_entities(caption or ""), document=stored
        )
        self._deliver(message)
        return message

    def press_button(
        self, user: User, message: Message, callback_data: str, *, forge: bool = False
    ) -> str:
        """``user`` presses the button carrying ``callback_data`` on a bot message.

        Args:
            user: who presses.
            message: the bot's message (as returned by :meth:`messages`).
            callback_data: must be on the message's current keyboard unless ``forge``.
            forge: send the data even if no such button exists (a stale or hostile client).

        Returns:
            The callback query id (see :meth:`wait_for_callback_answer`).
        """
        current = self.world.find_message(message.chat, message.message_id)
        if current is None:
            raise ValueError(f"message {message.message_id} is deleted or unknown")
        if not forge and callback_data not in current.callback_data:
            raise ValueError(
                f"no button with callback_data {callback_data!r} on message "
                f"{message.message_id}; buttons: {current.callback_data}"
            )
        query_id = self.world.next_query_id()
        instance = hashlib.sha256(f"{current.chat.id}:{self.bot.id}".encode()).hexdigest()
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "message": current.to_dict(self.bot),
            "chat_instance": str(int(instance[:15], 16)),
            "data": callback_data,
        }
        self.world.pending[query_id] = PendingQuery(
            "callback_query", payload, time.monotonic(), current
        )
        self._enqueue("callback_query", payload)
        return query_id

    def inline_query(
        self, user: User, query: str, offset: str = "", chat_type: str = "sender"
    ) -> str:
        """``user`` types ``@bot query``; returns the inline query id."""
        query_id = self.world.next_query_id()
        payload = {
            "id": query_id,
            "from": user.to_dict(),
            "query": query,
            "offset": offset,
            "chat_type": chat_type,
        }
        self.world.pending[query_id] = PendingQuery("inline_query", payload, time.monotonic())
        self._enqueue("inline_query", payload)
        return query_id

    # -- what users see -----------------------------------------------------------------------

    def messages(self, chat: ChatRef, *, include_deleted: bool = False) -> list[Message]:
        """The bot's messages in ``chat``, oldest first, with edits applied."""
        return [
            m
            for m in self.world.messages.get(self.chat(chat).id, [])
            if m.from_bot and (include_deleted or not m.deleted)
        ]

    def history(self, chat: ChatRef) -> list[Message]:
        """Every message of ``chat`` (users' and bot's, deleted ones too), oldest first."""
        return list(self.world.messages.get(self.chat(chat).id, []))

    async def wait_for_messages(
        self,
        chat: ChatRef,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline is the point of the API
    ) -> list[Message]:
        """Wait until the bot has sent at least ``count`` messages to ``chat``; return them all.

        Deleted messages count (they were sent) and are included.
        """
        target = self.chat(chat)
        await self.wait_until(
            lambda: len(self.messages(target, include_deleted=True)) >= count,
            timeout,
            f"{count} bot message(s) in chat {target.id}",
        )
        return self.messages(target, include_deleted=True)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Every answerCallbackQuery, in order."""
        return self.world.callback_answers

    @property
    def inline_answers(self) -> list[InlineAnswer]:
        """Every answerInlineQuery, in order."""
        return self.world.inline_answers

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 5.0) -> CallbackAnswer:  # noqa: ASYNC109 - a deadline is the point of the API
        """Wait for the bot's answer to the button press ``query_id``."""
        await self.wait_until(
            lambda: any(a.query_id == query_id for a in self.callback_answers),
            timeout,
            f"answer to callback query {query_id}",
        )
        return next(a for a in self.callback_answers if a.query_id == query_id)

    async def wait_for_inline_answer(self, query_id: str, timeout: float = 5.0) -> InlineAnswer:  # noqa: ASYNC109 - a deadline is the point of the API
        """Wait for the bot's answer to the inline query ``query_id``."""
        await self.wait_until(
            lambda: any(a.query_id == query_id for a in self.inline_answers),
            timeout,
            f"answer to inline query {query_id}",
        )
        return next(a for a in self.inline_answers if a.query_id == query_id)

    async def wait_for_delivery(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a deadline is the point of the API
        """Wait until the bot has fetched and confirmed every queued update."""
        await self.wait_until(lambda: not self.world.updates, timeout, "updates to be confirmed")

    def commands(self, scope: str = "default", language_code: str = "") -> list[dict[str, str]]:
        """The command menu set with setMyCommands for a scope type and language."""
        return self.world.commands.get((scope, language_code), [])

    @property
    def pending_updates(self) -> list[Update]:
        """Updates not yet confirmed by the bot."""
        return list(self.world.updates)

    # -- internals ----------------------------------------------------------------------------

    def _user_message(
        self,
        user: User,
        chat_ref: ChatRef | None,
        reply_to: Message | None,
        **content: Any,
    ) -> Message:
        chat = self.chat(chat_ref) if chat_ref is not None else self.world.private_chat(user)
        if chat.type == "channel":
            raise ValueError("users post in channels as the channel; not emulated")
        if chat.type == "private" and chat.id != user.id:
            raise ValueError("a user can only write in their own private chat with the bot")
        chat.members.add(user.id)
        message = Message(
            chat=chat,
            message_id=self.world.next_message_id(chat),
            date=self.world.now(),
            from_bot=False,
            sender=user,
            reply_to=reply_to,
            **content,
        )
        return self.world.add_message(message)

    def _deliver(self, message: Message) -> None:
        if message.chat.type != "private" and self.privacy_mode and not self._addressed(message):
            return
        if message.chat.type == "private" and message.sender is not None:
            message.sender.blocked_bot = False  # writing to a bot unblocks it
        self._enqueue("message", message.to_dict(self.bot))

    def _addressed(self, message: Message) -> bool:
        """Whether a group message reaches a bot in privacy mode."""
        if message.reply_to is not None and message.reply_to.from_bot:
            return True
        text = message.text or ""
        name = (self.bot.username or "").lower()
        if text.startswith("/"):
            command = text.split()[0]
            return "@" not in command or command.split("@", 1)[1].lower() == name
        return bool(name) and f"@{name}" in text.lower()

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> None:
        self.world.enqueue(kind, payload)
        self.changed()
