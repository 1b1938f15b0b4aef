"""What /announce is given: the text's rules, the trailing options (`| urgent`, `| pin`), the
time of a scheduled one (`at <when> | …`) and the id of one to correct (`edit <id> | …`)."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import NamedTuple

from bot.domain import validate
from bot.domain.errors import Refusal
from bot.domain.when import Choose, Reading, future_moment, local_ts

TEXT_MAX = 3500
CAPTION_MAX = 900
MAX_AHEAD = 180 * 86400.0  # a scheduled announcement goes within half a year
_OPTION = re.compile(r"\|\s*(urgent|紧急|pin|置顶)\s*$", re.IGNORECASE)
_PIN_WORDS = ("pin", "置顶")


def check_text(text: str | None, kind: str) -> str:
    """An announcement's text (safe HTML) as posted or corrected: not empty (for a text),
    not too long as typed, no control characters, lone surrogates or direction overrides."""
    text = (text or "").strip()
    if kind not in ("message", "photo", "document"):
        raise Refusal("err_ann_kind")
    if kind == "message" and not text:
        raise Refusal("usage_announce")
    odd = validate.odd_char(text)
    if odd is not None:
        raise Refusal("err_ann_odd_char", code=f"U+{ord(odd):04X}")
    limit = TEXT_MAX if kind == "message" else CAPTION_MAX
    typed = validate.html_text_len(text)  # what was typed: `<` is one, not `&lt;`
    if typed > limit:
        raise Refusal("err_ann_too_long", max=limit, got=typed)
    return text


class Options(NamedTuple):
    """The text without its trailing options, and the options."""

    rest: str
    urgent: bool = False
    pin: bool = False


def take_options(rest: str) -> Options:
    """`… | urgent | pin` (in any order, also 紧急 / 置顶) off the end of the text."""
    urgent = pin = False
    while (match := _OPTION.search(rest)) is not None:
        if match.group(1).lower() in _PIN_WORDS:
            pin = True
        else:
            urgent = True
        rest = rest[: match.start()].rstrip()
    return Options(rest.strip(), urgent, pin)


def split_head(rest: str, usage: str) -> tuple[str, str]:
    """`<head> | <text>` → (head, text); without a `|` the usage `usage` is the answer."""
    head, bar, text = rest.partition("|")
    if not bar or not head.strip():
        raise Refusal(usage)
    return head.strip(), text.strip()


def parse_send_at(text: str, tz: tzinfo, now: float, chosen: Reading | None = None) -> float:
    """When a scheduled announcement goes, as people write it (`明天 9:00`, `tomorrow 9am`) →
    UTC seconds; `Choose` when it reads several ways; past or too far ahead is refused."""
    value = " ".join(validate.narrow(text).split())
    try:
        ts = local_ts(future_moment(value, now, tz, chosen), tz, value)
    except Refusal as exc:
        if isinstance(exc, Choose) or exc.key in ("err_foreign_digits", "err_stale_button"):
            raise
        raise Refusal("err_ann_when", got=validate.excerpt(text, 30)) from None
    if ts <= now:
        raise Refusal("err_ann_when_past", got=validate.excerpt(text, 30))
    if ts - now > MAX_AHEAD:
        raise Refusal("err_ann_when_far", got=validate.excerpt(text, 30))
    return ts
