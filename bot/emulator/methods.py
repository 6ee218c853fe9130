"""Bot API methods other than posting: identity, updates, webhooks, files, answers, commands."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.emulator import validate
from bot.emulator.errors import ApiError, bad_request
from bot.emulator.messaging import flag
from bot.emulator.registry import Call, Core, api_method
from bot.emulator.state import CallbackAnswer, InlineAnswer

MAX_POLL_TIMEOUT = 50.0
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


@api_method("getMe")
async def get_me(core: Core, call: Call) -> Any:
    """The bot's own User, with the bot-only flags."""
    return {
        **core.world.bot.to_dict(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": True,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@api_method("logOut")
async def log_out(core: Core, call: Call) -> Any:
    """Accepted and ignored (the emulator has no cloud server to log out of)."""
    return True


@api_method("close")
async def close(core: Core, call: Call) -> Any:
    """Accepted and ignored."""
    return True


@api_method("getUpdates")
async def get_updates(core: Core, call: Call) -> Any:
    """Long polling: confirm below ``offset``, return up to ``limit``, wait up to ``timeout``."""
    world, params = core.world, call.params
    if world.webhook_url:
        raise ApiError(409, CONFLICT_WEBHOOK)
    offset = validate.integer(params, "offset", required=False)
    limit = min(max(validate.integer(params, "limit", required=False) or 100, 1), 100)
    timeout = min(max(validate.number(params, "timeout", 0.0), 0.0), MAX_POLL_TIMEOUT)
    allowed = validate.decode_json(params.get("allowed_updates"), "allowed updates")
    if isinstance(allowed, list):
        world.allowed_updates = [str(kind) for kind in allowed]
    if offset is not None:
        world.confirm(offset)
    generation = core.begin_poll()
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if core.poll_superseded(generation):
            raise ApiError(409, CONFLICT_POLL)
        if world.updates or core.closing:
            return [update.to_dict() for update in world.updates[:limit]]
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0 or call.client_gone():
            return []
        await core.wait_changed(remaining)


@api_method("setWebhook")
async def set_webhook(core: Core, call: Call) -> Any:
    """Record the webhook URL (nothing is delivered to it); getUpdates then conflicts."""
    url = str(call.params.get("url") or "")
    if url and not url.startswith("https://"):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    core.world.webhook_url = url
    if flag(call.params, "drop_pending_updates"):
        core.world.updates.clear()
    return True


@api_method("deleteWebhook")
async def delete_webhook(core: Core, call: Call) -> Any:
    """Forget the webhook; optionally drop pending updates."""
    core.world.webhook_url = ""
    if flag(call.params, "drop_pending_updates"):
        core.world.updates.clear()
    return True


@api_method("getWebhookInfo")
async def get_webhook_info(core: Core, call: Call) -> Any:
    """The recorded webhook and the number of pending updates."""
    return {
        "url": core.world.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(core.world.updates),
    }


@api_method("getChat")
async def get_chat(core: Core, call: Call) -> Any:
    """A ChatFullInfo with the fields the emulator knows."""
    chat = core.world.resolve_chat(call.params.get("chat_id"))
    return {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11}


@api_method("getFile")
async def get_file(core: Core, call: Call) -> Any:
    """File metadata and a download path (files over 20 MB cannot be downloaded)."""
    stored = core.world.files.get(str(call.params.get("file_id") or ""))
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.content) > validate.MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
        "file_path": stored.file_path,
    }


@api_method("answerCallbackQuery")
async def answer_callback_query(core: Core, call: Call) -> Any:
    """Answer a button press (a toast, an alert, or nothing)."""
    params = call.params
    text = validate.callback_answer_text(params.get("text"))
    pending = core.world.take_query("callback_query", params.get("callback_query_id"))
    answer = CallbackAnswer(
        query_id=str(params.get("callback_query_id")),
        data=pending.payload.get("data"),
        message=pending.message,
        text=text,
        show_alert=flag(params, "show_alert"),
        url=params.get("url") or None,
        cache_time=validate.integer(params, "cache_time", required=False) or 0,
    )
    core.world.callback_answers.append(answer)
    core.emit("callback_answer", answer)
    return True


@api_method("answerInlineQuery")
async def answer_inline_query(core: Core, call: Call) -> Any:
    """Answer an inline query with at most 50 results and an optional next page offset."""
    params = call.params
    query_id = params.get("inline_query_id")
    core.world.take_query("inline_query", query_id, consume=False)
    results = validate.inline_results(params.get("results"), strict=core.strict_html)
    next_offset = validate.next_offset(params.get("next_offset"))
    button = validate.decode_json(params.get("button"), "inline query results button")
    pending = core.world.take_query("inline_query", query_id)
    answer = InlineAnswer(
        query_id=str(query_id),
        query=pending.payload["query"],
        offset=pending.payload["offset"],
        results=results,
        next_offset=next_offset,
        cache_time=validate.integer(params, "cache_time", required=False),
        is_personal=flag(params, "is_personal"),
        button=button if isinstance(button, dict) else None,
    )
    core.world.inline_answers.append(answer)
    core.emit("inline_answer", answer)
    return True


def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = validate.decode_json(params.get("scope"), "bot command scope")
    kind = scope.get("type", "default") if isinstance(scope, dict) else "default"
    if isinstance(scope, dict) and scope.get("chat_id") is not None:
        kind += f":{scope['chat_id']}"
    if isinstance(scope, dict) and scope.get("user_id") is not None:
        kind += f":{scope['user_id']}"
    return kind, str(params.get("language_code") or "")


@api_method("setMyCommands")
async def set_my_commands(core: Core, call: Call) -> Any:
    """Set the command menu for a scope and language."""
    commands = validate.bot_commands(call.params.get("commands"))
    core.world.commands[_scope_key(call.params)] = commands
    return True


@api_method("getMyCommands")
async def get_my_commands(core: Core, call: Call) -> Any:
    """The command menu of a scope and language."""
    return core.world.commands.get(_scope_key(call.params), [])


@api_method("deleteMyCommands")
async def delete_my_commands(core: Core, call: Call) -> Any:
    """Clear the command menu of a scope and language."""
    core.world.commands.pop(_scope_key(call.params), None)
    return True


async def _accepted(core: Core, call: Call) -> Any:
    return True


for _name in (
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
    "setMyDefaultAdministratorRights",
):
    api_method(_name)(_accepted)
