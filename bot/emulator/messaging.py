"""Bot API methods that put something in a chat: send, edit, delete, chat actions."""

from __future__ import annotations

from typing import Any

from bot.emulator import validate
from bot.emulator.errors import bad_request, forbidden
from bot.emulator.registry import Call, Core, api_method
from bot.emulator.state import Chat, Message, StoredFile, World

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def flag(params: dict[str, Any], name: str) -> bool:
    """A boolean parameter as PTB sends it (``"true"``/``"false"``)."""
    return str(params.get(name, "")).lower() in ("true", "1")


def writable_chat(world: World, chat_id: Any) -> Chat:
    """The chat a bot wants to post in, refused as Telegram would when it may not."""
    chat = world.resolve_chat(chat_id)
    if chat.type == "private":
        assert chat.user is not None
        if chat.user.blocked_bot:
            raise forbidden("bot was blocked by the user")
    elif not chat.bot_is_member:
        raise forbidden(f"bot is not a member of the {chat.type} chat")
    elif chat.type == "channel" and not chat.bot_is_admin:
        raise bad_request("need administrator rights in the channel chat")
    return chat


def _reply_to(world: World, chat: Chat, params: dict[str, Any]) -> Message | None:
    reply = validate.decode_json(params.get("reply_parameters"), "reply parameters")
    if isinstance(reply, dict):
        message_id, allow = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
        if reply.get("chat_id") not in (None, chat.id):
            chat = world.resolve_chat(reply["chat_id"])
    else:
        message_id, allow = (
            params.get("reply_to_message_id"),
            flag(params, "allow_sending_without_reply"),
        )
    if message_id in (None, ""):
        return None
    try:
        target = world.find_message(chat, int(str(message_id)))
    except ValueError:
        target = None
    if target is None and not allow:
        raise bad_request("message to be replied not found")
    return target


def _entities(params: dict[str, Any], name: str) -> Any:
    return validate.decode_json(params.get(name), "message entities")


@api_method("sendMessage")
async def send_message(core: Core, call: Call) -> Any:
    """Post a text message."""
    world, params = core.world, call.params
    chat = writable_chat(world, params.get("chat_id"))
    text, entities = validate.formatted_text(
        params.get("text"),
        params.get("parse_mode"),
        _entities(params, "entities"),
        strict=core.strict_html,
    )
    markup = validate.reply_markup(params.get("reply_markup"))
    message = Message(
        chat=chat,
        message_id=0,
        date=world.now(),
        from_bot=True,
        sender=world.bot,
        text=text,
        html=params.get("text"),
        parse_mode=params.get("parse_mode") or None,
        entities=entities,
        reply_markup=markup,
        reply_to=_reply_to(world, chat, params),
    )
    message.message_id = world.next_message_id(chat)
    world.add_message(message)
    core.emit("sent", message)
    return message.to_dict(world.bot)


def _document(core: Core, call: Call) -> StoredFile:
    value = call.params.get("document")
    upload = call.files.get("document")
    if isinstance(value, str) and value.startswith("attach://"):
        upload = call.files.get(value.removeprefix("attach://"))
    if upload is not None:
        if len(upload.content) > core.max_upload:
            raise validate.too_large()
        if not upload.content:
            raise bad_request("file must be non-empty")
        return core.world.store_file(upload.content, upload.filename, upload.content_type)
    if not value:
        raise bad_request("there is no document in the request")
    stored = core.world.files.get(str(value))
    if stored is None:
        # Real Telegram would also fetch http(s) URLs; the emulator never touches the network.
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


@api_method("sendDocument")
async def send_document(core: Core, call: Call) -> Any:
    """Post a document with an optional caption."""
    world, params = core.world, call.params
    chat = writable_chat(world, params.get("chat_id"))
    caption, entities = validate.formatted_text(
        params.get("caption"),
        params.get("parse_mode"),
        _entities(params, "caption_entities"),
        limit=validate.MAX_CAPTION,
        caption=True,
        strict=core.strict_html,
    )
    markup = validate.reply_markup(params.get("reply_markup"))
    reply_to = _reply_to(world, chat, params)
    document = _document(core, call)
    message = Message(
        chat=chat,
        message_id=world.next_message_id(chat),
        date=world.now(),
        from_bot=True,
        sender=world.bot,
        text=caption or None,
        html=params.get("caption"),
        parse_mode=params.get("parse_mode") or None,
        entities=entities,
        reply_markup=markup,
        document=document,
        reply_to=reply_to,
    )
    world.add_message(message)
    core.emit("sent", message)
    return message.to_dict(world.bot)


