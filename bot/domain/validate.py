"""Small validators for text people type: names, titles, numbers, org codes, phone numbers.

Every parser takes its rules from here, so they hold the same way everywhere:
- numbers are ASCII digits; full-width ０-９, ： and ． are read as 0-9, : and .; any other digit
  (², ½, ٣, ३, ①, 𝟑, 三 ...) is refused, never silently converted (`int()`, `str.isdigit()`,
  `Decimal()`, regex `\\d` and NFKC all accept some of them);
- names and titles hold no invisible format characters (Unicode Cf: zero-width, bidi, BOM, soft
  hyphen ...) and no control characters (Cc, except a line feed where several lines are allowed);
- lengths count what the person typed (characters after NFC), never escaped HTML;
- input echoed in an answer is cut to a short `excerpt`, so no answer outgrows a message.
"""

from __future__ import annotations

import html
import re
import unicodedata

from bot.domain.errors import Refusal
from bot.texts import Term

CODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_.]{0,30}[a-z0-9])?$")
ROLE_WORDS = ("secretary", "staff", "member")
EXCERPT = 40  # characters of user input echoed in an answer
#: full-width forms people type with a Chinese IME, read as their ASCII twins
_WIDE = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "：": ":", "．": "."})
_TAG = re.compile(r"<[^>]*>")
_INT_RE = re.compile(r"[0-9]+", re.ASCII)
#: categories that never belong in a single-line name or title (line and paragraph separators
#: count as control characters there; lone surrogates cannot be sent on)
_CONTROL = frozenset({"Cc", "Zl", "Zp", "Cs"})


# --- showing input back -----------------------------------------------------------------------


def excerpt(text: str | None, limit: int = EXCERPT) -> str:
    """At most `limit` characters of `text` on one line, invisible ones shown as �, then "…"."""
    value = unicodedata.normalize("NFC", text or "")
    shown = "".join(
        " "
        if ch in "\n\t"
        else "\ufffd"
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")
        else ch
        for ch in value
    )
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[:limit] + "…"


def typed_len(text: str | None) -> int:
    """A length as the person typed it: characters after NFC (`<` is one, not `&lt;`)."""
    return len(unicodedata.normalize("NFC", text or ""))


def html_text_len(text_html: str | None) -> int:
    """`typed_len` of a message given as Telegram HTML: tags dropped, entities as one character."""
    return typed_len(html.unescape(_TAG.sub("", text_html or "")))


# --- numbers ----------------------------------------------------------------------------------


def is_foreign_digit(ch: str) -> bool:
    """True for a digit or number character that is not ASCII 0-9 (², ½, ٣, ३, ①, 𝟑, 三 ...)."""
    if "0" <= ch <= "9":
        return False
    return unicodedata.category(ch) in ("Nd", "Nl", "No") or ch.isnumeric()


def ascii_digits(text: str | None) -> str:
    """Full-width digits, colon and full stop as ASCII; refuse any other kind of digit."""
    value = (text or "").translate(_WIDE)
    bad = next((ch for ch in value if is_foreign_digit(ch)), None)
    if bad is not None:
        raise Refusal("err_foreign_digits", got=excerpt(text), char=bad, code=f"U+{ord(bad):04X}")
    return value


def narrow(text: str | None) -> str:
    """Full-width digits, colon and full stop as ASCII; nothing refused (one char stays one)."""
    return (text or "").translate(_WIDE)


def digit_shape(text: str | None) -> str:
    """`text` with every digit of any kind as "9" (full-width punctuation as ASCII), so an
    ASCII pattern tells whether something was meant as a number or a date."""
    value = (text or "").translate(_WIDE)
    return "".join("9" if "0" <= ch <= "9" or is_foreign_digit(ch) else ch for ch in value)


def ascii_int(text: str | None, *, key: str, max_digits: int = 12, **values: object) -> int:
    """A whole number in ASCII digits (after `ascii_digits`), else `Refusal(key, got=...)`."""
    value = ascii_digits(text).strip().lstrip("#")
    if not _INT_RE.fullmatch(value) or len(value) > max_digits:
        raise Refusal(key, got=excerpt(text, 20), **values)
    return int(value)


# --- free text ------------------------------------------------------------------------------

#: bidirectional overrides and isolates (they make a text read differently), noncharacters
ODD = frozenset(
    [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), "\ufffe", "\uffff"]
)


def odd_char(text: str) -> str | None:
    """The first character a free text may not carry: a control (but line feed and tab), a lone
    surrogate, a direction override or isolate, a noncharacter; None when there is none."""
    for ch in text:
        if ch in ODD or (unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t"):
            return ch
    return None


# --- names and titles -------------------------------------------------------------------------


def no_invisible(text: str, *, field: str, multiline: bool = False) -> str:
    """Refuse invisible format characters (Cf) and controls (Cc; line feed when multiline)."""
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf":
            raise Refusal(
                "err_invisible_chars", field=Term("field_" + field), code=f"U+{ord(ch):04X}"
            )
        if category in _CONTROL and not (multiline and ch == "\n"):
            raise Refusal(
                "err_control_chars", field=Term("field_" + field), code=f"U+{ord(ch):04X}"
            )
    return text


def clean_text(text: str | None, *, max_len: int, field: str, multiline: bool = False) -> str:
    """NFC and strip; refuse empty, over-long (as typed), invisible or control-character text.

    `field` names a catalogue entry `field_<field>` (name, org_name, kind, title, place ...).
    """
    value = unicodedata.normalize("NFC", text or "").strip()
    if not value:
        raise Refusal("err_empty", field=Term("field_" + field))
    if len(value) > max_len:
        raise Refusal("err_too_long", field=Term("field_" + field), max=max_len, got=len(value))
    return no_invisible(value, field=field, multiline=multiline)


# --- codes and phone numbers ------------------------------------------------------------------


def org_code(text: str | None) -> str:
    """An org code: lowercase letters, digits, '_' and '.', 1–32 characters."""
    code = ascii_digits(text).strip()
    code = code.lower() if code.isascii() else code  # no "K" (Kelvin sign) becoming "k"
    if not CODE_RE.match(code):
        raise Refusal("err_bad_code", code=excerpt(text))
    return code


def link_payload(code: str) -> str:
    """Deep-link payloads allow only A–Z a–z 0–9 _ -: '.' travels as '-'."""
    return code.replace(".", "-")


def code_from_payload(payload: str) -> str:
    return payload.replace("-", ".")


def phone(text: str | None) -> str:
    """Normalise a phone number to '+digits' (clients differ on the leading '+')."""
    digits = re.sub(r"[^0-9]", "", ascii_digits(text), flags=re.ASCII)
    if not 6 <= len(digits) <= 15:
        raise Refusal("err_bad_phone")
    return "+" + digits
