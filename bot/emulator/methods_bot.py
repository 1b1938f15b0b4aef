"""Bot API methods about the bot itself: getMe, logOut/close, getUpdates, the command menus."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Any

from .records import ApiError, JSONDict, Upload, bad_request, snap
from .world import World

#: Bot API method name → handler attribute.
METHODS = {
    "getMe": "_get_me",
    "logOut": "_true",
    "close": "_true",
    "getUpdates": "_get_updates",
    "setMyCommands": "_set_my_commands",
    "getMyCommands": "_get_my_commands",
    "deleteMyCommands": "_delete_my_commands",
}
#: BotCommandScope types (Bot API "BotCommandScope").
SCOPE_TYPES = (
    "default",
    "all_private_chats",
    "all_group_chats",
    "all_chat_administrators",
    "chat",
    "chat_administrators",
    "chat_member",
)
#: What Telegram answers getUpdates while a webhook is set.
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use "
    "deleteWebhook to delete the webhook first"
)


class BotMethods(World):
    """The bot's identity, long polling, and its command menus per scope and language."""

    def _true(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        return True

    def _get_me(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict, files: dict[str, Upload]) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        if offset > 0:
            self.pending_updates[:] = [u for u in self.pending_updates if u["update_id"] >= offset]
        elif offset < 0:
            del self.pending_updates[: max(0, len(self.pending_updates) + offset)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.webhook_url:  # set while this request was waiting
                raise ApiError(409, WEBHOOK_CONFLICT)
            ready = self._ready_updates()
            remaining = deadline - loop.time()
            if ready or remaining <= 0:
                return snap(ready[:limit])
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):  # sent as a JSON-serialised field
            scope = json.loads(scope)
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("BOT_COMMAND_SCOPE_INVALID")
        if (
            scope["type"] in ("chat", "chat_administrators", "chat_member")
            and "chat_id" not in scope
        ):
            raise bad_request("chat not found")
        lang = str(params.get("language_code") or "")
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise bad_request("LANG_CODE_INVALID")
        return json.dumps(scope, sort_keys=True), lang

    def menu_for(
        self,
        chat_type: str,
        lang: str | None = None,
        admin: bool = False,
        chat_id: int | None = None,
    ) -> list[JSONDict]:
        """The menu a client shows, resolved as Telegram does: the narrowest scope with
        commands, first in the user's language, then without a language code."""
        if chat_type == "private":
            scopes: list[dict[str, Any]] = [
                {"type": "chat", "chat_id": chat_id},
                {"type": "all_private_chats"},
            ]
        else:
            scopes = [{"type": "chat_administrators", "chat_id": chat_id}] if admin else []
            scopes.append({"type": "chat", "chat_id": chat_id})
            if admin:
                scopes.append({"type": "all_chat_administrators"})
            scopes.append({"type": "all_group_chats"})
        scopes.append({"type": "default"})
        for scope in scopes:
            if scope.get("chat_id", 0) is None:
                continue
            key = json.dumps(scope, sort_keys=True)
            for code in ([lang] if lang else []) + [""]:
                if (key, code) in self.commands:
                    return list(self.commands[(key, code)])
        return []

    def _set_my_commands(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: JSONDict, files: dict[str, Upload]) -> list[JSONDict]:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True
