"""Bot API methods on files: sendDocument, sendPhoto, getFile."""

from __future__ import annotations

import mimetypes
import re

from .entities import check_markup, format_text
from .limits import RateLimits
from .records import JSONDict, StoredFile, Upload, bad_request

#: Bot API method name → handler attribute.
METHODS = {
    "sendDocument": "_send_document",
    "sendPhoto": "_send_photo",
    "getFile": "_get_file",
}


class FileMethods(RateLimits):
    """Media sends (uploads, ``attach://`` parts, file_ids, URLs) and file look-ups."""

    def _input_file(self, kind: str, params: JSONDict, files: dict[str, Upload]) -> StoredFile:
        """The file of a send* call: an upload, an ``attach://`` part, a file_id or a URL."""
        value = params.get(kind)
        upload = files.get(kind)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
        if upload is not None:
            name = upload.file_name
            mime = mimetypes.guess_type(name)[0] if name else None
            mime = mime or upload.mime_type or "application/octet-stream"
            return self._register_file(kind, upload.data, name, mime)
        if isinstance(value, str) and value:
            if value in self.files:
                return self.files[value]
            if value[:-1] in self.files:  # a photo size's file_id (as _get_file knows)
                return self.files[value[:-1]]
            if re.match(r"^https?://", value):
                name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
                return self._register_file(kind, b"", name, mimetypes.guess_type(name)[0])
            raise bad_request("wrong file identifier/HTTP URL specified")
        raise bad_request(f"there is no {kind} in the request")

    def _send_media(self, kind: str, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        chat = self._target(params)
        stored = self._input_file(kind, params, files)
        caption = params.get("caption")
        plain = ""
        entities: list[JSONDict] = []
        if caption:
            plain, entities = format_text(
                str(caption), params.get("parse_mode"), params.get("caption_entities"), caption=True
            )
        inline, raw_markup = check_markup(params.get("reply_markup"), chat["type"])
        reply = self._reply_to(chat, params)
        self._check_send_limit(chat)
        content: JSONDict = {}
        if kind == "document":
            content["document"] = self._document_obj(stored)
        else:
            content["photo"] = self._photo_sizes(stored)
        if plain:
            content["caption"] = plain
        msg = self._deliver(chat, content, reply, "caption_entities", entities, inline)
        method = "sendDocument" if kind == "document" else "sendPhoto"
        self.documents.append(
            {
                "chat_id": chat["id"],
                "file_name": stored.file_name,
                "bytes": stored.data,
                "mime_type": stored.mime_type,
                "caption": plain or None,
                "message_id": msg["message_id"],
                "file_id": stored.file_id,
                "kind": kind,
            }
        )
        self._record(method, chat["id"], msg["message_id"], plain or None, params, raw_markup)
        return msg

    def _send_document(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        return self._send_media("document", params, files)

    def _send_photo(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        return self._send_media("photo", params, files)

    def _get_file(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        file_id = str(params.get("file_id") or "")
        stored = self.files.get(file_id) or self.files.get(file_id[:-1])
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }
