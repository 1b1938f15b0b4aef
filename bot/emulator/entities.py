"""Text as Telegram sees it: HTML and Markdown parsing, UTF-16 offsets, entities it detects by
itself, and the checks a message's text and inline keyboard must pass."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .records import JSONDict, bad_request, snap


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what entity offsets count)."""
    return len(text.encode("utf-16-le")) // 2


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ParseError(Exception):
    """Entity parsing failed; the message follows ``can't parse entities: ``."""


def _decode_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _NAMED[name]
    code = int(hexadecimal, 16) if hexadecimal else int(decimal)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return match.group(0)
    return chr(code)


def parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram HTML into plain text and entities (UTF-16 offsets), like tdlib.

    A bare ``&`` that starts no known entity is kept literally (as Telegram does).
    """
    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    stack: list[tuple[str, int, JSONDict]] = []
    entities: list[JSONDict] = []
    i, n = 0, len(src)

    def byte_offset(index: int) -> int:
        return len(src[:index].encode("utf-8"))

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    while i < n:
        ch = src[i]
        if ch == "&":
            m = _HTML_ENTITY.match(src, i)
            if m:
                emit(_decode_entity(m))
                i = m.end()
                continue
        if ch != "<":
            stop = i + 1
            while stop < n and src[stop] not in "<&":
                stop += 1
            emit(src[i:stop])
            i = stop
            continue
        begin = i
        i += 1
        if i < n and src[i] == "/":
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            j = i + 1
            while j < n and not src[j].isspace() and src[j] != ">":
                j += 1
            name = src[i + 1 : j].lower()
            while j < n and src[j].isspace():
                j += 1
            if j >= n or src[j] != ">":
                raise ParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            tag, start, attrs = stack[-1]
            if name and name != tag:
                raise ParseError(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                    f'expected "</{tag}>", found "</{name}>"'
                )
            stack.pop()
            i = j + 1
            _close_html_tag(tag, attrs, start, pos, "".join(out), stack, entities)
            continue
        j = i
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise ParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        name = src[i:j].lower()
        if name not in _HTML_TAGS:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}')
        attrs, j = _html_attrs(src, j, name, byte_offset(begin))
        i = j + 1
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise ParseError(
                f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {byte_offset(begin)}'
            )
        stack.append((name, pos, attrs))
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sort_entities(entities)


def _html_attrs(src: str, j: int, tag: str, begin: int) -> tuple[JSONDict, int]:
    """Read attributes from ``src[j:]`` up to the closing ``>``; return them and its index."""
    attrs: JSONDict = {}
    n = len(src)
    while True:
        while j < n and src[j].isspace():
            j += 1
        if j >= n:
            raise ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if src[j] == ">":
            return attrs, j
        k = j
        while k < n and not src[k].isspace() and src[k] not in "=>":
            k += 1
        key = src[j:k].lower()
        if not key:
            raise ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while k < n and src[k].isspace():
            k += 1
        if k >= n or src[k] != "=":
            attrs[key] = ""
            j = k
            continue
        k += 1
        while k < n and src[k].isspace():
            k += 1
        if k < n and src[k] in "\"'":
            end = src.find(src[k], k + 1)
            if end < 0:
                raise ParseError(f"Unclosed start tag at byte offset {begin}")
            attrs[key] = _HTML_ENTITY.sub(_decode_entity, src[k + 1 : end])
            j = end + 1
        else:
            end = k
            while end < n and not src[end].isspace() and src[end] != ">":
                end += 1
            attrs[key] = src[k:end]
            j = end


def _close_html_tag(
    tag: str,
    attrs: JSONDict,
    start: int,
    pos: int,
    text: str,
    stack: list[tuple[str, int, JSONDict]],
    entities: list[JSONDict],
) -> None:
    kind = _HTML_TAGS[tag]
    if tag == "code" and stack and stack[-1][0] == "pre":
        lang = attrs.get("class", "")
        if lang.startswith("language-"):
            stack[-1][2]["_language"] = lang[len("language-") :]
            return
    length = pos - start
    if length <= 0:
        return
    ent: JSONDict = {"offset": start, "length": length, "type": kind}
    if tag == "a":
        url = attrs.get("href") or _utf16_slice(text, start, length)
        ent["url"] = url
    elif tag == "pre" and attrs.get("_language"):
        ent["language"] = attrs["_language"]
    elif tag == "blockquote" and "expandable" in attrs:
        ent["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        ent["custom_emoji_id"] = attrs["emoji-id"]
    entities.append(ent)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    raw = text.encode("utf-16-le")
    return raw[offset * 2 : (offset + length) * 2].decode("utf-16-le", "replace")


_MD_NAMES = {
    "*": "Bold",
    "_": "Italic",
    "__": "Underline",
    "~": "Strikethrough",
    "||": "Spoiler",
    "`": "Code",
    "```": "Pre",
    "[": "TextUrl",
}
_MD_TYPES = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "`": "code",
    "```": "pre",
    "[": "text_link",
}
_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def parse_markdown(src: str, v2: bool = True) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 (``v2=True``) or legacy Markdown into plain text and entities."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[str, int, int, JSONDict]] = []  # marker, utf16 start, byte offset, extra
    entities: list[JSONDict] = []
    i, n = 0, len(src)
    markers = ("```", "||", "__", "*", "_", "~", "`") if v2 else ("```", "*", "_", "`")

    def emit(chunk: str) -> None:
        nonlocal pos
        out.append(chunk)
        pos += utf16_len(chunk)

    def close(marker: str) -> None:
        _, start, _, extra = stack.pop()
        if pos > start:
            ent: JSONDict = {"offset": start, "length": pos - start, "type": _MD_TYPES[marker]}
            ent.update(extra)
            entities.append(ent)

    while i < n:
        ch = src[i]
        top = stack[-1][0] if stack else None
        if ch == "\\" and i + 1 < n and (v2 or src[i + 1] in "_*`["):
            if v2 and ord(src[i + 1]) > 126:
                raise ParseError(
                    "Character '\\' is reserved and must be escaped with the preceding '\\'"
                )
            emit(src[i + 1])
            i += 2
            continue
        if top in ("`", "```"):
            if src.startswith(top, i):
                close(top)
                i += len(top)
            else:
                emit(ch)
                i += 1
            continue
        marker = next((m for m in markers if src.startswith(m, i)), None)
        if marker == "```":
            extra: JSONDict = {}
            nl = src.find("\n", i + 3)
            lang = src[i + 3 : nl] if nl >= 0 else ""
            if nl >= 0 and lang and not any(c.isspace() for c in lang):
                extra["language"] = lang
                i = nl + 1
            else:
                i += 3
            stack.append(("```", pos, len(src[:i].encode()), extra))
            continue
        if marker is not None:
            if top == marker:
                close(marker)
            else:
                stack.append((marker, pos, len(src[:i].encode()), {}))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", pos, len(src[:i].encode()), {}))
            i += 1
            continue
        if ch == "]" and top == "[":
            if i + 1 >= n or src[i + 1] != "(":
                if v2:
                    raise ParseError(
                        "Character ']' is reserved and must be escaped with the preceding '\\'"
                    )
                stack.pop()
                i += 1
                continue
            j = i + 2
            url_chars: list[str] = []
            while j < n and src[j] != ")":
                if src[j] == "\\" and j + 1 < n:
                    j += 1
                url_chars.append(src[j])
                j += 1
            if j >= n:
                raise ParseError(f"Can't find end of a URL at byte offset {len(src[:i].encode())}")
            stack[-1][3]["url"] = "".join(url_chars)
            close("[")
            i = j + 1
            continue
        if v2 and ch in _MDV2_RESERVED:
            raise ParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(ch)
        i += 1
    if stack:
        marker, _, offset, _ = stack[-1]
        if v2:
            raise ParseError(
                f"Can't find end of {_MD_NAMES[marker]} entity at byte offset {offset}"
            )
        raise ParseError(f"Can't find end of the entity starting at byte offset {offset}")
    return "".join(out), sort_entities(entities)


def sort_entities(entities: list[JSONDict]) -> list[JSONDict]:
    """Entities in Telegram's order: by offset, longer first."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


