"""The activities' callback data, built and parsed in this one place: `act:<id>:<verb>`, and
`act:<id>:join:<post>` for a post's Sign up button on a card with posts.

Telegram allows 1–64 bytes; an id of at most 12 digits, the longest verb and a post number
of at most 2 digits fit easily.
"""

from __future__ import annotations

import re
from typing import Literal, cast

#: Sign up, Cancel, Check in, Add to calendar, Join all (every open occurrence of a series)
Verb = Literal["join", "leave", "in", "cal", "all"]
PREFIX = "act:"
PATTERN = r"^act:"  # what the handler layer routes here; anything after is checked by `parse`
_DATA_RE = re.compile(
    r"act:([0-9]{1,12}):(join|leave|in|cal|all)(?::([1-9][0-9]?))?"
)  # ASCII digits


def build(activity_id: int, verb: Verb, post_no: int | None = None) -> str:
    """The callback_data of one card button (`post_no`: a post's Sign up)."""
    return f"{PREFIX}{activity_id}:{verb}" + (f":{post_no}" if post_no is not None else "")


def parse(data: str | None) -> tuple[int, Verb, int | None] | None:
    """(activity id, verb, post number or None) of a button's callback_data, or None if it is
    not one of ours (a post number only on Sign up)."""
    match = _DATA_RE.fullmatch(data or "")
    if match is None or (match.group(3) is not None and match.group(2) != "join"):
        return None
    post = int(match.group(3)) if match.group(3) is not None else None
    return int(match.group(1)), cast(Verb, match.group(2)), post