def _message_to_edit(world: World, params: dict[str, Any]) -> Message:
    if params.get("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # messages sent via inline mode are not kept
    chat = world.resolve_chat(params.get("chat_id"))
    message_id = validate.integer(params, "message_id")
    assert message_id is not None
    message = world.find_message(chat, message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return message


def _inline_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup is not None and "inline_keyboard" in markup else None


def _apply_edit(
    core: Core,
    message: Message,
    text: str | None,
    html: str | None,
    entities: list[dict[str, Any]],
    markup: dict[str, Any] | None,
) -> Any:
    if (
        text == message.text
        and entities == message.entities
        and markup == _inline_markup(message.reply_markup)
    ):
        raise bad_request(NOT_MODIFIED)
    message.history.append(message.snapshot())
    message.text, message.html, message.entities = text, html, entities
    message.reply_markup = markup
    message.edit_date = core.world.now()
    core.emit("edited", message)
    return message.to_dict(core.world.bot)


@api_method("editMessageText")
async def edit_message_text(core: Core, call: Call) -> Any:
    """Replace a message's text (and keyboard: a missing reply_markup removes it)."""
    params = call.params
    message = _message_to_edit(core.world, params)
    if message.document is not None:
        raise bad_request("there is no text in the message to edit")
    text, entities = validate.formatted_text(
        params.get("text"),
        params.get("parse_mode"),
        _entities(params, "entities"),
        strict=core.strict_html,
    )
    markup = validate.reply_markup(params.get("reply_markup"), inline_only=True)
    result = _apply_edit(core, message, text, params.get("text"), entities, markup)
    message.parse_mode = params.get("parse_mode") or None
    return result


@api_method("editMessageCaption")
async def edit_message_caption(core: Core, call: Call) -> Any:
    """Replace a document's caption."""
    params = call.params
    message = _message_to_edit(core.world, params)
    if message.document is None:
        raise bad_request("there is no caption in the message to edit")
    caption, entities = validate.formatted_text(
        params.get("caption"),
        params.get("parse_mode"),
        _entities(params, "caption_entities"),
        limit=validate.MAX_CAPTION,
        caption=True,
        strict=core.strict_html,
    )
    markup = validate.reply_markup(params.get("reply_markup"), inline_only=True)
    return _apply_edit(core, message, caption or None, params.get("caption"), entities, markup)


@api_method("editMessageReplyMarkup")
async def edit_message_reply_markup(core: Core, call: Call) -> Any:
    """Replace (or, without reply_markup, remove) a message's inline keyboard."""
    message = _message_to_edit(core.world, call.params)
    markup = validate.reply_markup(call.params.get("reply_markup"), inline_only=True)
    return _apply_edit(core, message, message.text, message.html, message.entities, markup)


@api_method("deleteMessage")
async def delete_message(core: Core, call: Call) -> Any:
    """Delete a message for everyone."""
    world = core.world
    chat = world.resolve_chat(call.params.get("chat_id"))
    message_id = validate.integer(call.params, "message_id")
    assert message_id is not None
    message = world.find_message(chat, message_id)
    if message is None:
        raise bad_request("message to delete not found")
    if not message.from_bot and chat.type != "private" and not chat.bot_is_admin:
        raise bad_request("message can't be deleted")
    message.deleted = True
    core.emit("deleted", message)
    return True


@api_method("sendChatAction")
async def send_chat_action(core: Core, call: Call) -> Any:
    """Show "typing..." and the like."""
    chat = writable_chat(core.world, call.params.get("chat_id"))
    action = call.params.get("action")
    if action not in validate.CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    core.world.chat_actions.append((chat.id, str(action)))
    core.emit("chat_action", (chat.id, action))
    return True