_AUTO_PATTERNS = (
    ("bot_command", re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?!\w)")),
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)\]}'，。）]")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}(?!\w)")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)
_NO_AUTO_INSIDE = frozenset({"code", "pre", "text_link", "text_mention", "custom_emoji", "url"})


def auto_entities(text: str, existing: Iterable[JSONDict] = ()) -> list[JSONDict]:
    """Entities Telegram detects by itself: bot commands, URLs, @mentions and hashtags."""
    blocked = [
        (e["offset"], e["offset"] + e["length"]) for e in existing if e["type"] in _NO_AUTO_INSIDE
    ]
    found: list[JSONDict] = []
    for kind, pattern in _AUTO_PATTERNS:
        for m in pattern.finditer(text):
            off = utf16_len(text[: m.start()])
            length = utf16_len(m.group(0))
            end = off + length
            if any(a < end and off < b for a, b in blocked):
                continue
            found.append({"offset": off, "length": length, "type": kind})
            blocked.append((off, end))
    return found


def strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, moving entities accordingly."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result = []
    for ent in entities:
        start = max(0, ent["offset"] - lead)
        end = min(total, ent["offset"] + ent["length"] - lead)
        if end > start:
            result.append({**ent, "offset": start, "length": end - start})
    return stripped, result


def format_text(
    text: str, parse_mode: str | None, entities: Any, *, caption: bool = False
) -> tuple[str, list[JSONDict]]:
    """The visible text and entities of a message text (or ``caption``), checked like Telegram."""
    what = "caption" if caption else "message text"
    mode = (parse_mode or "").lower()
    if entities:
        if not isinstance(entities, list):
            raise bad_request("can't parse entities JSON object")
        plain, ents = text, [dict(e) for e in entities]
    else:
        try:
            if mode == "html":
                plain, ents = parse_html(text)
            elif mode == "markdownv2":
                plain, ents = parse_markdown(text, v2=True)
            elif mode == "markdown":
                plain, ents = parse_markdown(text, v2=False)
            elif mode:
                raise bad_request(f"unsupported parse_mode {parse_mode!r}")
            else:
                plain, ents = text, []
        except ParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
    plain, ents = strip_text(plain, ents)
    if not plain and not caption:
        raise bad_request(f"{what} is empty")
    limit = 1024 if caption else 4096
    if len(plain) > limit:
        raise bad_request("message caption is too long" if caption else "message is too long")
    return plain, sort_entities(ents + auto_entities(plain, ents))


def check_markup(
    markup: Any, chat_type: str = "private"
) -> tuple[JSONDict | None, JSONDict | None]:
    """Validate ``reply_markup``; return (inline markup shown on the message, raw markup).

    A ``web_app`` button (a Mini App) is allowed in private chats only, as Telegram does."""
    if markup is None or markup == "":
        return None, None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None, markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if "callback_data" in button:
                size = len(str(button["callback_data"]).encode("utf-8"))
                if not 1 <= size <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif "url" in button:
                if not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")
            elif "web_app" in button:
                if chat_type != "private":
                    raise bad_request("BUTTON_TYPE_INVALID")
                app = button["web_app"]
                if not isinstance(app, dict) or not re.match(
                    r"^https://\S+$", str(app.get("url", ""))
                ):
                    raise bad_request("BUTTON_URL_INVALID")
            elif len(button) == 1:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard"
                )
    return snap(markup), markup
