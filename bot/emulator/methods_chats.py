"""Bot API methods on chats and members: getChat*, invite links, leaveChat, sendChatAction."""

from __future__ import annotations

import string

from .records import ACTIVE, JSONDict, Upload, bad_request, snap
from .world import World

#: Bot API method name → handler attribute.
METHODS = {
    "getChat": "_get_chat",
    "getChatMember": "_get_chat_member",
    "getChatMemberCount": "_get_chat_member_count",
    "getChatAdministrators": "_get_chat_administrators",
    "exportChatInviteLink": "_export_chat_invite_link",
    "createChatInviteLink": "_create_chat_invite_link",
    "leaveChat": "_leave_chat",
    "sendChatAction": "_send_chat_action",
}


class ChatMethods(World):
    """What the bot may ask about chats and members, and the invite links it may make."""

    def _get_chat(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params, access=False)
        info = {k: v for k, v in chat.items() if k != "all_members_are_administrators"}
        private = chat["type"] == "private"
        info.update(
            {
                "accent_color_id": abs(chat["id"]) % 7,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": private,
                    "limited_gifts": private,
                    "unique_gifts": private,
                    "premium_subscription": private,
                    "gifts_from_channels": private,
                },
            }
        )
        if chat["id"] in self._primary_links:
            info["invite_link"] = self._primary_links[chat["id"]]
        return info

    def _get_chat_member(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        try:
            uid = int(params.get("user_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request("invalid user_id specified") from None
        if uid not in self.users and uid != self.bot_user["id"]:
            raise bad_request("user not found")
        return self.member_object(chat, uid)

    def _get_chat_member_count(self, params: JSONDict, files: dict[str, Upload]) -> int:
        chat = self._target(params)
        if chat["type"] == "private":
            return 2
        return sum(1 for s in self.members.get(chat["id"], {}).values() if s in ACTIVE)

    def _get_chat_administrators(
        self, params: JSONDict, files: dict[str, Upload]
    ) -> list[JSONDict]:
        chat = self._target(params)
        roster = self.members.get(chat["id"], {})
        ranked = sorted(
            (u for u, s in roster.items() if s in ("creator", "administrator")),
            key=lambda u: roster[u] != "creator",
        )
        return [self.member_object(chat, u) for u in ranked]

    def _require_admin(self, chat: JSONDict) -> None:
        if chat["type"] == "private" or self.bot_status(chat) not in ("administrator", "creator"):
            raise bad_request("not enough rights to manage chat invite link")

    def _new_link(self) -> str:
        alphabet = string.ascii_letters + string.digits + "_-"
        return "https://t.me/+" + "".join(self.rng.choice(alphabet) for _ in range(16))

    def _export_chat_invite_link(self, params: JSONDict, files: dict[str, Upload]) -> str:
        chat = self._target(params)
        self._require_admin(chat)
        link = self._new_link()
        self._primary_links[chat["id"]] = link
        self.invite_links[link] = {
            "invite_link": link,
            "creator": snap(self.bot_user),
            "creates_join_request": False,
            "is_primary": True,
            "is_revoked": False,
        }
        return link

    def _create_chat_invite_link(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        self._require_admin(chat)
        link: JSONDict = {
            "invite_link": self._new_link(),
            "creator": snap(self.bot_user),
            "creates_join_request": bool(params.get("creates_join_request")),
            "is_primary": False,
            "is_revoked": False,
        }
        for key in ("name", "expire_date", "member_limit"):
            if params.get(key) not in (None, ""):
                link[key] = params[key]
        self.invite_links[link["invite_link"]] = link
        return link

    def _leave_chat(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        chat = self._target(params)
        if chat["type"] == "private":
            raise bad_request("chat member status can't be changed in private chats")
        self._member_update("my_chat_member", chat, self.bot_user, self.bot_user, "left")
        return True

    def _send_chat_action(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self._target(params)
        return True
