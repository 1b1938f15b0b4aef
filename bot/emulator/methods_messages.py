"""Bot API methods on messages: sendMessage, edits, deleteMessage, answerCallbackQuery."""

from __future__ import annotations

from .entities import check_markup, format_text
from .limits import RateLimits
from .records import MSG_NOT_MODIFIED, JSONDict, Upload, bad_request, snap

#: Bot API method name → handler attribute.
METHODS = {
    "sendMessage": "_send_message",
    "editMessageText": "_edit_message_text",
    "editMessageReplyMarkup": "_edit_message_reply_markup",
    "deleteMessage": "_delete_message",
    "answerCallbackQuery": "_answer_callback_query",
}


class MessageMethods(RateLimits):
    """Sending, editing and deleting text messages; answering button presses."""

    def _send_message(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        text = params.get("text")
        plain, entities = format_text(
            "" if text is None else str(text), params.get("parse_mode"), params.get("entities")
        )
        inline, raw_markup = check_markup(params.get("reply_markup"), chat["type"])
        reply = self._reply_to(chat, params)
        self._check_send_limit(chat)
        msg = self._deliver(chat, {"text": plain}, reply, "entities", entities, inline)
        self._record("sendMessage", chat["id"], msg["message_id"], plain, params, raw_markup)
        return msg

    def _own_message(self, params: JSONDict, verb: str) -> tuple[JSONDict, JSONDict]:
        if params.get("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")
        chat = self._target(params)
        return chat, self._message_in(chat, params, verb)

    def _message_in(self, chat: JSONDict, params: JSONDict, verb: str) -> JSONDict:
        """The message `params` names in `chat` ("message to <verb> not found" if none)."""
        try:
            mid = int(params.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise bad_request("message identifier is not specified") from None
        msg = self.messages.get((chat["id"], mid))
        if msg is None:
            raise bad_request(f"message to {verb} not found")
        return msg

    def _apply_edit(self, chat: JSONDict, msg: JSONDict, content: JSONDict) -> JSONDict:
        """Apply ``content`` to the stored ``msg`` (None values remove keys), set edit_date."""
        self._check_edit_limit(chat)
        rebuilt: JSONDict = {}
        for key, value in msg.items():
            if key == "edit_date" or (key in content and content[key] is None):
                continue
            rebuilt[key] = value
            if key == "date":
                rebuilt["edit_date"] = self.now()
        rebuilt.update({k: v for k, v in content.items() if v is not None})
        msg.clear()
        msg.update(rebuilt)
        return snap(msg)

    def _edit_message_text(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat, msg = self._own_message(params, "edit")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        if "text" not in msg:
            raise bad_request("there is no text in the message to edit")
        text = params.get("text")
        plain, entities = format_text(
            "" if text is None else str(text), params.get("parse_mode"), params.get("entities")
        )
        inline, raw_markup = check_markup(params.get("reply_markup"), chat["type"])
        if (
            plain == msg["text"]
            and entities == msg.get("entities", [])
            and inline == msg.get("reply_markup")
        ):
            raise bad_request(MSG_NOT_MODIFIED)
        result = self._apply_edit(
            chat, msg, {"text": plain, "entities": entities or None, "reply_markup": inline}
        )
        self._record("editMessageText", chat["id"], msg["message_id"], plain, params, raw_markup)
        return result

    def _edit_message_reply_markup(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat, msg = self._own_message(params, "edit")
        if msg["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        inline, raw_markup = check_markup(params.get("reply_markup"), chat["type"])
        if inline == msg.get("reply_markup"):
            raise bad_request(MSG_NOT_MODIFIED)
        result = self._apply_edit(chat, msg, {"reply_markup": inline})
        self._record(
            "editMessageReplyMarkup",
            chat["id"],
            msg["message_id"],
            msg.get("text"),
            params,
            raw_markup,
        )
        return result

    def _delete_message(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        chat, msg = self._own_message(params, "delete")
        own = msg["from"]["id"] == self.bot_user["id"]
        admin = self.bot_status(chat) in ("administrator", "creator")
        if chat["type"] != "private" and not own and not admin:
            raise bad_request("message can't be deleted")
        # "A message can only be deleted if it was sent less than 48 hours ago": only a
        # supergroup administrator with can_delete_messages may delete older ones there
        too_old = self.now() - msg["date"] > 48 * 3600
        deletes_any = (
            chat["type"] == "supergroup"
            and admin
            and bool(
                self.member_object(chat, self.bot_user["id"]).get("can_delete_messages", False)
            )
        )
        if too_old and not deletes_any:
            raise bad_request("message can't be deleted")
        del self.messages[(chat["id"], msg["message_id"])]
        self._record("deleteMessage", chat["id"], msg["message_id"], None, params)
        return True

    def _answer_callback_query(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        qid = str(params.get("callback_query_id") or "")
        query = self._queries.get(qid)
        if query is None or query["answered"]:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        query["answered"] = True
        answer = {
            "callback_query_id": qid,
            "text": params.get("text"),
            "show_alert": bool(params.get("show_alert", False)),
            "url": params.get("url"),
            "cache_time": params.get("cache_time"),
        }
        self.callback_answers.append(answer)
        self._record("answerCallbackQuery", query["chat_id"], None, params.get("text"), params)
        return True
