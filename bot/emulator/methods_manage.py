"""Bot API methods that manage messages already sent: editMessageCaption, pinChatMessage,
unpinChatMessage; and administrator rights that differ from the defaults (`set_rights`)."""

from __future__ import annotations

from .entities import check_markup, format_text
from .methods_messages import MessageMethods
from .records import MSG_NOT_MODIFIED, ChatRef, JSONDict, Upload, UserRef, bad_request, snap

#: Bot API method name → handler attribute.
METHODS = {
    "editMessageCaption": "_edit_message_caption",
    "pinChatMessage": "_pin_chat_message",
    "unpinChatMessage": "_unpin_chat_message",
}

#: Telegram's answer when the bot may not pin in a group (checked against the Bot API's text)
NO_PIN_RIGHTS = "not enough rights to manage pinned messages in the chat"


class ManageMethods(MessageMethods):
    """Captions edited, messages pinned, and the rights that decide who may."""

    def set_rights(self, chat: ChatRef, user: UserRef, **rights: bool) -> None:
        """Make `user` an administrator of `chat` with these rights changed, e.g.
        `set_rights(group, em.bot_user, can_pin_messages=False)`."""
        self.set_member(chat, user, "administrator")
        self.rights[(self._cid(chat), self._uid(user))] = dict(rights)

    def has_right(self, chat: JSONDict, user: UserRef, right: str) -> bool:
        """Whether `user` holds administrator `right` in `chat` (the creator holds all)."""
        status = self.status_of(chat["id"], user)
        if status == "creator":
            return True
        if status != "administrator":
            return False
        return bool(self.member_object(chat["id"], user).get(right, False))

    def _may_pin(self, chat: JSONDict) -> bool:
        """Private chats: yes; a group: the bot is an administrator; a supergroup: with
        can_pin_messages."""
        if chat["type"] == "private":
            return True
        if chat["type"] == "group":
            return self.bot_status(chat) in ("administrator", "creator")
        return self.has_right(chat, self.bot_user["id"], "can_pin_messages")

    def _edit_message_caption(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat, msg = self._own_message(params, "edit")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        if not any(key in msg for key in ("photo", "document", "video", "audio", "animation")):
            raise bad_request("there is no caption in the message to edit")
        caption = params.get("caption")
        plain, entities = format_text(
            "" if caption is None else str(caption),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        inline, raw_markup = check_markup(params.get("reply_markup"))
        if (
            plain == msg.get("caption", "")
            and entities == msg.get("caption_entities", [])
            and inline == msg.get("reply_markup")
        ):
            raise bad_request(MSG_NOT_MODIFIED)
        result = self._apply_edit(
            chat,
            msg,
            {
                "caption": plain or None,
                "caption_entities": entities or None,
                "reply_markup": inline,
            },
        )
        self._record("editMessageCaption", chat["id"], msg["message_id"], plain, params, raw_markup)
        return result

    def _pin_chat_message(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        chat = self._target(params)
        if not self._may_pin(chat):
            raise bad_request(NO_PIN_RIGHTS)
        msg = self._message_in(chat, params, "pin")
        chat["pinned_message"] = snap(msg)
        self._record("pinChatMessage", chat["id"], msg["message_id"], msg.get("text"), params)
        return True

    def _unpin_chat_message(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        chat = self._target(params)
        if not self._may_pin(chat):
            raise bad_request(NO_PIN_RIGHTS)
        chat.pop("pinned_message", None)
        self._record("unpinChatMessage", chat["id"], None, None, params)
        return True
