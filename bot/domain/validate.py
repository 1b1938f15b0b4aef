"""Small validators for text people type: names, org codes, phone numbers."""

from __future__ import annotations

import re
import unicodedata

from bot.domain.errors import Refusal

CODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_.]{0,30}[a-z0-9])?$")
ROLE_WORDS = ("secretary", "staff", "member")


def clean_text(text: str | None, *, max_len: int, field: str) -> str:
    """NFC-normalise and strip; refuse empty, over-long or control-character text."""
    value = unicodedata.normalize("NFC", text or "").strip()
    if not value:
        raise Refusal("err_empty", field=field)
    if len(value) > max_len:
        raise Refusal("err_too_long", field=field, max=max_len, got=len(value))
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise Refusal("err_control_chars", field=field)
    return value


def org_code(text: str | None) -> str:
    """An org code: lowercase letters, digits, '_' and '.', 1–32 characters."""
    code = (text or "").strip().lower()
    if not CODE_RE.match(code):
        raise Refusal("err_bad_code", code=(text or "")[:40])
    return code


def link_payload(code: str) -> str:
    """Deep-link payloads allow only A–Z a–z 0–9 _ -: '.' travels as '-'."""
    return code.replace(".", "-")


def code_from_payload(payload: str) -> str:
    return payload.replace("-", ".")


def phone(text: str | None) -> str:
    """Normalise a phone number to '+digits' (clients differ on the leading '+')."""
    digits = re.sub(r"\D", "", text or "")
    if not 6 <= len(digits) <= 15:
        raise Refusal("err_bad_phone")
    return "+" + digits
