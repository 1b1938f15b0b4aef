"""The activities' callback data, built and parsed in this one place: `act:<id>:<verb>`.

Telegram allows 1–64 bytes; an id of at most 12 digits and the longest verb fit easily.
"""

from __future__ import annotations

import re
from typing import Literal, cast

#: Sign up, Cancel, Check in, Add to calendar, Join all (every open occurrence of a series)
Verb = Literal["join", "leave", "in", "cal", "all"]
PREFIX = "act:"
PATTERN = r"^act:"  # what the handler layer routes here; anything after is checked by `parse`
_DATA_RE = re.compile(r"act:([0-9]{1,12}):(join|leave|in|cal|all)")  # whole data, ASCII digits


def build(activity_id: int, verb: Verb) -> str:
    """The callback_data of one card button."""
    return f"{PREFIX}{activity_id}:{verb}"


def parse(data: str | None) -> tuple[int, Verb] | None:
    """(activity id, verb) of a button's callback_data, or None if it is not one of ours."""
    match = _DATA_RE.fullmatch(data or "")
    if match is None:
        return None
    return int(match.group(1)), cast(Verb, match.group(2))
